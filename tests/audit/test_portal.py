"""The auditor portal: searching the trail (page and API), timelines with chain verification."""

from datetime import UTC, date, datetime
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from audit.portal_selectors import data_rows, timeline_for_application
from audit.services import audit_record
from disbursement.services import payouts as payout_services
from disbursement.services import vouchers as money_services
from disbursement.services.claims import claim_submit
from tests.conftest import api_as
from tests.disbursement.conftest import active_voucher, claim_input, provider_staff  # noqa: F401
from tests.factories import UserFactory
from tests.vouchers.conftest import approved, ready  # noqa: F401

pytestmark = pytest.mark.django_db

EVENTS = reverse("audit:events")
API = reverse("api:audit-events")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def story(  # noqa: F811
    active_voucher: Any,  # noqa: F811
    provider_staff: Any,  # noqa: F811
    provider: Any,
    approver: Any,
    finance: Any,
) -> dict[str, Any]:
    """A voucher's life: accepted, rejected and reversed claims, a suspension, a paid payout."""
    voucher = active_voucher
    kept = claim_submit(actor=provider_staff, provider=provider, data=claim_input(voucher)).claim
    refused = claim_submit(
        actor=provider_staff, provider=provider, data=claim_input(voucher, currency="USD")
    ).claim
    undone = claim_submit(actor=provider_staff, provider=provider, data=claim_input(voucher)).claim
    money_services.claim_reverse(actor=approver, claim_id=undone.pk, reason="Credit note 7")
    money_services.voucher_suspend(
        actor=approver, voucher_id=voucher.pk, reason="Checking the invoices"
    )
    money_services.voucher_reinstate(
        actor=approver, voucher_id=voucher.pk, reason="Invoices checked: fine"
    )
    payout = payout_services.payout_create(actor=finance, provider_id=provider.pk)
    payout_services.payout_approve(actor=UserFactory(role=User.Role.FINANCE), payout_id=payout.pk)
    payout_services.payout_mark_paid(actor=finance, payout_id=payout.pk, bank_reference="BANK-1")
    voucher.refresh_from_db()
    assert refused.status == "rejected" and kept.status == "accepted"
    return {
        "voucher": voucher,
        "application": voucher.application,
        "kept": kept,
        "refused": refused,
        "undone": undone,
        "payout": payout,
    }


# --- who may read --------------------------------------------------------------------------


def test_audit_trail_is_for_auditors_and_administrators(
    auditor: Any, applicant: Any, reviewer: Any, approver: Any, finance: Any, provider_user: Any
) -> None:
    admin = UserFactory(role=User.Role.ADMIN)
    for user in (auditor, admin):
        assert client_for(user).get(EVENTS).status_code == 200
        assert api_as(user).get(API).status_code == 200
    for user in (applicant, reviewer, approver, finance, provider_user):
        before = AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).count()
        assert client_for(user).get(EVENTS).status_code == 403, user.role
        response = api_as(user).get(API)
        assert response.status_code == 403, user.role
        assert response.json()["error"]["code"] == "permission_denied"
        # Both refusals are themselves recorded, in the refused user's stream.
        denied = AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED)
        assert denied.count() == before + 2
        assert denied.last().stream == f"accounts.user:{user.pk}"
    assert Client().get(EVENTS).status_code == 302
    assert Client().get(API).status_code in (401, 403)


def test_nav_links_to_the_trail_only_for_its_readers(auditor: Any, reviewer: Any) -> None:
    assert EVENTS.encode() in client_for(auditor).get(reverse("home")).content
    assert EVENTS.encode() not in client_for(reviewer).get(reverse("home")).content


def test_portal_links_to_reconciliation_runs_and_alerts(auditor: Any) -> None:
    page = client_for(auditor).get(EVENTS).content.decode()
    assert reverse("reconciliation:runs") in page and reverse("reconciliation:alerts") in page
    assert client_for(auditor).get(reverse("reconciliation:runs")).status_code == 200
    assert client_for(auditor).get(reverse("reconciliation:alerts")).status_code == 200


# --- search --------------------------------------------------------------------------------


def _at(moment: datetime, **kwargs: Any) -> AuditEvent:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return audit_record(**kwargs)


