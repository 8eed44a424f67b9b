"""Who gets what from every URL pattern: the authorization matrix, as data.

One row per named URL pattern (tests/security/test_authorization_matrix.py fails for a pattern
without a row, and for a row without a pattern). A row maps methods to a spec:

    "officer:approve": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver",
    }

Keys: "*" (every method), "writes" (POST, PUT, PATCH, DELETE) or method names. A spec is the
outcome for every role, then "; outcome: role role ..." for the roles that differ. Outcomes
(tests/security/matrix_world.py OUTCOMES): ok, login, denied (403/404), 405, invalid (400: let
through, the empty body refused), 409 (let through, refused by the object's state), and for
the admin site "in" (let in: whatever the admin answers, but not its login). Roles are the
columns below (ROLES); @signed_in, @applicants, @reviewers and @providers name groups of them.

The ids in each URL name applicant A's organization, application and voucher, provider X's
claim, payout and statement, and the reviewer_assigned's assignment. So applicant_other and
provider_other ask for someone else's object by its id (an ID swap): they must be "denied".
Exceptions to that, each on purpose:
- accounts:token_revoke and api:auth-token name applicant B's API token: B revokes their own;
  an administrator (superuser) may revoke anyone's.
- api:application-version-diff names B's resubmitted application (two versions): for that row
  applicant_own and applicant_other swap (matrix_world.SWAPPED_APPLICANTS).
- applicants:invitation_accept names an invitation sent to the auditor's address: nobody else
  may accept it, and the auditor, an officer, may not join an applicant organization.

The admin site (every pattern under admin/) is one rule, not rows: see ADMIN_SITE below.
"""

ROLES = (
    "anonymous",
    "applicant_own",
    "applicant_other",
    "reviewer_assigned",
    "reviewer_other",
    "approver",
    "finance",
    "provider_own",
    "provider_other",
    "auditor",
    "admin",
)
METHODS = ("get", "post", "put", "patch", "delete")
GROUPS = {
    "@signed_in": ROLES[1:],
    "@applicants": ("applicant_own", "applicant_other"),
    "@reviewers": ("reviewer_assigned", "reviewer_other"),
    "@providers": ("provider_own", "provider_other"),
}

