import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.api.parsers import JsonNumber
from core.money import (
    MAX_CENTS,
    MoneyError,
    cents_to_decimal,
    cents_to_str,
    format_money,
    parse_cents,
)


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("150000", 150_000_00),
        ("150000.5", 150_000_50),
        ("150000.50", 150_000_50),
        ("150,000.05", 150_000_05),
        ("1,234,567", 1_234_567_00),
        (" 0.01 ", 1),
        ("+12", 12_00),
        ("12.500", 12_50),  # trailing zeros beyond cents are not sub-cent precision
        (150000, 150_000_00),
        (Decimal("1.25"), 125),
        ("92233720368547758.07", MAX_CENTS),
    ],
)
def test_parse_cents_accepts(text, cents):
    assert parse_cents(text) == cents


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        (None, "required"),
        (True, "required"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("abc", "invalid"),
        ("12abc", "invalid"),
        ("1.2.3", "invalid"),
        ("1,23", "invalid"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
        ("１２３", "invalid"),  # full-width digits
        ("1e5", "scientific_notation"),
        ("1.5E+5", "scientific_notation"),
        ("2e-2", "scientific_notation"),
        ("0.001", "sub_cent"),
        ("150000.555", "sub_cent"),
        ("92233720368547758.08", "too_large"),
        ("99999999999999999999999", "too_large"),
        ("9" * 400, "too_large"),
        (150000.0, "invalid"),  # floats have already lost their text
        ([1], "invalid"),
    ],
)
def test_parse_cents_rejects_with_code(value, code):
    with pytest.raises(MoneyError) as exc:
        parse_cents(value)
    assert exc.value.code == code
    assert exc.value.message


def test_parse_cents_zero_when_allowed():
    assert parse_cents("0", allow_zero=True) == 0


def test_json_number_literal_is_judged_by_its_text():
    assert parse_cents(str(JsonNumber("150000.50"))) == 150_000_50
    with pytest.raises(MoneyError):
        parse_cents(str(JsonNumber("1.5e5")))


@given(st.integers(min_value=1, max_value=MAX_CENTS))
def test_round_trip_through_text(cents):
    assert parse_cents(cents_to_str(cents)) == cents
    assert parse_cents(f"{cents_to_decimal(cents):,.2f}") == cents


def test_format_money():
    assert format_money(15_000_050, "CNY") == "CNY 150,000.50"
    assert format_money(-5, "USD") == "USD -0.05"
    assert format_money(0) == "0.00"


# Plan M8: whatever text arrives, it is either the plain amount it looks like or refused.
CANONICAL = re.compile(r"\s*\+?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?\s*")
amount_like = st.from_regex(r"\A[ +\-]?[0-9０-９٣_,.eE]{1,24}[ ]?\Z") | st.text(max_size=40)


@settings(max_examples=5000, deadline=None, derandomize=True)
@given(amount_like)
def test_any_text_is_the_amount_it_plainly_says_or_refused(text):
    try:
        cents = parse_cents(text)
    except MoneyError as error:
        assert error.code and error.message
        return
    assert CANONICAL.fullmatch(text), text  # no Unicode digits, '_', exponent, sign games
    value = Decimal(text.strip().lstrip("+").replace(",", "")) * 100
    assert value == int(value) == cents and 0 < cents <= MAX_CENTS
