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
