"""The subsidy arithmetic: pure functions of integers, so it can be proved (tests use hypothesis).

Per line: subsidy = floor(amount_cents x rate_bps / 10,000), that is ROUND_DOWN to the cent,
never a fraction of a cent in the startup's favour at public expense. The claim's subsidy is the
sum of its lines, limited by what is left on the voucher: under the CLAMP policy the lines are
paid in order until the remainder runs out (the rest is billed to the startup); under REJECT a
claim that does not fit is refused whole.
"""

from dataclasses import dataclass, field

ROUNDING = "ROUND_DOWN: floor(amount_cents * rate_bps / 10000) per line"
BPS = 10_000


@dataclass(frozen=True)
class Line:
    chip_origin: str  # "domestic" or "foreign"
    amount_cents: int


@dataclass(frozen=True)
class LineResult:
    position: int
    chip_origin: str
    amount_cents: int
    rate_bps: int
    full_subsidy_cents: int
    subsidy_cents: int


@dataclass(frozen=True)
class Calculation:
    lines: list[LineResult]
    eligible_cents: int
    full_subsidy_cents: int
    subsidy_cents: int
    remaining_before_cents: int
    clamped_cents: int
    fits: bool
    trace: dict = field(default_factory=dict)


def line_subsidy(amount_cents: int, rate_bps: int) -> int:
    if amount_cents < 0 or not 0 <= rate_bps <= BPS:
        raise ValueError("amount must be >= 0 and the rate within 0..10000 basis points")
    return amount_cents * rate_bps // BPS


def calculate(
    *,
    lines: list[Line],
    rate_standard_bps: int,
    rate_domestic_bps: int,
    remaining_cents: int,
    clamp: bool,
) -> Calculation:
    """Subsidy per line at its tier's rate, then limited by what is left on the voucher."""
    if remaining_cents < 0:
        raise ValueError("remaining cannot be negative")
    rates = {"domestic": rate_domestic_bps, "foreign": rate_standard_bps}
    full = [line_subsidy(line.amount_cents, rates[line.chip_origin]) for line in lines]
    total = sum(full)
    fits = total <= remaining_cents
    left = remaining_cents if clamp else (total if fits else 0)
    results = []
    for position, (line, subsidy) in enumerate(zip(lines, full, strict=True), start=1):
        paid = min(subsidy, left)
        left -= paid
        results.append(
            LineResult(
                position,
                line.chip_origin,
                line.amount_cents,
                rates[line.chip_origin],
                subsidy,
                paid,
            )
        )
    paid_total = sum(r.subsidy_cents for r in results)
    calc = Calculation(
        lines=results,
        eligible_cents=sum(line.amount_cents for line in lines),
        full_subsidy_cents=total,
        subsidy_cents=paid_total,
        remaining_before_cents=remaining_cents,
        clamped_cents=total - paid_total,
        fits=fits,
    )
    calc.trace.update(
        {
            "rounding": ROUNDING,
            "rates_bps": {"foreign (standard)": rate_standard_bps, "domestic": rate_domestic_bps},
            "policy": "clamp" if clamp else "reject",
            "lines": [
                {
                    "position": r.position,
                    "chip_origin": r.chip_origin,
                    "amount_cents": r.amount_cents,
                    "rate_bps": r.rate_bps,
                    "subsidy_before_cap_cents": r.full_subsidy_cents,
                    "subsidy_cents": r.subsidy_cents,
                }
                for r in results
            ],
            "eligible_cents": calc.eligible_cents,
            "subsidy_before_cap_cents": total,
            "remaining_on_voucher_before_cents": remaining_cents,
            "clamped_cents": calc.clamped_cents,
            "subsidy_cents": paid_total,
        }
    )
    return calc
