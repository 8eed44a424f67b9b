import pytest
from hypothesis import given
from hypothesis import strategies as st

from applicants import uscc

# Published codes of real companies (printed on their licences and annual reports).
REAL_CODES = [
    "91350100M000100Y43",
    "91110000802100433B",
    "91440300708461136T",
    "9144030071526726XG",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_validate(code):
    assert uscc.validate(code) == code
    assert uscc.validate(code.lower()) == code
    assert uscc.validate(f" {code[:6]} {code[6:]} ") == code


def test_alphabet_has_31_symbols_without_ioszv():
    assert len(uscc.ALPHABET) == 31
    assert not set("IOSVZ") & set(uscc.ALPHABET)
    assert uscc.WEIGHTS[:5] == [1, 3, 9, 27, 19]


@given(
    st.text(alphabet=uscc.ALPHABET, min_size=17, max_size=17).map(
        lambda s: "91" + "310000" + s[8:]
    ),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(list(uscc.ALPHABET)),
)
def test_any_single_character_substitution_is_detected(first17, position, replacement):
    code = first17 + uscc.check_character(first17)
    assert uscc.validate(code) == code
    mutated = code[:position] + replacement + code[position + 1 :]
    if mutated == code or (position in range(2, 8) and not replacement.isdigit()):
        return  # same code, or rejected for the division-code rule instead
    with pytest.raises(uscc.UsccError) as exc:
        uscc.validate(mutated)
    assert exc.value.code == "uscc_check_character"
