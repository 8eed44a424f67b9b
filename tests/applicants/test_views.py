"""The applicant portal pages: forms show clear messages for bad input and store nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applicants.models import Application, ApplicationVersion, Document, Organization
from audit.models import AuditAction, AuditEvent
from tests.factories import pdf_bytes

pytestmark = pytest.mark.django_db

ORG_FORM = {
    "legal_name": "深算智能科技（上海）有限公司",
    "registration_scheme": "cn_uscc",
    "registration_number": "91350100M000100Y43",
    "region": "CN-SH",
    "incorporated_on": "2023-05-01",
    "headcount": "20",
    "annual_revenue_cents": "0",
    "revenue_currency": "CNY",
}


@pytest.fixture
def web(client, applicant):
    client.force_login(applicant)
    return client


def test_dashboard_invites_to_register_organization(web):
    page = web.get(reverse("applicants:dashboard"))
    assert page.status_code == 200
    assert "Register your organization" in page.content.decode()


def test_organization_form_creates_and_redirects(web):
    response = web.post(reverse("applicants:organization_create"), ORG_FORM)
    assert response.status_code == 302
    assert Organization.objects.get().legal_name == ORG_FORM["legal_name"]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M0001", "18 characters"),
        ("91350100M000100O43", "I, O, S, V and Z"),
    ],
)
def test_organization_form_shows_uscc_error_inline(web, number, message):
    response = web.post(
        reverse("applicants:organization_create"), {**ORG_FORM, "registration_number": number}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'class="field has-error" id="field-registration_number"' in html
    assert not Organization.objects.exists()


def test_organization_form_taken_number_says_what_to_do(web, other_applicant, client):
    web.post(reverse("applicants:organization_create"), ORG_FORM)
    client.force_login(other_applicant)
    response = client.post(reverse("applicants:organization_create"), ORG_FORM)
    assert response.status_code == 200
    assert "ask a colleague who manages it to invite you" in response.content.decode()
    assert Organization.objects.count() == 1


def test_organization_form_missing_fields(web):
    response = web.post(reverse("applicants:organization_create"), {})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") >= 4
    assert not Organization.objects.exists()


def test_start_application_creates_draft_and_opens_wizard(web, organization, program):
    response = web.post(
        reverse("applicants:application_start", args=[program.pk]),
        {"organization": organization.pk},
    )
    app = Application.objects.get()
    assert response["Location"] == reverse("applicants:application_step", args=[app.pk, "project"])


def test_start_application_twice_goes_to_the_existing_one(web, organization, program, draft):
    response = web.post(
        reverse("applicants:application_start", args=[program.pk]),
        {"organization": organization.pk},
    )
    assert response["Location"] == reverse("applicants:application_detail", args=[draft.pk])
    assert Application.objects.count() == 1


def test_wizard_save_draft_stays_and_continue_moves_on(web, draft):
    url = reverse("applicants:application_step", args=[draft.pk, "project"])
    stay = web.post(
        url, {"title": "Legal LLM", "summary": "", "description": "", "save_draft": "1"}
    )
    assert stay["Location"] == url
    go = web.post(url, {"title": "Legal LLM", "summary": "s", "description": "d", "continue": "1"})
    assert go["Location"] == reverse("applicants:application_step", args=[draft.pk, "compute"])
    draft.refresh_from_db()
    assert (draft.title, draft.summary) == ("Legal LLM", "s")
    page = web.get(url).content.decode()
    assert "1 of 5 sections complete" in page
    assert page.count('<span class="req"') == 3  # title, summary, description: needed to submit


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "cannot be negative"),
        ("0", "greater than zero"),
        ("lots", "digits only"),
        ("1e5", "scientific notation"),
        ("150000.001", "fractions of a cent"),
        ("99999999999999999999999", "too large"),
        ("280000.01", "awards between"),
    ],
)
def test_funding_step_shows_amount_errors_inline(web, draft, amount, message):
    response = web.post(
        reverse("applicants:application_step", args=[draft.pk, "funding"]),
        {"requested_amount_cents": amount, "continue": "1"},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    draft.refresh_from_db()
    assert draft.requested_amount_cents is None


def test_funding_step_accepts_grouped_amount(web, draft):
    web.post(
        reverse("applicants:application_step", args=[draft.pk, "funding"]),
        {"requested_amount_cents": "150,000.50", "continue": "1"},
    )
    draft.refresh_from_db()
    assert draft.requested_amount_cents == 150_000_50


def test_documents_step_rejects_executable_renamed_pdf(web, draft):
    url = reverse("applicants:application_step", args=[draft.pk, "documents"])
    response = web.post(
        url,
        {
            "kind": "business_licence",
            "upload": "1",
            "file": SimpleUploadedFile("licence.pdf", b"MZ\x90\x00" + b"\x00" * 500),
        },
    )
    assert response.status_code == 200
    assert "is not a PDF, PNG or JPEG file" in response.content.decode()
    assert not Document.objects.exists()
    ok = web.post(
        url,
        {
            "kind": "business_licence",
            "upload": "1",
            "file": SimpleUploadedFile("licence.pdf", pdf_bytes()),
        },
    )
    assert ok.status_code == 302
    assert Document.objects.count() == 1


def test_review_page_lists_missing_answers(web, draft):
    page = web.get(reverse("applicants:application_review", args=[draft.pk])).content.decode()
    assert "Before you can submit" in page
    assert "Upload your business licence." in page


def test_submit_double_post_gives_one_submission_and_receipt(web, complete_draft):
    url = reverse("applicants:application_submit", args=[complete_draft.pk])
    first = web.post(url)
    second = web.post(url)
    receipt_url = reverse("applicants:application_receipt", args=[complete_draft.pk, 1])
    assert first["Location"] == second["Location"] == receipt_url
    assert ApplicationVersion.objects.count() == 1
    receipt = web.get(receipt_url).content.decode()
    assert f"{complete_draft.reference}-V1" in receipt
    assert "Submitted at" in receipt


def test_wizard_after_submit_redirects_to_status_page(web, submitted):
    response = web.post(
        reverse("applicants:application_step", args=[submitted.pk, "project"]), {"title": "changed"}
    )
    assert response["Location"] == reverse("applicants:application_detail", args=[submitted.pk])
    submitted.refresh_from_db()
    assert submitted.title == "Legal LLM"


@pytest.mark.parametrize(
    "name", ["application_detail", "application_review", "application_withdraw"]
)
def test_other_organization_pages_are_404_and_recorded(client, other_applicant, submitted, name):
    client.force_login(other_applicant)
    response = client.get(reverse(f"applicants:{name}", args=[submitted.pk]))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        action=AuditAction.PERMISSION_DENIED, actor=other_applicant
    ).exists()


def test_other_organization_wizard_post_changes_nothing(client, other_applicant, draft):
    client.force_login(other_applicant)
    response = client.post(
        reverse("applicants:application_step", args=[draft.pk, "project"]), {"title": "x"}
    )
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.title == ""


def test_document_download_requires_access(client, applicant, other_applicant, submitted):
    doc = Document.objects.get()
    url = reverse("applicants:document_download", args=[submitted.pk, doc.pk])
    client.force_login(other_applicant)
    assert client.get(url).status_code == 404
    client.force_login(applicant)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_withdraw_page(web, submitted):
    response = web.post(
        reverse("applicants:application_withdraw", args=[submitted.pk]), {"reason": "Funded"}
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == "withdrawn"


def test_officer_sees_diff_and_can_return(client, reviewer, submitted, applicant):
    from applicants import services

    client.force_login(reviewer)
    url = reverse("officer:application_detail", args=[submitted.pk])
    gate = client.get(url).content.decode()
    assert 'data-testid="declare-conflict"' in gate and "Legal LLM" not in gate
    client.post(reverse("officer:declare_conflict", args=[submitted.pk]), {"has_conflict": "no"})
    response = client.post(
        reverse("officer:return", args=[submitted.pk]), {"message": "Please explain the GPU-hours."}
    )
    assert response.status_code == 302
    services.application_update(
        actor=applicant, application_id=submitted.pk, values={"gpu_hours": 50_000}
    )
    services.application_submit(actor=applicant, application_id=submitted.pk)
    page = client.get(url).content.decode()
    assert "Version 1 → version 2" in page
    assert "46080" in page and "50000" in page  # the diff shows the raw answers


def test_officer_pages_refused_to_applicants(web, submitted):
    assert web.get(reverse("officer:applications")).status_code == 403
    assert web.get(reverse("officer:application_detail", args=[submitted.pk])).status_code == 403


def test_chinese_pages_render(web, draft):
    web.post(reverse("accounts:set_language"), {"language": "zh-hans", "next": "/portal/"})
    page = web.get(reverse("applicants:application_step", args=[draft.pk, "project"]))
    assert page.status_code == 200
    assert '<html lang="zh-hans">' in page.content.decode()


def test_public_pages(client, program):
    assert client.get("/").status_code == 200
    assert client.get(reverse("vouchers:program_list")).status_code == 200
    assert client.get(reverse("vouchers:program_detail", args=[program.slug])).status_code == 200
    assert client.get(reverse("vouchers:program_detail", args=["nope"])).status_code == 404
