from django import template

from core.money import format_money

register = template.Library()


@register.filter(name="money")
def money(cents: int | None, currency: str = "") -> str:
    """{{ amount_cents|money:currency }} -> "CNY 150,000.00"."""
    if cents is None or cents == "":
        return "—"
    return format_money(int(cents), currency or "")


@register.filter(name="bps_percent")
def bps_percent(bps: int | None) -> str:
    """Basis points as a percentage: 3000 -> "30%", 1250 -> "12.5%"."""
    if bps is None:
        return "—"
    whole, rest = divmod(int(bps), 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


@register.filter(name="money_text")
def money_text(amount: str | None, currency: str = "") -> str:
    """A frozen decimal string ("1200000.00", as in submitted snapshots) for people."""
    from core.money import MoneyError, parse_cents

    if amount in (None, ""):
        return "—"
    try:
        return format_money(parse_cents(str(amount), allow_zero=True), currency or "")
    except MoneyError:
        return f"{currency} {amount}".strip()


@register.filter(name="region_label")
def region_label(code: str | None) -> str:
    from core.regions import region_label as label

    return label(code) if code else "—"


@register.filter(name="chip_label")
def chip_label(value: str | None) -> str:
    from applicants.models import Application

    if not value:
        return "—"
    return str(dict(Application.ChipPlan.choices).get(value, value))


@register.filter(name="document_kind_label")
def document_kind_label(kind: str | None) -> str:
    from applicants.models import Document

    if not kind:
        return "—"
    return str(dict(Document.Kind.choices).get(kind, kind))


@register.filter(name="get_item")
def get_item(mapping: dict | None, key: str) -> object:
    """{{ review.scores|get_item:criterion.code }}"""
    return (mapping or {}).get(key, "—")


@register.filter(name="letter_date")
def letter_date(iso: str | None, language: str = "en") -> str:
    """An ISO date as a letter prints it: "2026年11月26日" in Chinese, "26 November 2026" else."""
    from datetime import date

    from django.utils import translation
    from django.utils.formats import date_format

    if not iso:
        return ""
    day = date.fromisoformat(str(iso))
    if (language or "").startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    with translation.override("en"):
        return date_format(day, "j F Y")