ROWS: dict[str, dict[str, str]] = {
    # Public pages, and pages for one's own account and session.
    "home": {"*": "ok"},
    "accounts:signup": {"*": "ok"},
    "accounts:login": {"get post put": "ok", "patch delete": "ok; 405: anonymous"},
    "accounts:login_code": {"*": "login"},
    "accounts:logout": {"get put patch delete": "405", "post": "ok"},
    "accounts:second_factor": {"*": "ok; login: anonymous"},
    "accounts:verify_email": {"*": "invalid"},  # the link's token is a dummy: 400 for all
    "accounts:resend_verification": {
        "get put patch delete": "405; login: anonymous",
        "post": "ok; login: anonymous",
    },
    "accounts:set_language": {"get put patch delete": "405", "post": "ok"},
    "accounts:settings": {"*": "ok; login: anonymous"},
    "accounts:token_revoke": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: applicant_other admin",
    },
    "accounts:password_change": {
        "get post put": "ok; login: anonymous",
        "patch delete": "405; login: anonymous",
    },
    "accounts:password_reset": {"get post put": "ok", "patch delete": "405"},
    "accounts:password_reset_done": {"get": "ok", "writes": "405"},
    "accounts:password_reset_confirm": {"*": "ok"},
    "accounts:password_reset_complete": {"get": "ok", "writes": "405"},
    # Published programs and the public check of a letter's reference: for everyone.
    "vouchers:program_list": {"*": "ok"},
    "vouchers:letter_verify": {"*": "ok"},
    "vouchers:program_detail": {"*": "ok"},
    # The applicant portal. Staff are sent on to their own pages ("ok", a redirect).
    "applicants:dashboard": {"*": "ok; login: anonymous"},
    "applicants:organization_create": {"*": "denied; login: anonymous; ok: @applicants"},
    # Organizations: their members, and the officers who read applications (not finance).
    "applicants:organization_detail": {
        "get put patch delete": "ok; login: anonymous; denied: @providers applicant_other finance",
        "post": "denied; login: anonymous; ok: applicant_own",
    },
    "applicants:organization_edit": {"*": "denied; login: anonymous; ok: applicant_own"},
    "applicants:invitation_accept": {
        "get put patch delete": "ok; login: anonymous",
        "post": "denied; login: anonymous",
    },
    "applicants:application_start": {"*": "denied; login: anonymous; ok: @applicants"},
    "applicants:application_detail": {
        "*": "ok; login: anonymous; denied: @providers applicant_other finance",
    },
    "applicants:application_step": {"*": "denied; login: anonymous; ok: applicant_own"},
    "applicants:application_review": {"*": "denied; login: anonymous; ok: applicant_own"},
    "applicants:application_submit": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: applicant_own",
    },
    # What an applicant wrote: only after the officer declared no conflict of interest, so
    # not for reviewer_other, who has not (officer:application_detail shows them the form).
    "applicants:application_receipt": {
        "*": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
    },
    "applicants:application_withdraw": {"*": "denied; login: anonymous; ok: applicant_own"},
    "applicants:document_download": {
        "*": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
    },
    # Vouchers and letters: the organization's members and the officers who read vouchers.
    "applicants:voucher_detail": {"*": "ok; login: anonymous; denied: @providers applicant_other"},
    "applicants:voucher_accept": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: applicant_own",
    },
    "applicants:letter_download": {
        "*": "ok; login: anonymous; denied: @providers applicant_other",
    },
    # Officers' pages. Each action: its role (after the permission, the empty form: 400).
    "officer:dashboard": {"*": "denied; login: anonymous; ok: @reviewers approver auditor admin"},
    "officer:queue": {"*": "denied; login: anonymous; ok: @reviewers approver auditor admin"},
    "officer:applications": {
        "*": "denied; login: anonymous; ok: @reviewers approver auditor admin",
    },
    "officer:application_detail": {
        "*": "denied; login: anonymous; ok: @reviewers approver auditor admin",
    },
    "officer:declare_conflict": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: @reviewers approver",
    },
    "officer:override": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: reviewer_assigned approver admin",
    },
    "officer:assign": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "officer:unassign": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver admin",
    },
    "officer:review": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: reviewer_assigned",
    },
    "officer:approve": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver",
    },
    "officer:reject": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver",
    },
    "officer:return": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: reviewer_assigned approver admin",
    },
    "officer:letter_download": {
        "*": "denied; login: anonymous; ok: reviewer_assigned approver auditor admin",
    },
    "officer:letter_retry": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver admin",
    },
    "officer:letter_reissue": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    # Voucher money: read by officers, finance and auditors; moved back by approvers/admins.
    "officer:claims": {"*": "ok; login: anonymous; denied: @applicants @providers"},
    "officer:claim_detail": {"*": "ok; login: anonymous; denied: @applicants @providers"},
    "officer:voucher_detail": {"*": "ok; login: anonymous; denied: @applicants @providers"},
    "officer:voucher_suspend": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "officer:voucher_reinstate": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "officer:voucher_clawback": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "officer:claim_reverse": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    # The provider portal: provider_other may not read provider X's claim.
    "provider:dashboard": {"*": "denied; login: anonymous; ok: @providers"},
    "provider:claim_new": {"*": "denied; login: anonymous; ok: @providers"},
    "provider:claim_detail": {"*": "denied; login: anonymous; ok: provider_own"},
    # Payouts. The payout was prepared by this finance officer: approving it is refused
    # (four eyes), the bank reference is asked for to mark it paid.
    "finance:payout_list": {"*": "denied; login: anonymous; ok: finance auditor admin"},
    "finance:payout_prepare": {"*": "denied; login: anonymous; ok: finance"},
    "finance:payout_prepare_provider": {
        "get put patch delete": "denied; login: anonymous; ok: finance",
        "post": "denied; login: anonymous; invalid: finance",
    },
    "finance:payout_detail": {"*": "denied; login: anonymous; ok: finance auditor admin"},
    "finance:payout_approve": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous",
    },
    "finance:payout_mark_paid": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: finance",
    },
    "finance:payout_export": {"*": "denied; login: anonymous; ok: finance auditor admin"},
    # Reconciliation: a provider reads its own statement runs only (list: the leak test).
    "reconciliation:runs": {"*": "ok; login: anonymous; denied: @applicants @reviewers"},
    "reconciliation:run_now": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver finance admin",
    },
    "reconciliation:run_detail": {
        "*": "denied; login: anonymous; ok: approver finance provider_own auditor admin",
    },
    "reconciliation:statement_download": {
        "*": "denied; login: anonymous; ok: approver finance provider_own auditor admin",
    },
    "reconciliation:statement_upload": {
        "get put patch delete": "denied; login: anonymous; ok: @providers approver finance admin",
        "post": "denied; login: anonymous; invalid: @providers approver finance admin",
    },
    "reconciliation:alerts": {"*": "denied; login: anonymous; ok: approver finance auditor admin"},
    "reconciliation:alert_acknowledge": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver finance admin",
    },
    # Reports: seen by who asked for them (finance here), auditors and administrators.
    "reports:list": {
        "get": "ok; login: anonymous; denied: @reviewers @providers",
        "writes": "405; login: anonymous",
    },
    "reports:request": {
        "get put patch delete": "405; login: anonymous",
        "post": "invalid; login: anonymous; denied: @reviewers @providers",
    },
    "reports:detail": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "reports:status": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "reports:download": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "reports:retry": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; 409: finance admin",
    },
    # The audit trail: auditors and administrators.
    "audit:events": {
        "get": "denied; login: anonymous; ok: auditor admin",
        "writes": "405; login: anonymous",
    },
    "audit:timeline_lookup": {
        "get": "denied; login: anonymous; ok: auditor admin",
        "writes": "405; login: anonymous",
    },
    "audit:application_timeline": {
        "get": "denied; login: anonymous; ok: auditor admin",
        "writes": "405; login: anonymous",
    },
    "audit:voucher_timeline": {
        "get": "denied; login: anonymous; ok: auditor admin",
        "writes": "405; login: anonymous",
    },
    # The API (/api/v1/): 401 for anonymous callers; lists are filtered (the leak test).
    "api:auth-register": {"get put patch delete": "405", "post": "invalid"},
    "api:auth-token-create": {"get put patch delete": "405", "post": "invalid"},
    "api:auth-tokens": {"get": "ok; login: anonymous", "writes": "405; login: anonymous"},
    "api:auth-token": {
        "get post put patch": "405; login: anonymous",
        "delete": "denied; login: anonymous; ok: applicant_other admin",
    },
    "api:me": {"get": "ok; login: anonymous", "writes": "405; login: anonymous"},
    # Programs are created and changed by administrators only (403 before the input).
    "api:programs": {
        "get": "ok",
        "post": "denied; login: anonymous; invalid: admin",
        "put patch delete": "405; login: anonymous",
    },
    "api:program": {
        "get": "ok",
        "post put delete": "405; login: anonymous",
        "patch": "denied; login: anonymous; ok: admin",
    },
    "api:program-criteria": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: admin",
    },
    "api:organizations": {
        "get": "ok; login: anonymous",
        "post": "denied; login: anonymous; invalid: @applicants",
        "put patch delete": "405; login: anonymous",
    },
    "api:organization": {
        "get": "ok; login: anonymous; denied: @providers applicant_other finance",
        "post put delete": "405; login: anonymous",
        "patch": "denied; login: anonymous; ok: applicant_own",
    },
    "api:organization-members": {
        "get": "ok; login: anonymous; denied: @providers applicant_other finance",
        "writes": "405; login: anonymous",
    },
    "api:organization-invitations": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: applicant_own",
    },
    "api:invitation-accept": {
        "get put patch delete": "405; login: anonymous",
        "post": "invalid; login: anonymous",
    },
    "api:applications": {
        "get": "ok; login: anonymous",
        "post": "denied; login: anonymous; invalid: @applicants",
        "put patch delete": "405; login: anonymous",
    },
    # A's application is decided: editing, submitting, withdrawing it is refused by state.
    "api:application": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "post put delete": "405; login: anonymous",
        "patch": "denied; login: anonymous; 409: applicant_own",
    },
    "api:application-documents": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "post": "denied; login: anonymous; invalid: applicant_own",
        "put patch delete": "405; login: anonymous",
    },
    "api:application-document": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "post put patch": "405; login: anonymous",
        "delete": "denied; login: anonymous; 409: applicant_own",
    },
    "api:application-submit": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; 409: applicant_own",
    },
    "api:application-withdraw": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; 409: applicant_own",
    },
    "api:application-return": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: reviewer_assigned approver admin",
    },
    "api:application-versions": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "writes": "405; login: anonymous",
    },
    "api:application-version-diff": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "writes": "405; login: anonymous",
    },
    "api:application-conflict": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: @reviewers approver",
    },
    "api:application-screening": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "writes": "405; login: anonymous",
    },
    "api:application-screening-override": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: reviewer_assigned approver admin",
    },
    "api:application-assignments": {
        # Who reviews an application is staff business: nobody may lobby a named reviewer.
        "get": "denied; login: anonymous; ok: reviewer_assigned approver auditor admin",
        "post": "denied; login: anonymous; invalid: approver admin",
        "put patch delete": "405; login: anonymous",
    },
    "api:application-assignment-remove": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver admin",
    },
    "api:application-reviews": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "post": "denied; login: anonymous; invalid: reviewer_assigned",
        "put patch delete": "405; login: anonymous",
    },
    "api:application-approve": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver",
    },
    "api:application-reject": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver",
    },
    "api:application-decision": {
        "get": (
            "denied; login: anonymous; ok: applicant_own reviewer_assigned approver auditor admin"
        ),
        "writes": "405; login: anonymous",
    },
    "api:vouchers": {"get": "ok; login: anonymous", "writes": "405; login: anonymous"},
    "api:voucher-lookup": {"get": "invalid; login: anonymous", "writes": "405; login: anonymous"},
    "api:voucher": {
        "get": "ok; login: anonymous; denied: @providers applicant_other",
        "writes": "405; login: anonymous",
    },
    "api:voucher-accept": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: applicant_own",
    },
    "api:voucher-letters": {
        "get": "ok; login: anonymous; denied: @providers applicant_other",
        "post": "denied; login: anonymous; invalid: approver admin",
        "put patch delete": "405; login: anonymous",
    },
    "api:voucher-letter-pdf": {
        "get": "ok; login: anonymous; denied: @providers applicant_other",
        "writes": "405; login: anonymous",
    },
    "api:letter-retry": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; 409: approver admin",
    },
    "api:letter-verify": {"get": "ok", "writes": "405"},
    "api:claims": {
        "get": "ok; login: anonymous",
        "post": "denied; login: anonymous; invalid: @providers",
        "put patch delete": "405; login: anonymous",
    },
    "api:claim": {
        "get": "ok; login: anonymous; denied: applicant_other provider_other",
        "writes": "405; login: anonymous",
    },
    "api:claim-reverse": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "api:voucher-ledger": {
        "get": "ok; login: anonymous; denied: @providers applicant_other",
        "writes": "405; login: anonymous",
    },
    "api:voucher-clawback": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "api:voucher-suspend": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "api:voucher-reinstate": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver admin",
    },
    "api:payouts": {
        "get": "denied; login: anonymous; ok: @providers finance auditor admin",
        "post": "denied; login: anonymous; invalid: finance",
        "put patch delete": "405; login: anonymous",
    },
    "api:payout": {
        "get": "denied; login: anonymous; ok: finance provider_own auditor admin",
        "writes": "405; login: anonymous",
    },
    # Nobody: its preparer (finance) may not (four eyes); approving is finance's alone.
    "api:payout-approve": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous",
    },
    "api:payout-paid": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: finance",
    },
    "api:payout-export": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:reconciliations": {
        "get": "ok; login: anonymous; denied: @applicants @reviewers",
        "post": "denied; login: anonymous; ok: approver finance admin",
        "put patch delete": "405; login: anonymous",
    },
    "api:reconciliation": {
        "get": "denied; login: anonymous; ok: approver finance provider_own auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:provider-statements": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; invalid: approver finance provider_own admin",
    },
    "api:alerts": {
        "get": "denied; login: anonymous; ok: approver finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:alert-acknowledge": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; ok: approver finance admin",
    },
    "api:reports": {
        "get": "ok; login: anonymous",
        "post": "invalid; login: anonymous; denied: @reviewers @providers",
        "put patch delete": "405; login: anonymous",
    },
    "api:report": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:report-retry": {
        "get put patch delete": "405; login: anonymous",
        "post": "denied; login: anonymous; 409: finance admin",
    },
    "api:report-pdf": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:report-csv": {
        "get": "denied; login: anonymous; ok: finance auditor admin",
        "writes": "405; login: anonymous",
    },
    "api:audit-events": {
        "get": "denied; login: anonymous; ok: auditor admin",
        "writes": "405; login: anonymous",
    },
    "api-schema": {"get": "ok", "writes": "405"},
    "api-docs": {"get": "ok", "writes": "405"},
    "healthz": {"*": "ok"},
    "about": {"get": "ok", "writes": "405"},
    # The admin site's front door (the rest of admin/ is the ADMIN_SITE rule below).
    "admin:login": {
        "get put": "ok; login: anonymous",
        "post": "login",
        "patch delete": "405; login: anonymous",
    },
    "admin:logout": {"get put patch delete": "ok; 405: admin", "post": "ok"},
}

