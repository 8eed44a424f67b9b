"""Checking what a report request asks for, with a message (and a stable code) for each mistake.

Every interface (API, page, command) sends the same loose dictionary; what comes out is plain
JSON stored on the report, plus the row it is about.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditAction, AuditEvent
from core.exceptions import DomainError
from disbursement.models import ReconciliationRun
from reports.models import Report
from vouchers.models import Program, Voucher

K = Report.Kind
BIGINT_MAX = 2**63 - 1
STREAM_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(:[A-Za-z0-9_.@-]{1,64})?$")
ALLOWED: dict[str, set[str]] = {
    K.PROGRAM_SUMMARY: {"program"},
    K.VOUCHER_STATEMENT: {"voucher"},
    K.VOUCHER_REGISTER: {"program"},
    K.RECONCILIATION: {"run"},
    K.AUDIT_EXTRACT: {"date_from", "date_to", "stream", "action"},
}


def audit_max_events() -> int:
    return int(getattr(settings, "REPORT_AUDIT_MAX_EVENTS", 20_000))


@dataclass
class CleanParams:
    parameters: dict[str, Any]
    language: str
    program: Program | None = None
    voucher: Voucher | None = None
    run: ReconciliationRun | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _error(name: str, message: str, code: str) -> DomainError:
    return DomainError(message, code=code, fields={name: [message]})


def _id(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise _error(name, _("Choose one."), f"{name}_required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _error(name, _("Send the id as a whole number."), "invalid")
    text = str(value).strip()
    if not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= BIGINT_MAX:
        raise _error(name, _("Send the id as a whole number."), "invalid")
    return int(text)


def _required_id(params: dict[str, Any], name: str) -> int:
    value = _id(params, name)
    if value is None:  # _id refuses a missing required id; this keeps the type exact
        raise _error(name, _("Choose one."), f"{name}_required")
    return value


def _date(params: dict[str, Any], name: str) -> date:
    value = params.get(name)
    if value in (None, ""):
        raise _error(name, _("Enter a date (YYYY-MM-DD)."), "date_required")
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise _error(name, _("Enter a date as YYYY-MM-DD."), "invalid_date") from None


def _language(params: dict[str, Any], actor: Any) -> str:
    languages = dict(settings.LANGUAGES)
    value = params.get("language")
    if value in (None, ""):
        preferred = getattr(actor, "preferred_language", "") or settings.LANGUAGE_CODE
        return preferred if preferred in languages else settings.LANGUAGE_CODE
    if not isinstance(value, str) or value not in languages:
        raise _error(
            "language",
            _("Choose one of: %(codes)s.") % {"codes": ", ".join(languages)},
            "invalid_language",
        )
    return value


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the start of the day after `last`, in local time."""
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
    return start, end


def audit_events_in(parameters: dict[str, Any]) -> Any:
    """The audit events an extract with these (clean) parameters covers, in chain order."""
    start, end = day_bounds(
        date.fromisoformat(parameters["date_from"]), date.fromisoformat(parameters["date_to"])
    )
    qs = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    stream = parameters.get("stream") or ""
    if stream:
        # One stream ("vouchers.voucher:42"), or every stream of a kind ("vouchers.voucher").
        qs = (
            qs.filter(stream=stream)
            if ":" in stream
            else qs.filter(stream__startswith=stream + ":")
        )
    if parameters.get("action"):
        qs = qs.filter(action=parameters["action"])
    return qs


def report_params_clean(*, actor: Any, kind: str, params: Any) -> CleanParams:
    """Check `params` for a `kind` of report; DomainError (with the field) says what is wrong.

    Objects the actor may not see are reported as unknown, so a guess reveals nothing.
    """
    if kind not in K.values:
        message = _("Choose a kind of report: %(kinds)s.") % {"kinds": ", ".join(K.values)}
        raise _error("kind", message, "invalid_kind")
    if not isinstance(params, dict):
        raise DomainError(_("Send the parameters as an object."), code="invalid")
    unknown = sorted(set(params) - ALLOWED[kind] - {"language"})
    if unknown:
        message = _("Not a parameter of this report.")
        raise DomainError(
            _("Unknown parameters: %(names)s.") % {"names": ", ".join(map(str, unknown))},
            code="unknown_parameter",
            fields={str(name): [message] for name in unknown},
        )
    clean = CleanParams(parameters={}, language=_language(params, actor))
    if kind in (K.PROGRAM_SUMMARY, K.VOUCHER_REGISTER):
        program_id = _id(params, "program", required=kind == K.PROGRAM_SUMMARY)
        if program_id is not None:
            clean.program = Program.objects.filter(pk=program_id).first()
            if clean.program is None:
                raise _error("program", _("There is no such program."), "no_such_program")
        clean.parameters["program"] = program_id
    elif kind == K.VOUCHER_STATEMENT:
        from vouchers.selectors import voucher_list_for_viewer

        voucher_id = _required_id(params, "voucher")
        clean.voucher = voucher_list_for_viewer(viewer=actor).filter(pk=voucher_id).first()
        if clean.voucher is None:
            raise _error("voucher", _("There is no such voucher."), "no_such_voucher")
        clean.program = clean.voucher.program
        clean.parameters["voucher"] = voucher_id
    elif kind == K.RECONCILIATION:
        run_id = _required_id(params, "run")
        clean.run = ReconciliationRun.objects.filter(pk=run_id).first()
        if clean.run is None:
            raise _error("run", _("There is no such reconciliation run."), "no_such_run")
        if clean.run.status == ReconciliationRun.Status.RUNNING:
            raise _error(
                "run",
                _("This reconciliation is still running; ask for its report when it is done."),
                "run_not_finished",
            )
        clean.parameters["run"] = run_id
    else:
        _audit_params(params, clean)
    return clean


def _audit_params(params: dict[str, Any], clean: CleanParams) -> None:
    first, last = _date(params, "date_from"), _date(params, "date_to")
    if last < first:
        raise _error("date_to", _("The end date is before the start date."), "date_order")
    if first > timezone.localdate():
        raise _error("date_from", _("The start date is in the future."), "date_in_future")
    stream = params.get("stream") or ""
    if not isinstance(stream, str) or len(stream) > 120 or (stream and not STREAM_RE.match(stream)):
        raise _error(
            "stream",
            _(
                'Give a stream such as "vouchers.voucher:42", or a kind of stream such as '
                '"vouchers.voucher".'
            ),
            "invalid_stream",
        )
    action = params.get("action") or ""
    if not isinstance(action, str) or (action and action not in AuditAction.values):
        raise _error("action", _("There is no such audit action."), "invalid_action")
    clean.parameters.update(
        date_from=first.isoformat(), date_to=last.isoformat(), stream=stream, action=action
    )
    count = audit_events_in(clean.parameters).count()
    limit = audit_max_events()
    if count > limit:
        raise _error(
            "date_to",
            _(
                "These dates cover %(count)d events; one extract holds at most %(limit)d. "
                "Choose a shorter period or a stream."
            )
            % {"count": count, "limit": limit},
            "too_many_events",
        )
    clean.extra["events"] = count