def _ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_search_filters_by_actor_action_target_and_stream(
    auditor: Any, story: dict[str, Any], approver: Any
) -> None:
    api = api_as(auditor)
    voucher, refused = story["voucher"], story["refused"]
    suspended = api.get(API, {"action": "voucher.suspended"}).json()["results"]
    assert [e["target_id"] for e in suspended] == [str(voucher.pk)]
    by_approver = api.get(API, {"actor": approver.email.upper()[:8]}).json()["results"]
    assert by_approver and all(e["actor_email"] == approver.email for e in by_approver)
    on_voucher = api.get(API, {"target_type": "vouchers.voucher", "target_id": voucher.pk})
    assert {e["target_id"] for e in on_voucher.json()["results"]} == {str(voucher.pk)}
    assert "voucher.issued" in {e["action"] for e in on_voucher.json()["results"]}
    claim = api.get(API, {"target_type": "disbursement.claim", "target_id": refused.pk}).json()
    assert [e["action"] for e in claim["results"]] == ["claim.rejected"]
    labelled = api.get(API, {"target": voucher.code.lower()}).json()["results"]
    assert labelled and all(voucher.code in e["target_label"] for e in labelled)
    stream = api.get(API, {"stream": f"vouchers.voucher:{voucher.pk}"}).json()["results"]
    assert [e["seq"] for e in stream] == sorted((e["seq"] for e in stream), reverse=True)
    assert stream[-1]["seq"] == 1 and stream[-1]["prev_hash"] == ""