# --- the admin site ------------------------------------------------------------------------------

# Every pattern under admin/ (except admin:login and admin:logout, which have rows): only the
# administrator (staff, superuser) is let in; every other role, signed in or not, is sent to the
# admin login, whatever the method. "in" is any answer of the admin site itself (ok, denied or
# 405: the admin's own permissions, e.g. the read-only audit trail): not a login, never a 5xx.
ADMIN_SITE = "login; in: admin"
ADMIN_IN = {"ok", "denied", "405"}


def parse(spec: str) -> dict[str, str]:
    """ "denied; login: anonymous; ok: @reviewers approver" -> the outcome for every role."""
    default, *rest = (part.strip() for part in spec.split(";"))
    out = dict.fromkeys(ROLES, default)
    for part in rest:
        outcome, names = (x.strip() for x in part.split(":"))
        for name in names.split():
            for role in GROUPS.get(name, (name,)):
                if role not in out:
                    raise ValueError(f"unknown role {role!r} in {spec!r}")
                out[role] = outcome
    return out


def _methods(key: str) -> tuple[str, ...]:
    if key == "*":
        return METHODS
    if key == "writes":
        return METHODS[1:]
    methods = tuple(key.split())
    if not set(methods) <= set(METHODS):
        raise ValueError(f"unknown methods in {key!r}")
    return methods


def expected(name: str, *, is_admin: bool) -> dict[tuple[str, str], str]:
    """(role, method) -> the expected outcome for a pattern, exactly one for each pair."""
    if is_admin and name not in ROWS:
        row = {"*": ADMIN_SITE}
    else:
        row = ROWS[name]
    out: dict[tuple[str, str], str] = {}
    for key, spec in row.items():
        for method in _methods(key):
            for role, outcome in parse(spec).items():
                if (role, method) in out:
                    raise ValueError(f"{name}: {method} is given twice")
                out[role, method] = outcome
    missing = [m for m in METHODS if (ROLES[0], m) not in out]
    if missing:
        raise ValueError(f"{name}: no outcome for {missing}")
    return out


def matches(expected_outcome: str, observed: str) -> bool:
    if expected_outcome == "in":
        return observed in ADMIN_IN
    return expected_outcome == observed
