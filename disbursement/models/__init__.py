from disbursement.models.claims import Claim, ClaimLine, LedgerEntry, RejectionCode
from disbursement.models.payouts import Payout
from disbursement.models.providers import ChipOrigin, Provider, ProviderAffiliation, ProviderStaff
from disbursement.models.reconciliation import Alert, Discrepancy, ReconciliationRun

__all__ = [
    "Alert",
    "ChipOrigin",
    "Claim",
    "ClaimLine",
    "Discrepancy",
    "LedgerEntry",
    "Payout",
    "Provider",
    "ProviderAffiliation",
    "ProviderStaff",
    "ReconciliationRun",
    "RejectionCode",
]
