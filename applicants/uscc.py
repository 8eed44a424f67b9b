"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-symbol alphabet (digits and capital letters without I, O, S, V, Z):
registration authority (1), organization type (1), administrative division (6 digits),
organization code (9), check character (1). The check character makes the weighted sum of all
18 symbols, with weights 3**i mod 31, divisible by 31.
"""

from django.utils.translation import gettext as _

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, ...
FORBIDDEN = set("IOSVZ")
LENGTH = 18


class UsccError(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def normalize(raw: str) -> str:
    """Upper-case and drop spaces and dashes people type to group the characters."""
    return "".join(raw.split()).replace("-", "").upper()


def check_character(first17: str) -> str:
    total = sum(VALUES[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(raw: str) -> str:
    """Return the normalised code or raise UsccError with a message that says what to fix."""
    code = normalize(raw)
    if len(code) != LENGTH:
        raise UsccError(
            _("A unified social credit code has 18 characters; this one has %(n)d.")
            % {"n": len(code)},
            "uscc_length",
        )
    forbidden = sorted({ch for ch in code if ch in FORBIDDEN})
    if forbidden:
        raise UsccError(
            _(
                "The letters I, O, S, V and Z never appear in a unified social credit code "
                "(found: %(letters)s). Check for the digits 1, 0, 5, 2 instead."
            )
            % {"letters": ", ".join(forbidden)},
            "uscc_forbidden_letter",
        )
    invalid = sorted({ch for ch in code if ch not in VALUES})
    if invalid:
        raise UsccError(
            _("Only digits and capital letters can appear in the code (found: %(chars)s).")
            % {"chars": " ".join(invalid)},
            "uscc_invalid_character",
        )
    if not code[2:8].isdigit():
        raise UsccError(
            _("Characters 3 to 8 are the administrative division code and must be digits."),
            "uscc_division",
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise UsccError(
            _(
                "The last character (the check character) does not match the rest of the code. "
                "Compare it with the business licence: one character is probably mistyped."
            ),
            "uscc_check_character",
        )
    return code
