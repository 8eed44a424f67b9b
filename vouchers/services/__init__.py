"""Every write of the officers' side: screening, review, decision, vouchers, letters, programs."""

from vouchers.services.decision import application_approve, application_reject
from vouchers.services.letters import (
    award_letter_reissue,
    award_letter_render,
    award_letter_request,
    award_letter_retry,
    award_letter_sweep,
)
from vouchers.services.programs import criterion_save, program_create, program_update
from vouchers.services.review import (
    conflict_declare,
    review_submit,
    reviewer_assign,
    reviewer_unassign,
    weighted_score_bps,
)
from vouchers.services.screening import application_screen, screening_override
from vouchers.services.vouchers import voucher_accept

__all__ = [
    "application_approve",
    "application_reject",
    "application_screen",
    "award_letter_reissue",
    "award_letter_render",
    "award_letter_request",
    "award_letter_retry",
    "award_letter_sweep",
    "conflict_declare",
    "criterion_save",
    "program_create",
    "program_update",
    "review_submit",
    "reviewer_assign",
    "reviewer_unassign",
    "screening_override",
    "voucher_accept",
    "weighted_score_bps",
]
