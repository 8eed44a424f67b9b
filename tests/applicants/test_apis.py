"""The REST API: the applicant journey end to end, and every bad input answered with a 4xx."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import api_token_create
from applicants.models import Application, ApplicationVersion, Document, Organization
from audit.models import AuditAction, AuditEvent
from tests.conftest import api_as
from tests.factories import ProgramFactory, pdf_bytes, png_bytes

pytestmark = pytest.mark.django_db

VALID_USCC = "91350100M000100Y43"


def _assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    if field:
        assert field in body["error"].get("fields", {}), body
    return body["error"]


def _post_json(client, url, payload):
    return client.post(
        url,
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
    )


def _patch_json(client, url, payload):
    return client.patch(
        url,
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
    )


ORG = {
    "legal_name": "深算智能科技（上海）有限公司",
    "registration_number": VALID_USCC,
    "region": "CN-SH",
    "incorporated_on": "2023-05-01",
    "headcount": 20,
    "annual_revenue": "1200000.00",
}


def test_full_journey_through_the_api_with_a_token(applicant, program, provider):
    _token, raw = api_token_create(user=applicant, name="ci")
    client = api_as(applicant)
    client.force_authenticate(user=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")

    org = _post_json(client, "/api/v1/organizations/", ORG)
    assert org.status_code == 201, org.content
    assert org.json()["annual_revenue"] == "1200000.00"
    created = _post_json(
        client, "/api/v1/applications/", {"organization": org.json()["id"], "program": program.pk}
    )
    assert created.status_code == 201, created.content
    app = created.json()
    assert app["status"] == "draft" and app["missing"]
    url = f"/api/v1/applications/{app['id']}/"
    patched = _patch_json(
        client,
        url,
        {
            "title": "Legal LLM",
            "summary": "s",
            "description": "面向法律领域的大模型 🚀",
            "gpu_hours": 46080,
            "chip_origin": "domestic",
            "intended_provider": provider.pk,
            "requested_amount": "150000.50",
            "declares_truthful": True,
            "declares_no_double_funding": True,
            "declares_no_provider_affiliation": True,
            "declared_by_name": "Li Wei",
        },
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["requested_amount"] == "150000.50"
    upload = client.post(
        f"{url}documents/",
        {"kind": "business_licence", "file": SimpleUploadedFile("licence.pdf", pdf_bytes())},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    assert client.get(url).json()["missing"] == []
    receipt = client.post(f"{url}submit/")
    assert receipt.status_code == 200, receipt.content
    body = receipt.json()
    assert body["receipt_number"].endswith("-V1") and body["status"] == "in_review"
    assert body["submitted_at"] and len(body["content_sha256"]) == 64
    again = client.post(f"{url}submit/")  # a retry returns the same receipt
    assert again.json()["receipt_number"] == body["receipt_number"]
    assert ApplicationVersion.objects.count() == 1
    listing = client.get("/api/v1/applications/")
    assert listing.json()["count"] == 1 and listing.json()["results"][0]["status"] == "in_review"


def test_session_auth_requires_csrf(applicant, organization, program):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(applicant)
    response = _post_json(
        client, "/api/v1/applications/", {"organization": organization.pk, "program": program.pk}
    )
    _assert_error(response, 403)
    assert not Application.objects.exists()


def test_unauthenticated_gets_401_json(api):
    _assert_error(api.get("/api/v1/applications/"), 401, "not_authenticated")


def test_revoked_token_is_refused(applicant):
    from accounts.services import api_token_revoke

    token, raw = api_token_create(user=applicant, name="x")
    api_token_revoke(actor=applicant, token_id=token.pk)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    _assert_error(client.get("/api/v1/me/"), 401)
    client.credentials(HTTP_AUTHORIZATION="Token cv_not-a-real-token")
    _assert_error(client.get("/api/v1/me/"), 401)


# --- bad input: organizations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        (
            {"registration_number": "91350100M000100Y44"},
            "registration_number",
            "uscc_check_character",
        ),
        ({"registration_number": "91350100M00010"}, "registration_number", "uscc_length"),
        (
            {"registration_number": "91350100M000100S43"},
            "registration_number",
            "uscc_forbidden_letter",
        ),
        ({"legal_name": ""}, "legal_name", None),
        ({"legal_name": "x" * 201}, "legal_name", None),
        ({"region": "Atlantis"}, "region", None),
        ({"incorporated_on": "2023-02-30"}, "incorporated_on", None),
        ({"headcount": -1}, "headcount", None),
        ({"headcount": 2**70}, "headcount", None),
        ({"annual_revenue": "-5"}, "annual_revenue", "negative"),
        ({"annual_revenue": "1e6"}, "annual_revenue", "scientific_notation"),
        ({"is_credit_blacklisted": False}, "is_credit_blacklisted", "unknown_field"),
    ],
)
def test_organization_create_bad_input(applicant, change, field, code):
    response = _post_json(api_as(applicant), "/api/v1/organizations/", {**ORG, **change})
    _assert_error(response, 400, code, field)
    assert not Organization.objects.exists()


def test_organization_missing_required_fields(applicant):
    error = _assert_error(_post_json(api_as(applicant), "/api/v1/organizations/", {}), 400)
    assert {"legal_name", "registration_number", "region", "incorporated_on", "headcount"} <= set(
        error["fields"]
    )


def test_organization_duplicate_number_is_409_with_guidance(applicant, other_applicant):
    assert _post_json(api_as(applicant), "/api/v1/organizations/", ORG).status_code == 201
    error = _assert_error(
        _post_json(api_as(other_applicant), "/api/v1/organizations/", ORG),
        409,
        "registration_number_taken",
        "registration_number",
    )
    assert "invite" in error["message"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', "null", '{"legal_name": NaN}'])
def test_malformed_json_is_400(applicant, body):
    response = _post_json(api_as(applicant), "/api/v1/organizations/", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"parse_error", "invalid", "null"}


# --- bad input: applications ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-1", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("abc", "invalid"),
        ("1e5", "scientific_notation"),
        ("150000.001", "sub_cent"),
        ("92233720368547758.08", "too_large"),
        ("999999999999999999999999999999", "too_large"),
        ("280000.01", "amount_out_of_range"),
        ("139999.99", "amount_out_of_range"),
        ("", "required"),
    ],
)
def test_requested_amount_bad_values(applicant, draft, amount, code):
    response = _patch_json(
        api_as(applicant), f"/api/v1/applications/{draft.pk}/", {"requested_amount": amount}
    )
    _assert_error(response, 400, code, "requested_amount")
    draft.refresh_from_db()
    assert draft.requested_amount_cents is None


@pytest.mark.parametrize("literal", ["1.5e5", "150000.001", "-150000", "1E400"])
def test_requested_amount_json_number_literals_are_judged_exactly(applicant, draft, literal):
    response = _patch_json(
        api_as(applicant), f"/api/v1/applications/{draft.pk}/", f'{{"requested_amount": {literal}}}'
    )
    assert response.status_code == 400
    draft.refresh_from_db()
    assert draft.requested_amount_cents is None


def test_requested_amount_as_json_number_with_cents_is_exact(applicant, draft):
    response = _patch_json(
        api_as(applicant), f"/api/v1/applications/{draft.pk}/", '{"requested_amount": 150000.10}'
    )
    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert draft.requested_amount_cents == 150_000_10


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 10_001}, "description"),
        ({"gpu_hours": 0}, "gpu_hours"),
        ({"gpu_hours": 2**64}, "gpu_hours"),
        ({"gpu_hours": "many"}, "gpu_hours"),
        ({"gpu_hours": 1.5}, "gpu_hours"),
        ({"chip_origin": "martian"}, "chip_origin"),
        ({"intended_provider": 999_999_999}, "intended_provider"),
        ({"intended_provider": 2**70}, "intended_provider"),
        ({"title": "bad\x00byte"}, "title"),
        ({"title": "lone \ud800 surrogate"}, "title"),
        ({"status": "approved"}, "status"),
        ({"version": 7}, "version"),
        ({"organization": 1}, "organization"),
    ],
)
def test_application_update_bad_fields(applicant, draft, payload, field):
    response = _patch_json(api_as(applicant), f"/api/v1/applications/{draft.pk}/", payload)
    _assert_error(response, 400, field=field)
    draft.refresh_from_db()
    assert draft.title == "" and draft.status == "draft"


def test_text_in_any_script_round_trips(applicant, draft):
    texts = {
        "title": "法律大模型 ⚖️",
        "summary": "نموذج لغوي كبير للعقود",
        "description": "שלום " + "字" * 9_990,
    }
    response = _patch_json(api_as(applicant), f"/api/v1/applications/{draft.pk}/", texts)
    assert response.status_code == 200, response.content
    data = api_as(applicant).get(f"/api/v1/applications/{draft.pk}/").json()
    assert {k: data[k] for k in texts} == texts


def test_application_create_for_closed_and_future_programs(applicant, organization):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    closed = ProgramFactory(opens_at=now - timedelta(days=20), closes_at=now - timedelta(days=1))
    future = ProgramFactory(opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=20))
    client = api_as(applicant)
    _assert_error(
        _post_json(
            client, "/api/v1/applications/", {"organization": organization.pk, "program": closed.pk}
        ),
        400,
        "program_closed",
    )
    _assert_error(
        _post_json(
            client, "/api/v1/applications/", {"organization": organization.pk, "program": future.pk}
        ),
        400,
        "program_not_open",
    )
    assert not Application.objects.exists()


def test_application_create_with_unknown_ids(applicant, organization, program):
    client = api_as(applicant)
    _assert_error(
        _post_json(
            client, "/api/v1/applications/", {"organization": 999999, "program": program.pk}
        ),
        400,
    )
    _assert_error(
        _post_json(
            client, "/api/v1/applications/", {"organization": organization.pk, "program": 999999}
        ),
        400,
    )
    _assert_error(
        _post_json(client, "/api/v1/applications/", {"organization": 2**80, "program": program.pk}),
        400,
    )


def test_second_open_application_is_409(applicant, organization, program, draft):
    response = _post_json(
        api_as(applicant),
        "/api/v1/applications/",
        {"organization": organization.pk, "program": program.pk},
    )
    _assert_error(response, 409, "application_exists")


def test_submit_incomplete_lists_fields(applicant, draft):
    error = _assert_error(
        api_as(applicant).post(f"/api/v1/applications/{draft.pk}/submit/"), 400, "incomplete"
    )
    assert "requested_amount_cents" in error["fields"]


def test_edit_after_submit_is_409_and_changes_nothing(applicant, submitted):
    client = api_as(applicant)
    _assert_error(
        _patch_json(client, f"/api/v1/applications/{submitted.pk}/", {"title": "new"}),
        409,
        "application_locked",
    )
    upload = client.post(
        f"/api/v1/applications/{submitted.pk}/documents/",
        {"kind": "other", "file": SimpleUploadedFile("x.pdf", pdf_bytes())},
        format="multipart",
    )
    _assert_error(upload, 409, "application_locked")
    doc = Document.objects.filter(application=submitted).first()
    _assert_error(client.delete(f"/api/v1/applications/{submitted.pk}/documents/{doc.pk}/"), 409)
    submitted.refresh_from_db()
    assert submitted.title == "Legal LLM"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 100, "file_type_not_allowed"),
        ("empty.pdf", b"", "empty_file"),
        ("image.pdf", png_bytes(), "file_extension_mismatch"),
    ],
)
def test_document_upload_bad_files(applicant, draft, name, data, code):
    response = api_as(applicant).post(
        f"/api/v1/applications/{draft.pk}/documents/",
        {"kind": "business_licence", "file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    _assert_error(response, 400, code)
    assert not Document.objects.exists()


def test_document_upload_over_limit(applicant, draft, settings):
    settings.DOCUMENT_MAX_BYTES = 1024
    response = api_as(applicant).post(
        f"/api/v1/applications/{draft.pk}/documents/",
        {
            "kind": "business_licence",
            "file": SimpleUploadedFile("big.pdf", pdf_bytes() + b"0" * 2048),
        },
        format="multipart",
    )
    _assert_error(response, 400, "file_too_large")


def test_document_upload_without_file(applicant, draft):
    response = api_as(applicant).post(
        f"/api/v1/applications/{draft.pk}/documents/", {"kind": "other"}, format="multipart"
    )
    _assert_error(response, 400, field="file")


# --- other organizations' applications --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("get", "", None),
        ("patch", "", {"title": "hijacked"}),
        ("post", "submit/", None),
        ("post", "withdraw/", {}),
        ("get", "documents/", None),
        ("get", "versions/", None),
    ],
)
def test_other_organizations_application_is_404_and_recorded(
    other_applicant, submitted, method, suffix, payload
):
    client = api_as(other_applicant)
    url = f"/api/v1/applications/{submitted.pk}/{suffix}"
    if payload is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(
            url, data=json.dumps(payload), content_type="application/json"
        )
    _assert_error(response, 404, "not_found")
    event = AuditEvent.objects.filter(
        action=AuditAction.PERMISSION_DENIED, actor=other_applicant
    ).get()
    assert event.target_id == str(submitted.pk)
    submitted.refresh_from_db()
    assert submitted.title == "Legal LLM" and submitted.status == "in_review"


def test_other_organizations_document_download_is_404(other_applicant, submitted):
    doc = Document.objects.get(application=submitted)
    response = api_as(other_applicant).get(
        f"/api/v1/applications/{submitted.pk}/documents/{doc.pk}/"
    )
    assert response.status_code == 404


def test_list_never_includes_other_organizations(
    applicant, other_applicant, submitted, other_organization, program
):
    from applicants import services

    services.application_create(
        actor=other_applicant, organization_id=other_organization.pk, program_id=program.pk
    )
    mine = api_as(applicant).get("/api/v1/applications/").json()
    theirs = api_as(other_applicant).get("/api/v1/applications/").json()
    assert [a["id"] for a in mine["results"]] == [submitted.pk]
    assert submitted.pk not in [a["id"] for a in theirs["results"]]


def test_officer_list_excludes_drafts_and_filters(
    reviewer, submitted, other_applicant, other_organization, program
):
    from applicants import services

    services.application_create(
        actor=other_applicant, organization_id=other_organization.pk, program_id=program.pk
    )
    client = api_as(reviewer)
    data = client.get("/api/v1/applications/").json()
    assert [a["id"] for a in data["results"]] == [submitted.pk]
    assert client.get("/api/v1/applications/?status=draft").json()["count"] == 0
    assert client.get(f"/api/v1/applications/?search={submitted.reference}").json()["count"] == 1
    _assert_error(client.get("/api/v1/applications/?status=bogus"), 400, field="status")
    _assert_error(client.get("/api/v1/applications/?program=abc"), 400, field="program")
    _assert_error(client.get("/api/v1/applications/?ordering=password"), 400)
    assert client.get("/api/v1/applications/?page=999").status_code == 404
    for bad in (
        "0603-09-12T05:23:57-19:31",
        "0001-01-01T00:00:00Z",
        "yesterday",
        "2026-13-01T00:00:00Z",
    ):
        _assert_error(
            client.get("/api/v1/applications/", {"submitted_after": bad}),
            400,
            field="submitted_after",
        )
    assert (
        client.get(
            "/api/v1/applications/", {"submitted_after": "2026-01-01T00:00:00+08:00"}
        ).status_code
        == 200
    )


def test_officer_can_return_and_applicant_resubmits_with_diff(applicant, reviewer, submitted):
    officer = api_as(reviewer)
    _assert_error(
        _post_json(officer, f"/api/v1/applications/{submitted.pk}/return/", {"message": "x"}),
        403,
        "conflict_declaration_required",
    )
    declared = _post_json(
        officer,
        f"/api/v1/applications/{submitted.pk}/conflict-declaration/",
        {"has_conflict": False},
    )
    assert declared.status_code == 201
    _assert_error(
        _post_json(officer, f"/api/v1/applications/{submitted.pk}/return/", {}),
        400,
        field="message",
    )
    returned = _post_json(
        officer, f"/api/v1/applications/{submitted.pk}/return/", {"message": "More detail."}
    )
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    client = api_as(applicant)
    assert (
        _patch_json(
            client, f"/api/v1/applications/{submitted.pk}/", {"title": "Legal LLM v2"}
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/applications/{submitted.pk}/submit/").json()["version"] == 2
    diff = officer.get(f"/api/v1/applications/{submitted.pk}/versions/2/diff/").json()
    assert diff["changes"] == [
        {
            "field": "title",
            "field_label": "Project title",
            "before": "Legal LLM",
            "after": "Legal LLM v2",
        }
    ]
    assert officer.get(f"/api/v1/applications/{submitted.pk}/versions/1/diff/").status_code == 404


def test_applicant_cannot_return_their_own_application(applicant, submitted):
    response = _post_json(
        api_as(applicant), f"/api/v1/applications/{submitted.pk}/return/", {"message": "x"}
    )
    _assert_error(response, 403)


def test_withdraw_via_api(applicant, submitted):
    response = _post_json(
        api_as(applicant), f"/api/v1/applications/{submitted.pk}/withdraw/", {"reason": "no"}
    )
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    _assert_error(
        api_as(applicant).post(f"/api/v1/applications/{submitted.pk}/submit/"),
        409,
        "invalid_status",
    )


def test_programs_are_public(api, program):
    data = api.get("/api/v1/programs/?state=open").json()
    assert data[0]["award_ceiling"] == "280000.00"
    _assert_error(api.get("/api/v1/programs/?state=sideways"), 400)
    assert api.get(f"/api/v1/programs/{program.pk}/").status_code == 200
    _assert_error(api.get("/api/v1/programs/999999/"), 404)


def test_officer_search_by_reference_title_and_organization(reviewer, submitted):
    client = api_as(reviewer)
    org_fragment = submitted.organization.legal_name.split()[0].lower()
    for term in (submitted.reference.lower(), "legal ll", org_fragment):
        data = client.get("/api/v1/applications/", {"search": term}).json()
        assert [a["id"] for a in data["results"]] == [submitted.pk], term
    assert client.get("/api/v1/applications/", {"search": "no such thing"}).json()["count"] == 0
