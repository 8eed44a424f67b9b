from vouchers.models.program import BPS_VALIDATORS, Program, RubricCriterion, currency_validator
from vouchers.models.review import (
    ConflictDeclaration,
    Decision,
    Recommendation,
    Review,
    ReviewAssignment,
    ScreeningResult,
    ScreeningRule,
)
from vouchers.models.voucher import AwardLetter, Voucher

__all__ = [
    "BPS_VALIDATORS",
    "AwardLetter",
    "ConflictDeclaration",
    "Decision",
    "Program",
    "Recommendation",
    "Review",
    "ReviewAssignment",
    "RubricCriterion",
    "ScreeningResult",
    "ScreeningRule",
    "Voucher",
    "currency_validator",
]
