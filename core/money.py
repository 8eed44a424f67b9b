"""Money at the edges: text <-> integer cents. Inside the system money is only ever cents.

Input is parsed from its exact text: no floats, no scientific notation, no sub-cent precision
(rejected, never rounded), nothing that does not fit a signed 64-bit integer of cents.
"""

import re
from decimal import Decimal

from django.utils.translation import gettext as _

MAX_CENTS = 2**63 - 1
CENTS_PER_UNIT = 100

_PLAIN = re.compile(r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
_GROUPED = re.compile(r"^(?P<int>[0-9]{1,3}(?:,[0-9]{3})+)(?:\.(?P<frac>[0-9]+))?$")


class MoneyError(ValueError):
    """An amount that cannot be accepted; `code` says why, the message says what to do."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def parse_cents(value: object, *, allow_zero: bool = False) -> int:
    """Parse an amount in currency units ("150000", "150,000.50", 150000) into cents.

    Raises MoneyError with one of the codes: required, invalid, scientific_notation, negative,
    zero, sub_cent, too_large. Python ints are accepted as whole units; floats never are,
    because their text has already been lost.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(_("Enter an amount."), "required")
    if isinstance(value, float):
        raise MoneyError(
            _('Send the amount as a string, for example "150000.00", not as a number.'), "invalid"
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal | str):
        text = str(value).strip()
    else:
        raise MoneyError(_("Enter the amount as a number, for example 150000.00."), "invalid")
    if not text:
        raise MoneyError(_("Enter an amount."), "required")
    if text[0] in "+-":
        if text[0] == "-" and _PLAIN.match(text[1:].replace(",", "")):
            raise MoneyError(_("The amount cannot be negative."), "negative")
        text = text[1:]
    if "e" in text.lower() and re.fullmatch(r"[0-9.,]+[eE][+-]?[0-9]+", text):
        raise MoneyError(
            _("Write the amount out in full (for example 150000.00), not in scientific notation."),
            "scientific_notation",
        )
    match = _PLAIN.match(text) or _GROUPED.match(text)
    if not match:
        raise MoneyError(_("Enter the amount using digits only, for example 150000.00."), "invalid")
    whole = match.group("int").replace(",", "")
    frac = match.group("frac") or ""
    if len(frac) > 2:
        if frac[2:].strip("0"):
            raise MoneyError(
                _("Amounts cannot have fractions of a cent; use at most two decimal places."),
                "sub_cent",
            )
        frac = frac[:2]
    if len(whole) > 19:  # cheap guard before building a huge int
        raise MoneyError(_("The amount is too large."), "too_large")
    cents = int(whole) * CENTS_PER_UNIT + int(frac.ljust(2, "0"))
    if cents > MAX_CENTS:
        raise MoneyError(_("The amount is too large."), "too_large")
    if cents == 0 and not allow_zero:
        raise MoneyError(_("The amount must be greater than zero."), "zero")
    return cents


def cents_to_decimal(cents: int) -> Decimal:
    """Cents as an exact Decimal with two places, for display, the API and PDFs."""
    return (Decimal(cents) / CENTS_PER_UNIT).quantize(Decimal("0.01"))


def cents_to_str(cents: int) -> str:
    """Cents as the API's decimal string: 15000000 -> "150000.00"."""
    return f"{cents_to_decimal(cents):.2f}"


def format_money(cents: int, currency: str = "") -> str:
    """Cents for people: 15000050, "CNY" -> "CNY 150,000.50"."""
    sign = "-" if cents < 0 else ""
    text = f"{sign}{cents_to_decimal(abs(cents)):,.2f}"
    return f"{currency} {text}".strip()
