"""SVG charts for reports, in the manner of core/charts.py: no JavaScript, drawn the same in a
page and a PDF, with a title and a label a screen reader can read. Presentation attributes
rather than a <style> block, so every renderer colours them the same."""

from html import escape

from core.money import format_money

PALETTE = ["#0b4f8a", "#2f8f5b", "#c77c0e", "#7a4fa3", "#b0121b", "#5b6475", "#1d8a99"]
FONT = 'font-family="DejaVu Sans, Noto Sans CJK SC, sans-serif" font-size="11" fill="#333"'


def _svg(width: int, height: int, title: str, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="chart" '
        f'aria-label="{escape(label)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-weight="{weight}" '
        f"{FONT}>{escape(text)}</text>"
    )


def bar_chart_svg(
    *, items: list[tuple[str, int, str]], title: str, width: int = 640, bar: int = 16
) -> str:
    """Horizontal bars, one per (label, value, value text), scaled to the largest value.
    Negative values (net reversals) are drawn as empty bars; their text still says the value."""
    left, right, top, gap = 190, 120, 8, 6
    height = top * 2 + max(1, len(items)) * (bar + gap)
    largest = max((value for _l, value, _t in items), default=0) or 1
    plot = width - left - right
    parts = []
    for index, (label, value, text) in enumerate(items):
        y = top + index * (bar + gap)
        length = plot * max(value, 0) / largest
        colour = PALETTE[index % len(PALETTE)]
        short = label if len(label) <= 30 else label[:29] + "…"
        parts += [
            _text(left - 8, y + bar - 4, short, "end"),
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{colour}"/>',
            _text(left + length + 6, y + bar - 4, text),
        ]
    if not items:
        parts.append(_text(left, top + bar - 4, "—"))
    summary = "; ".join(f"{label}: {text}" for label, _v, text in items)
    return _svg(width, height, title, f"{title}. {summary}", "".join(parts))


def budget_use_svg(
    *,
    budget_cents: int,
    committed_cents: int,
    spent_cents: int,
    currency: str,
    title: str,
    labels: tuple[str, str, str],
    width: int = 640,
) -> str:
    """One bar as long as the budget: spent, committed but unspent, and uncommitted, in turn."""
    left, right, top, height_bar = 10, 10, 8, 26
    plot = width - left - right
    total = max(budget_cents, committed_cents, 1)
    spent = max(0, min(spent_cents, committed_cents))
    segments = [
        (labels[0], spent, PALETTE[0]),
        (labels[1], max(0, committed_cents - spent), PALETTE[2]),
        (labels[2], max(0, budget_cents - committed_cents), "#d8dde6"),
    ]
    parts, x = [], float(left)
    for _label, cents, colour in segments:
        length = plot * cents / total
        parts.append(
            f'<rect x="{x:.1f}" y="{top}" width="{length:.1f}" height="{height_bar}" '
            f'fill="{colour}"/>'
        )
        x += length
    legend_y = top + height_bar + 18
    for index, (label, cents, colour) in enumerate(segments):
        ly = legend_y + index * 16
        parts += [
            f'<rect x="{left}" y="{ly - 10}" width="10" height="10" fill="{colour}"/>',
            _text(left + 16, ly, f"{label}: {format_money(cents, currency)}"),
        ]
    legend_y += 16 * (len(segments) - 1)
    height = legend_y + 8
    summary = "; ".join(f"{label}: {format_money(c, currency)}" for label, c, _c in segments)
    return _svg(width, height, title, f"{title}. {summary}", "".join(parts))
