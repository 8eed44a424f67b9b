"""Amounts in words, as award letters and receipts print them next to the figures.

English: "one hundred eighty thousand US dollars and fifty cents".
Chinese financial numerals (大写): "人民币壹拾捌万元伍角整" style, the form banks and
government documents use because it cannot be altered by adding a stroke.
"""

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [
    (10**18, "quintillion"),
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (10**3, "thousand"),
]

CURRENCY_EN = {
    "CNY": ("yuan", "fen"),
    "USD": ("US dollars", "cents"),
    "EUR": ("euros", "cents"),
    "HKD": ("Hong Kong dollars", "cents"),
}
CURRENCY_ZH = {"CNY": "人民币", "USD": "美元", "EUR": "欧元", "HKD": "港币"}

ZH_DIGITS = "零壹贰叁肆伍陆柒捌玖"
ZH_UNITS = ["", "拾", "佰", "仟"]
ZH_SECTIONS = ["", "万", "亿", "万亿"]


def _below_thousand(n: int) -> str:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(f"{ONES[hundreds]} hundred")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(TENS[tens] + (f"-{ONES[ones]}" if ones else ""))
    elif rest:
        words.append(ONES[rest])
    return " ".join(words)


def integer_to_english(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    if n == 0:
        return "zero"
    words = []
    for value, name in SCALES:
        if n >= value:
            count, n = divmod(n, value)
            words.append(f"{integer_to_english(count)} {name}")
    if n:
        words.append(_below_thousand(n))
    return " ".join(words)


def cents_to_english(cents: int, currency: str) -> str:
    major, minor = CURRENCY_EN.get(currency, (currency, "hundredths"))
    whole, frac = divmod(cents, 100)
    text = f"{integer_to_english(whole)} {major}"
    if frac:
        text += f" and {integer_to_english(frac)} {minor}"
    return text[0].upper() + text[1:]


def _zh_section(n: int) -> str:
    """0..9999 in financial numerals, with 零 for gaps (e.g. 1005 -> 壹仟零伍)."""
    out = ""
    zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ZH_DIGITS[digit] + ZH_UNITS[position]
    return out


def integer_to_chinese(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    if n == 0:
        return "零"
    sections = []
    while n:
        n, section = divmod(n, 10_000)
        sections.append(section)
    if len(sections) > len(ZH_SECTIONS):
        raise ValueError("too large for Chinese numerals here")
    out = ""
    need_zero = False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or section < 1000):
            out += "零"
        out += _zh_section(section) + ZH_SECTIONS[index]
        need_zero = False
    return out


def cents_to_chinese(cents: int, currency: str) -> str:
    whole, frac = divmod(cents, 100)
    jiao, fen = divmod(frac, 10)
    text = CURRENCY_ZH.get(currency, currency) + integer_to_chinese(whole) + "元"
    if not frac:
        return text + "整"
    if jiao:
        text += ZH_DIGITS[jiao] + "角"
    elif whole:
        text += "零"
    if fen:
        text += ZH_DIGITS[fen] + "分"
    else:
        text += "整"
    return text
