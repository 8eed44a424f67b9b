"""Small server-side SVG charts: no JavaScript, readable in a page, a PDF or a screen reader."""

from datetime import datetime
from html import escape

from core.money import format_money

# Presentation attributes rather than a <style> element: the pages' Content-Security-Policy
# allows no inline <style>, and WeasyPrint draws attributes the same way.
LOOK = {
    "tick": 'stroke="#d8dde6" stroke-width="1"',
    "cap": 'stroke="#c8102e" stroke-dasharray="6 4" stroke-width="1.5"',
    "spent": 'fill="none" stroke="#0b4f8a" stroke-width="2.5"',
    "label": 'font-family="sans-serif" font-size="11" fill="#5b6475"',
    "axis": 'stroke="#6b7385" stroke-width="1"',
}


def _line(x1: float, x2: float, y1: float, y2: float, css: str) -> str:
    return (
        f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="{css}" {LOOK[css]}/>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    position = f'x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"'
    return f'<text {position} class="label" {LOOK["label"]}>{escape(text)}</text>'


def cumulative_spending_svg(
    *,
    points: list[tuple[datetime, int]],
    cap_cents: int,
    currency: str,
    start: datetime,
    end: datetime,
    title: str,
    width: int = 640,
    height: int = 220,
) -> str:
    """Spending against the cap over the voucher's validity: a step line of the cumulative spent,
    the cap as a dashed line, and the 50/80/95 % thresholds as faint ticks."""
    left, right, top, bottom = 70, 12, 14, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).total_seconds(), 1.0)
    ceiling = max(cap_cents, max((spent for _at, spent in points), default=0), 1)

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(cents: int) -> float:
        return top + plot_h * (1 - cents / ceiling)

    path = [f"M{x(start):.1f},{y(0):.1f}"]
    last = 0
    for at, spent in points:
        path.append(f"H{x(at):.1f}V{y(spent):.1f}")
        last = spent
    path.append(f"H{x(min(datetime.now(tz=start.tzinfo), end)):.1f}")
    parts = []
    for pct in (50, 80, 95):
        level = y(cap_cents * pct // 100)
        parts += [
            _line(left, left + plot_w, level, level, "tick"),
            _text(left - 6, level + 4, f"{pct}%", "end"),
        ]
    cap_label = format_money(cap_cents, currency)
    spent_label = format_money(last, currency)
    parts += [
        _line(left, left + plot_w, y(cap_cents), y(cap_cents), "cap"),
        # Above the cap line at its right end: the left margin holds the percentages, and an
        # amount like "CNY 160,000.00" would run into the 95 % label there.
        _text(left + plot_w, y(cap_cents) - 4, cap_label, "end"),
        _line(left, left, top, top + plot_h, "axis"),
        _line(left, left + plot_w, top + plot_h, top + plot_h, "axis"),
        f'<path d="{"".join(path)}" class="spent" {LOOK["spent"]}/>',
        _text(left, height - 8, f"{start:%Y-%m-%d}"),
        _text(left + plot_w, height - 8, f"{end:%Y-%m-%d}", "end"),
    ]
    label = escape(f"{title}: {spent_label} / {cap_label}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="chart" aria-label="{label}"><title>{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )
