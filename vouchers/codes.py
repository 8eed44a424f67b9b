"""Voucher codes: 60 random bits in Crockford base-32 plus a Luhn mod 32 check character.

    CV-7K3M-9QXD-2HBA-F

Unguessable (secrets.token_bytes), easy to read aloud (no I, L, O, U), and a mistyped
character or two swapped neighbours are caught by the check character before any lookup.
(Like every Luhn mod N code it misses one swap: neighbours "0" and "Z", values 0 and 31.)
Typing is forgiving: lower case, spaces and dashes are ignored; O reads as 0, I and L as 1.
"""

import secrets

from django.utils.translation import gettext as _

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
ALIASES = {"O": "0", "I": "1", "L": "1"}
BODY_LENGTH = 12
PREFIX = "CV"


class VoucherCodeError(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _luhn_check(body: str) -> str:
    """Luhn mod N (N = 32): the character that makes the weighted sum a multiple of 32."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * VALUE[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def _is_valid(body_and_check: str) -> bool:
    return _luhn_check(body_and_check[:-1]) == body_and_check[-1]


def generate() -> str:
    body = "".join(ALPHABET[secrets.randbelow(32)] for _ in range(BODY_LENGTH))
    return format_code(body + _luhn_check(body))


def format_code(raw: str) -> str:
    """'7K3M9QXD2HBAF' -> 'CV-7K3M-9QXD-2HBA-F'."""
    groups = [raw[i : i + 4] for i in range(0, BODY_LENGTH, 4)]
    return "-".join([PREFIX, *groups, raw[BODY_LENGTH:]])


def normalize(text: str) -> str:
    """Validate a typed code and return its canonical form, or raise VoucherCodeError."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -_\t")
    # Only strip the prefix when it is one: a bare body may itself begin with "CV".
    if cleaned.startswith(PREFIX) and len(cleaned) == len(PREFIX) + BODY_LENGTH + 1:
        cleaned = cleaned[len(PREFIX) :]
    cleaned = "".join(ALIASES.get(ch, ch) for ch in cleaned)
    if len(cleaned) != BODY_LENGTH + 1:
        raise VoucherCodeError(
            _("A voucher code has %(n)d characters after CV-; this one has %(got)d.")
            % {"n": BODY_LENGTH + 1, "got": len(cleaned)},
            "voucher_code_length",
        )
    bad = sorted({ch for ch in cleaned if ch not in VALUE})
    if bad:
        raise VoucherCodeError(
            _(
                "A voucher code contains only digits and the letters A–Z without U "
                "(found: %(chars)s)."
            )
            % {"chars": " ".join(bad)},
            "voucher_code_characters",
        )
    if not _is_valid(cleaned):
        raise VoucherCodeError(
            _(
                "This voucher code is mistyped: its check character does not match. "
                "Compare it with the award letter."
            ),
            "voucher_code_check_character",
        )
    return format_code(cleaned)
