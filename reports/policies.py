"""Who may request, see and download reports: the one place these decisions live.

- Program summaries, voucher registers and reconciliation reports: auditors, administrators,
  finance and approvers (the roles that already read every voucher, claim and run).
- Audit extracts: auditors and administrators only. The trail holds every person's logins, IP
  addresses and refused attempts; DESIGN gives "everything, read-only" to auditors, and
  finance or approvers have no need to read about each other.
- Voucher statements: the same four roles for any voucher, and an applicant for a voucher of
  an organization they are a member of (their own money, nobody else's).
- Reviewers and provider staff request no reports.

A report is seen (and downloaded) by whoever requested it, and by auditors and administrators,
who see every report. An applicant who has left the organization no longer sees its
statements. For everyone else a report does not exist (404).
"""

from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from audit.services import audit_refuse
from reports.models import Report

BIGINT_MAX = 2**63 - 1
K = Report.Kind
R = User.Role

OFFICE_ROLES = frozenset({R.AUDITOR, R.ADMIN, R.FINANCE, R.APPROVER})
READ_ALL_ROLES = frozenset({R.AUDITOR, R.ADMIN})
REQUEST_ROLES: dict[str, frozenset[str]] = {
    K.PROGRAM_SUMMARY: OFFICE_ROLES,
    K.VOUCHER_REGISTER: OFFICE_ROLES,
    K.RECONCILIATION: OFFICE_ROLES,
    K.AUDIT_EXTRACT: READ_ALL_ROLES,
    K.VOUCHER_STATEMENT: OFFICE_ROLES | {R.APPLICANT},
}


class ReportAction(StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    RETRY = "retry"


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def may_request(user: Any, kind: str) -> bool:
    """Role rule only; whether an applicant's voucher is theirs is checked with the parameters."""
    return _active(user) and user.role in REQUEST_ROLES.get(kind, frozenset())


def kinds_for(user: Any) -> list[str]:
    """The kinds of report `user` may request, in the order the page offers them."""
    return [kind for kind in K.values if may_request(user, kind)]


def uses_reports(user: Any) -> bool:
    return bool(kinds_for(user)) or (_active(user) and user.role in READ_ALL_ROLES)


def reports_visible_to(user: Any) -> QuerySet[Report]:
    """Every report for auditors and administrators; one's own for the others (for applicants,
    only while they are still a member of the voucher's organization)."""
    qs = Report.objects.select_related("requested_by", "program", "voucher")
    if not _active(user):
        return qs.none()
    if user.role in READ_ALL_ROLES:
        return qs
    own = qs.filter(requested_by=user)
    if user.role == R.APPLICANT:
        return own.filter(
            Q(voucher__organization__memberships__user=user), kind=K.VOUCHER_STATEMENT
        ).distinct()
    return own


def report_allows(user: Any, action: ReportAction, report: Report) -> bool:
    """Whether `user` may `action` a report they can see."""
    if not _active(user):
        return False
    if action == ReportAction.RETRY:
        return report.requested_by_id == user.pk or user.role == R.ADMIN
    return True  # seeing a report is what allows reading and downloading it


def deny(*, viewer: Any, attempted: str, target: Report | None, reveal: bool) -> None:
    """Record a refused attempt, then refuse: 403 if the viewer may see the report, else 404."""
    audit_refuse(
        viewer=viewer,
        attempted=attempted,
        target=target,
        reveal=reveal,
        not_found="No such report.",
    )


def report_require_request(*, viewer: Any, kind: str) -> None:
    """Refuse (recorded, 403) a request for a kind of report the viewer's role may not ask for,
    and any request from a role that may ask for none. Otherwise an unknown kind is left to the
    parameter check, which says what the kinds are."""
    if not kinds_for(viewer) or (kind in K.values and not may_request(viewer, kind)):
        deny(viewer=viewer, attempted=f"report.request.{kind}", target=None, reveal=True)


def report_get_for(*, viewer: Any, report_id: Any, action: ReportAction) -> Report:
    """The report if the viewer may `action` it: Http404 when they cannot see it, a recorded
    NotAllowedError when they can see it but may not do this."""
    try:
        pk = int(report_id)
    except (TypeError, ValueError):
        raise Http404("No such report.") from None
    if not 1 <= pk <= BIGINT_MAX:
        raise Http404("No such report.")
    report = reports_visible_to(viewer).filter(pk=pk).first()
    if report is None:
        hidden = Report.objects.filter(pk=pk).first()
        if hidden is not None and _active(viewer):
            deny(viewer=viewer, attempted=f"report.{action}", target=hidden, reveal=False)
        raise Http404("No such report.")
    if not report_allows(viewer, action, report):
        deny(viewer=viewer, attempted=f"report.{action}", target=report, reveal=True)
    return report
