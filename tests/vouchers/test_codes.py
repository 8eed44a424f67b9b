import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import api_as
from vouchers import codes

pytestmark = pytest.mark.django_db


def test_generated_codes_have_the_format_and_validate():
    seen = {codes.generate() for _ in range(500)}
    assert len(seen) == 500
    for code in seen:
        assert len(code) == len("CV-XXXX-XXXX-XXXX-X")
        assert codes.normalize(code) == code


def test_typing_is_forgiving():
    code = codes.generate()
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert codes.normalize(sloppy) == code
    assert codes.normalize(code.removeprefix("CV-")) == code


@given(st.data())
def test_every_single_substitution_and_adjacent_swap_is_caught(data):
    raw = "".join(data.draw(st.lists(st.sampled_from(codes.ALPHABET), min_size=12, max_size=12)))
    code = codes.format_code(raw + codes._luhn_check(raw))
    body = code.removeprefix("CV-").replace("-", "")
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    other = data.draw(st.sampled_from([c for c in codes.ALPHABET if c != body[position]]))
    mutated = body[:position] + other + body[position + 1 :]
    with pytest.raises(codes.VoucherCodeError) as exc:
        codes.normalize(mutated)
    assert exc.value.code == "voucher_code_check_character"
    i = data.draw(st.integers(min_value=0, max_value=len(body) - 2))
    if body[i] != body[i + 1] and {body[i], body[i + 1]} != {"0", "Z"}:
        swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
        with pytest.raises(codes.VoucherCodeError):
            codes.normalize(swapped)


def test_the_one_swap_luhn_mod_n_misses_is_zero_and_z():
    raw = "0Z" + "1" * (codes.BODY_LENGTH - 2)
    code = codes.format_code(raw + codes._luhn_check(raw))
    swapped = "Z0" + raw[2:] + code[-1]
    assert codes.normalize(swapped) != code


def test_a_bare_body_that_starts_with_cv_keeps_its_first_characters():
    raw = "CV" + "0" * (codes.BODY_LENGTH - 2)
    code = codes.format_code(raw + codes._luhn_check(raw))
    assert codes.normalize(code.removeprefix("CV-").replace("-", "")) == code
    assert codes.normalize(code) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CV-1234", "voucher_code_length"),
        ("CV-UUUU-UUUU-UUUU-U", "voucher_code_characters"),
        ("", "voucher_code_length"),
    ],
)
def test_malformed_codes(text, code):
    with pytest.raises(codes.VoucherCodeError) as exc:
        codes.normalize(text)
    assert exc.value.code == code


def test_lookup_refuses_a_mistyped_code_before_any_lookup(
    approved, approver, django_assert_max_num_queries
):
    voucher = approved.voucher
    client = api_as(approver)
    good = client.get("/api/v1/vouchers/lookup/", {"code": voucher.code.lower()})
    assert good.status_code == 200 and good.json()["id"] == voucher.pk
    body = voucher.code.removeprefix("CV-").replace("-", "")
    wrong = body[:-1] + next(c for c in codes.ALPHABET if c != body[-1])
    with django_assert_max_num_queries(0):
        response = client.get("/api/v1/vouchers/lookup/", {"code": wrong})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "voucher_code_check_character"
    unknown = codes.generate()
    assert client.get("/api/v1/vouchers/lookup/", {"code": unknown}).status_code == 404
