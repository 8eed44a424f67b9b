"""Reconciliation: prove that the money adds up, and say exactly where it does not.

Two kinds of run, each stored with one Discrepancy row per problem:

- **ledger** (`reconcile_ledger`): every voucher's spent and cap against the sums of its ledger
  entries; every program's committed against the sum of its entries' committed deltas and
  against the caps of its vouchers; every program's spent (its vouchers) against its entries;
  every accepted (or reversed) claim against its charge (and reversal) entry.
- **statement** (`reconcile_statement`): a provider's monthly statement (CSV) against the
  provider's accepted claims of that month. A claim belongs to the month in which it was
  accepted (its `created_at`, in the project's time zone): that is when the subsidy was charged
  to the voucher and what the provider is paid for, whatever the service dates say.

Every comparison is an SQL aggregate (GROUP BY) read in one snapshot; only the rows that
disagree come back to Python, through a server-side cursor, so a run needs the same memory at
a thousand ledger entries as at a hundred million. At most RECONCILIATION_MAX_STORED problems
are stored per run (all are counted). A run with problems raises one Alert and emails officers
and auditors through the outbox; every run writes one audit event.
"""

from disbursement.services.reconciliation.alerts import alert_acknowledge
from disbursement.services.reconciliation.ledger import reconcile_ledger
from disbursement.services.reconciliation.policy import (
    ReconAction,
    alerts_visible_to,
    may_upload_statement,
    open_alerts,
    own_provider_id,
    recon_allows,
    runs_visible_to,
)
from disbursement.services.reconciliation.statement import (
    STATEMENT_COLUMNS,
    StatementLine,
    parse_statement,
    reconcile_statement,
)

__all__ = [
    "STATEMENT_COLUMNS",
    "ReconAction",
    "StatementLine",
    "alert_acknowledge",
    "alerts_visible_to",
    "may_upload_statement",
    "open_alerts",
    "own_provider_id",
    "parse_statement",
    "recon_allows",
    "reconcile_ledger",
    "reconcile_statement",
    "runs_visible_to",
]