def test_search_is_newest_first(auditor: Any, story: dict[str, Any]) -> None:
    rows = api_as(auditor).get(API, {"page_size": 100}).json()["results"]
    keys = [(r["occurred_at"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_date_range_counts_whole_days_in_the_programs_time_zone(
    auditor: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    # 23:30 and 00:30 in Shanghai on either side of midnight, both on 1 March in UTC.
    late = _at(datetime(2026, 3, 1, 15, 30, tzinfo=UTC), actor=auditor, action="user.login")
    early = _at(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), actor=auditor, action="user.login")
    before = _at(datetime(2026, 2, 28, 15, 59, tzinfo=UTC), actor=auditor, action="user.login")
    api = api_as(auditor)
    assert _ids(api.get(API, {"date_from": "2026-03-01", "date_to": "2026-03-01"})) == [late.pk]
    assert _ids(api.get(API, {"date_from": "2026-03-02"})) == [early.pk]
    assert _ids(api.get(API, {"date_to": "2026-03-01"})) == [late.pk, before.pk]
    assert _ids(api.get(API, {"date_from": "2026-02-28", "date_to": "2026-03-02"})) == [
        early.pk,
        late.pk,
        before.pk,
    ]
    page = client_for(auditor).get(EVENTS, {"date_from": "2026-03-01", "date_to": "2026-03-01"})
    assert [e.pk for e in page.context["page"]] == [late.pk]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"date_from": "2026-13-01"}, "date_from", "invalid"),
        ({"date_to": "yesterday"}, "date_to", "invalid"),
        ({"date_from": "0001-01-01"}, "date_from", "out_of_range"),
        ({"date_to": "9999-12-31"}, "date_to", "out_of_range"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to", "range_reversed"),
        ({"action": "voucher.stolen"}, "action", "invalid_choice"),
        ({"target_type": "auth.secret"}, "target_type", "invalid_choice"),
        ({"target_type": "vouchers.voucher", "target_id": "abc"}, "target_id", "invalid_id"),
        ({"target_type": "vouchers.voucher", "target_id": "-1"}, "target_id", "invalid_id"),
        ({"target_type": "vouchers.voucher", "target_id": "٣"}, "target_id", "invalid_id"),
        ({"target_type": "vouchers.voucher", "target_id": "9" * 19}, "target_id", "invalid_id"),
        ({"target_id": "7"}, "target_type", "type_required"),
        ({"stream": "x'; DROP TABLE"}, "stream", "invalid_stream"),
        ({"actor": "a\x00b"}, "actor", "null_characters_not_allowed"),
        ({"target": "x" * 201}, "target", "max_length"),
    ],
)
def test_bad_filters_answer_400_with_a_code_never_500(
    auditor: Any, params: dict[str, str], field: str, code: str
) -> None:
    response = api_as(auditor).get(API, params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"]
    page = client_for(auditor).get(EVENTS, params)
    assert page.status_code == 400
    assert page.context["form"].errors[field]
    assert b"There is a problem" in page.content


def test_page_numbers_out_of_range_never_fail(auditor: Any, story: dict[str, Any]) -> None:
    client, api = client_for(auditor), api_as(auditor)
    for page in ("999999999999999999999999", "0", "-3", "abc", "1e9"):
        response = client.get(EVENTS, {"page": page, "action": "claim.accepted"})
        assert response.status_code == 200, page
        assert len(response.context["page"].object_list) == 2
        answer = api.get(API, {"page": page})
        assert answer.status_code == 404, page  # as every list of the API: "Invalid page."
        assert answer.json()["error"]["code"] == "not_found"
    assert api.get(API, {"page_size": "10000000000000000000000"}).status_code == 200
    assert api.get(API, {"page_size": "abc"}).status_code == 200


def test_search_pages_cost_a_fixed_number_of_queries(
    auditor: Any, story: dict[str, Any], django_assert_num_queries: Any
) -> None:
    """Session and user, then count and rows: the same at any page size and any content."""
    for _ in range(60):
        audit_record(actor=auditor, action=AuditAction.USER_LOGIN, target=auditor)
    assert AuditEvent.objects.count() > 60  # more than one page of 50
    client, api = client_for(auditor), api_as(auditor)
    for params in ({}, {"page": "2"}, {"action": "claim.accepted"}, {"target": "CV-"}):
        with django_assert_num_queries(4):
            assert client.get(EVENTS, params).status_code == 200
    for size in ("1", "5", "100"):
        with django_assert_num_queries(2):  # authentication is forced: count and rows
            assert api.get(API, {"page_size": size}).status_code == 200


def test_rows_link_to_the_targets_pages(auditor: Any, story: dict[str, Any]) -> None:
    client = client_for(auditor)
    voucher, application, payout = story["voucher"], story["application"], story["payout"]
    page = client.get(EVENTS, {"page_size": 100}).content.decode()
    for url in (
        reverse("officer:voucher_detail", args=[voucher.pk]),
        reverse("audit:voucher_timeline", args=[voucher.pk]),
        reverse("officer:application_detail", args=[application.pk]),
        reverse("audit:application_timeline", args=[application.pk]),
        reverse("vouchers:program_detail", args=[application.program.slug]),
    ):
        assert f'href="{url}"' in page, url
    links = {
        e["action"]: e["target_url"]
        for e in api_as(auditor).get(API, {"page_size": 100}).json()["results"]
    }
    assert links["payout.paid"] == reverse("finance:payout_detail", args=[payout.pk])
    assert links["claim.rejected"] == reverse("officer:claim_detail", args=[story["refused"].pk])
    assert links["program.committed"] == reverse(
        "vouchers:program_detail", args=[application.program.slug]
    )
    for url in set(links.values()) - {None}:
        assert client.get(url).status_code == 200, url


def test_rows_show_data_stream_seq_and_hash(auditor: Any, story: dict[str, Any]) -> None:
    voucher = story["voucher"]
    page = client_for(auditor).get(EVENTS, {"action": "voucher.suspended"})
    html = page.content.decode()
    event = AuditEvent.objects.get(action="voucher.suspended")
    assert f"vouchers.voucher:{voucher.pk}" in html and f"#{event.seq}" in html
    assert event.hash[:12] in html
    assert '<span class="diff-before" title="before">active</span>' in html
    assert '<span class="diff-after" title="after">suspended</span>' in html
    assert "Checking the invoices" in html


def test_data_rows_read_every_shape_writers_use() -> None:
    rows = data_rows(
        {
            "status": {"before": "active", "after": "suspended"},
            "reason": "Checking",
            "subsidy_cents": 1234567,
            "before": {"spent": 1, "cap": 2},
            "after": {"spent": 0, "cap": 1},
            "changes": {"title": {"before": "a", "after": "b"}},
        }
    )
    shown = {(r.key, r.value, r.before, r.after) for r in rows}
    assert ("status", "", "active", "suspended") in shown
    assert ("reason", "Checking", "", "") in shown
    assert ("subsidy_cents", "12,345.67", "", "") in shown
    assert ("cap", "", "2", "1") in shown and ("spent", "", "1", "0") in shown
    assert ("title", "", "a", "b") in shown
    digest = data_rows({"sha256": "ab" * 32})[0]
    assert digest.value == "ab" * 8 + "…" and digest.full == "ab" * 32
    assert data_rows({}) == [] and data_rows(None) == []
    assert data_rows({"claims": [1, 2], "note": None})[0].value == "[1, 2]"


# --- timelines -----------------------------------------------------------------------------


def _actions(timeline: Any) -> list[str]:
    return [e.action for e in timeline.events]


def test_application_timeline_tells_the_whole_story_in_time_order(
    auditor: Any, story: dict[str, Any], other_organization: Any, program: Any
) -> None:
    from applicants import services as applicant_services

    other = applicant_services.application_create(
        actor=other_organization.memberships.get().user,
        organization_id=other_organization.pk,
        program_id=program.pk,
    )
    timeline = timeline_for_application(application_id=story["application"].pk)
    actions = _actions(timeline)
    for expected in (
        "application.created",
        "application.submitted",
        "application.screened",
        "application.review_submitted",
        "application.approved",
        "program.committed",
        "voucher.issued",
        "letter.requested",
        "letter.rendered",
        "voucher.activated",
        "claim.accepted",
        "claim.rejected",
        "claim.reversed",
        "voucher.suspended",
        "voucher.reinstated",
        "payout.created",
        "payout.approved",
        "payout.paid",
    ):
        assert expected in actions, expected
    assert actions.index("application.submitted") < actions.index("voucher.issued")
    assert actions.index("voucher.activated") < actions.index("claim.accepted")
    assert actions[-1] == "payout.paid"
    keys = [(e.occurred_at, e.pk) for e in timeline.events]
    assert keys == sorted(keys)
    other_key = ("applicants.application", str(other.pk))  # ids of other tables may be equal
    assert other_key not in {(e.target_type, e.target_id) for e in timeline.events}
    assert timeline.intact
    streams = {c.key: c.whole for c in timeline.checks}
    assert streams[f"applicants.application:{story['application'].pk}"] is True
    assert streams[f"vouchers.voucher:{story['voucher'].pk}"] is True
    assert streams[f"disbursement.claim:{story['refused'].pk}"] is True
    assert streams[f"disbursement.payout:{story['payout'].pk}"] is True
    assert streams[f"vouchers.program:{story['application'].program_id}"] is False


def test_timeline_pages_for_application_and_voucher(auditor: Any, story: dict[str, Any]) -> None:
    client = client_for(auditor)
    voucher, application = story["voucher"], story["application"]
    for url in (
        reverse("audit:application_timeline", args=[application.pk]),
        reverse("audit:voucher_timeline", args=[voucher.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert application.reference in html and voucher.code in html
        assert 'data-ok="0"' not in html and "Intact" in html
        assert 'data-action="claim.rejected"' in html and 'data-action="payout.paid"' in html
        assert (
            page.context["timeline"].events
            == timeline_for_application(application_id=application.pk).events
        )


def test_timeline_shows_who_was_refused_the_application(
    auditor: Any, story: dict[str, Any], other_applicant: Any
) -> None:
    application = story["application"]
    client_for(other_applicant).get(reverse("applicants:application_detail", args=[application.pk]))
    timeline = timeline_for_application(application_id=application.pk)
    refused = [e for e in timeline.events if e.action == "permission.denied"]
    assert refused and refused[0].actor_id == other_applicant.pk
    check = {c.key: c for c in timeline.checks}[f"accounts.user:{other_applicant.pk}"]
    assert check.ok and not check.whole


def _as_attacker(sql: str, params: list[Any]) -> None:
    """A database superuser switches the append-only trigger off and edits history."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def test_timeline_shows_an_edited_event_and_its_stream_as_broken(
    auditor: Any, story: dict[str, Any]
) -> None:
    voucher = story["voucher"]
    victim = AuditEvent.objects.get(action="claim.reversed")
    _as_attacker(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"reason": "none"}', victim.pk]
    )
    page = client_for(auditor).get(reverse("audit:voucher_timeline", args=[voucher.pk]))
    timeline = page.context["timeline"]
    assert not timeline.intact
    broken = [c for c in timeline.checks if not c.ok]
    assert [c.key for c in broken] == [f"vouchers.voucher:{voucher.pk}"]
    assert broken[0].problems[0].kind == "hash_mismatch"
    assert broken[0].problems[0].seq == victim.seq
    html = page.content.decode()
    assert "Broken" in html and "Chain broken here" in html and 'data-ok="0"' in html


def test_timeline_notices_a_deleted_event_and_a_deleted_last_event(
    auditor: Any, story: dict[str, Any]
) -> None:
    application = story["application"]
    stream = f"applicants.application:{application.pk}"
    middle = AuditEvent.objects.get(stream=stream, action="application.submitted")
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [middle.pk])
    payout_stream = f"disbursement.payout:{story['payout'].pk}"
    last = AuditEvent.objects.filter(stream=payout_stream).order_by("-seq").first()
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    checks = {c.key: c for c in timeline_for_application(application_id=application.pk).checks}
    assert {p.kind for p in checks[stream].problems} >= {"gap", "link_mismatch"}
    assert [p.kind for p in checks[payout_stream].problems] == ["head_mismatch"]


def test_timeline_checks_shared_stream_events_one_by_one(
    auditor: Any, story: dict[str, Any]
) -> None:
    application = story["application"]
    committed = AuditEvent.objects.get(action="program.committed")
    _as_attacker(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s",
        [f'{{"application": "{application.reference}"}}', committed.pk],
    )
    checks = {c.key: c for c in timeline_for_application(application_id=application.pk).checks}
    program_check = checks[committed.stream]
    assert not program_check.whole and program_check.events == 1
    assert [p.kind for p in program_check.problems] == ["hash_mismatch"]


def test_timeline_costs_the_same_queries_with_more_claims(
    auditor: Any,
    story: dict[str, Any],
    provider_staff: Any,  # noqa: F811
    provider: Any,
) -> None:
    client = client_for(auditor)
    url = reverse("audit:voucher_timeline", args=[story["voucher"].pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(3):
        claim_submit(
            actor=provider_staff,
            provider=provider,
            data=claim_input(story["voucher"], currency="EUR"),
        )
    with CaptureQueriesContext(connection) as more:
        assert client.get(url).status_code == 200
    assert len(more) == len(few) <= 10


def test_unknown_or_absurd_timeline_ids_are_404(auditor: Any) -> None:
    client = client_for(auditor)
    for name in ("audit:application_timeline", "audit:voucher_timeline"):
        assert client.get(reverse(name, args=[987654])).status_code == 404
        assert client.get(reverse(name, args=[10**30])).status_code == 404


def test_timeline_lookup_by_reference_or_code(auditor: Any, story: dict[str, Any]) -> None:
    client = client_for(auditor)
    url = reverse("audit:timeline_lookup")
    application, voucher = story["application"], story["voucher"]
    assert client.get(url, {"q": application.reference.lower()})["Location"] == reverse(
        "audit:application_timeline", args=[application.pk]
    )
    typed = voucher.code.lower().replace("-", " ")
    assert client.get(url, {"q": typed})["Location"] == reverse(
        "audit:voucher_timeline", args=[voucher.pk]
    )
    missing = client.get(url, {"q": "NOPE-1"}, follow=True)
    assert missing.status_code == 200 and b"No application has the reference" in missing.content


def test_api_rows_carry_every_field(auditor: Any, story: dict[str, Any]) -> None:
    row = api_as(auditor).get(API, {"action": "voucher.suspended"}).json()["results"][0]
    event = AuditEvent.objects.get(action="voucher.suspended")
    assert row["hash"] == event.hash and row["prev_hash"] == event.prev_hash
    assert row["data"]["status"] == {"before": "active", "after": "suspended"}
    assert row["action_label"] == "Voucher suspended"
    assert set(row) >= {"stream", "seq", "actor", "actor_email", "ip", "target_url", "occurred_at"}


def test_schema_documents_the_audit_events_endpoint() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/audit-events/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"actor", "action", "target_type", "target_id", "date_from", "date_to", "page"} <= names


def test_day_bounds_are_inclusive() -> None:
    from audit.portal_selectors import day_bounds

    start, end = day_bounds(date(2026, 3, 1), date(2026, 3, 1))
    assert start is not None and end is not None and (end - start).days == 1
