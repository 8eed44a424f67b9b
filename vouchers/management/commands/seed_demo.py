"""Seed a demo program round, providers and one user per role. Safe to run again."""

import io
import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from pypdf import PdfWriter

from accounts.models import User
from applicants import services as applicant_services
from applicants.models import Organization
from disbursement.models import Provider, ProviderStaff
from disbursement.services.claims import ClaimInput, LineInput, claim_submit
from vouchers import services as voucher_services
from vouchers.models import Program, RubricCriterion, Voucher

RUBRIC = [
    ("innovation", "Innovation and technical merit", "创新性与技术水平", 3),
    ("team", "Team and ability to deliver", "团队与实施能力", 2),
    ("compute_plan", "Soundness of the compute plan", "算力使用计划的合理性", 2),
    ("impact", "Economic and social impact", "经济与社会效益", 1),
]

DEMO_DOMAIN = "vouchers.example"
ROLES = [
    ("applicant", "Li Wei 李伟", User.Role.APPLICANT),
    ("reviewer", "Chen Jing 陈静", User.Role.REVIEWER),
    ("approver", "Wang Fang 王芳", User.Role.APPROVER),
    ("finance", "Zhao Min 赵敏", User.Role.FINANCE),
    ("provider", "Sun Tao 孙涛", User.Role.PROVIDER),
    ("auditor", "Zhou Yan 周燕", User.Role.AUDITOR),
    ("admin", "Admin 管理员", User.Role.ADMIN),
]
PROVIDERS = [
    (
        "SH Compute Hub",
        "上海算力枢纽有限公司 (Shanghai Compute Hub Co., Ltd.)",
        "91310115MA1K4AY4CX",
        ["domestic", "foreign"],
    ),
    (
        "Ascend Cloud East",
        "昇腾云东部数据中心有限公司 (Ascend Cloud East DC Co., Ltd.)",
        "91310104MA1FL12THP",
        ["domestic"],
    ),
    (
        "Lingang GPU Park",
        "临港智算园区运营有限公司 (Lingang GPU Park Operations Co., Ltd.)",
        "91310000MA7G3BJ1XB",
        ["foreign"],
    ),
]
SAMPLE_ORGS = [
    (
        "深算智能科技（上海）有限公司",
        "91310101MA1HD1TJ30",
        23,
        "Legal-domain LLM fine-tuning",
        "Fine-tune a 14B-parameter model on Chinese court judgments for contract review.",
        46_080,
        "domestic",
        "180000.00",
    ),
    (
        "上海星图视觉科技有限公司",
        "91310112MA1GY7LLJQ",
        41,
        "Satellite imagery foundation model",
        "Pre-train a vision transformer on 2 PB of remote-sensing imagery for crop monitoring.",
        92_160,
        "mixed",
        "280000.00",
    ),
    (
        "声动未来（上海）人工智能有限公司",
        "91330100MA2HD272H6",
        12,
        "Speech model for Shanghainese",
        "Train a speech recogniser for Wu Chinese dialects with 8,000 hours of licensed audio.",
        30_720,
        "foreign",
        "140000.00",
    ),
    (
        "墨韵数据科技（上海）有限公司",
        "91310106MA1FY8QK55",
        18,
        "Classical Chinese OCR and translation",
        "Train a model that reads Ming and Qing woodblock prints and translates them.",
        40_000,
        "domestic",
        "200000.00",
    ),
]


def _pdf_bytes(title: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo program round, providers, one user per role and sample applications."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "demo-pass-2026"))
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, password: str, quiet: bool, **options: Any) -> None:
        users = self._users(password)
        providers = self._providers()
        ProviderStaff.objects.get_or_create(
            user=users["provider"], defaults={"provider": providers[0]}
        )
        programs = self._programs(providers)
        # The sample founders are not real people: their receipts go nowhere.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            self._sample_applications(programs["SH-2026-R1"], providers, users)
        if not quiet:
            self.stdout.write(
                self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):")
            )
            for key, _name, role in ROLES:
                self.stdout.write(f"  {role.label:<18} {key}@{DEMO_DOMAIN}")

    def _users(self, password: str) -> dict[str, User]:
        users = {}
        for key, name, role in ROLES:
            email = f"{key}@{DEMO_DOMAIN}"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User(email=email, full_name=name, role=role)
                user.is_staff = role == User.Role.ADMIN
                user.is_superuser = role == User.Role.ADMIN
                user.email_verified_at = timezone.now()
            user.set_password(password)
            user.is_active = True
            user.save()
            users[key] = user
        return users

    def _providers(self) -> list[Provider]:
        out = []
        for short, legal, number, chips in PROVIDERS:
            provider, _created = Provider.objects.get_or_create(
                registration_number=number,
                defaults={
                    "short_name": short,
                    "legal_name": legal,
                    "region": "CN-SH",
                    "chip_origins": chips,
                },
            )
            out.append(provider)
        return out

    def _programs(self, providers: list[Provider]) -> dict[str, Program]:
        now = timezone.now()
        specs = [
            dict(
                code="SH-2026-R1",
                slug="shanghai-2026-round-1",
                name="Shanghai AI Compute Voucher Program 2026 · Round 1",
                name_zh="上海市人工智能算力券 2026 年第一批",
                summary=(
                    "Vouchers of USD 140,000 to 280,000 for AI startups registered in Shanghai, paying 30% of "
                    "GPU compute at approved data centres and 50% on domestic AI chips."
                ),
                summary_zh="面向在沪注册的人工智能初创企业，发放 14 万至 28 万美元算力券：在认定的智算中心使用算力补贴 30%，使用国产 AI 芯片补贴 50%。",
                region="CN-SH",
                currency="USD",
                budget_cents=14_000_000_00,
                allowed_regions=["CN-SH"],
                max_company_age_years=5,
                max_headcount=300,
                max_annual_revenue_cents=None,
                opens_at=now - timedelta(days=60),
                closes_at=now + timedelta(days=90),
            ),
            dict(
                code="BJ-2025",
                slug="beijing-2025",
                name="Beijing Compute Partner Vouchers 2025",
                name_zh="北京市算力伙伴券 2025",
                summary="The 2025 round. Closed; vouchers are being redeemed.",
                summary_zh="2025 年度批次，已截止申报。",
                region="CN-BJ",
                currency="USD",
                budget_cents=8_400_000_00,
                allowed_regions=["CN-BJ"],
                max_company_age_years=None,
                max_headcount=None,
                max_annual_revenue_cents=None,
                opens_at=now - timedelta(days=400),
                closes_at=now - timedelta(days=200),
            ),
            dict(
                code="HZ-2027-DC",
                slug="hangzhou-2027-domestic-chips",
                name="Hangzhou Domestic-Chip Compute Vouchers 2027",
                name_zh="杭州市国产芯片算力券 2027",
                summary="For compute on domestic AI chips only. Opens next month.",
                summary_zh="仅限国产 AI 芯片算力，下月开放申报。",
                region="CN-ZJ",
                currency="USD",
                budget_cents=5_600_000_00,
                allowed_regions=["CN-ZJ"],
                max_company_age_years=8,
                max_headcount=500,
                max_annual_revenue_cents=None,
                opens_at=now + timedelta(days=30),
                closes_at=now + timedelta(days=150),
            ),
        ]
        authorities = {
            "SH-2026-R1": (
                "Shanghai Municipal Commission of Economy and Informatization",
                "上海市经济和信息化委员会",
                "200 Renmin Avenue, Huangpu District, Shanghai",
            ),
            "BJ-2025": (
                "Beijing Municipal Bureau of Economy and Information Technology",
                "北京市经济和信息化局",
                "2 Yongding Road, Beijing",
            ),
            "HZ-2027-DC": (
                "Hangzhou Bureau of Economy and Information Technology",
                "杭州市经济和信息化局",
                "318 Huaiyin Road, Hangzhou",
            ),
        }
        programs = {}
        for spec in specs:
            code = str(spec.pop("code"))
            name, name_zh, address = authorities[code]
            program, created = Program.objects.get_or_create(
                code=code,
                defaults={
                    **spec,
                    "is_published": True,
                    "authority_name": name,
                    "authority_name_zh": name_zh,
                    "authority_address": address,
                    "signatory_name": "Zhang Hua 张华",
                    "signatory_title": "Director, Compute Voucher Program Office",
                    "signatory_title_zh": "算力券项目办公室主任",
                },
            )
            if created:
                program.full_clean()
                program.approved_providers.set(providers)
                for position, (ccode, cname, cname_zh, weight) in enumerate(RUBRIC):
                    RubricCriterion.objects.create(
                        program=program,
                        code=ccode,
                        name=cname,
                        name_zh=cname_zh,
                        weight=weight,
                        max_score=5,
                        position=position,
                    )
            programs[code] = program
        return programs

    def _sample_applications(
        self, program: Program, providers: list[Provider], users: dict[str, User]
    ) -> None:
        """Three submitted applications from other startups, one returned and resubmitted, so
        officers have something to look at. Built through the services, so the history is real."""
        for index, (legal, number, staff, title, summary, hours, chips, amount) in enumerate(
            SAMPLE_ORGS, start=1
        ):
            if Organization.objects.filter(registration_number=number).exists():
                continue
            with transaction.atomic():
                founder = User.objects.create_user(
                    email=f"founder{index}@{DEMO_DOMAIN}",
                    password=None,
                    full_name=f"Founder {index}",
                    email_verified_at=timezone.now(),
                )
                org = applicant_services.organization_create(
                    actor=founder,
                    legal_name=legal,
                    registration_scheme="cn_uscc",
                    registration_number=number,
                    region="CN-SH",
                    # The third startup is seven years old: it fails the age rule (screening queue).
                    incorporated_on=timezone.localdate()
                    - timedelta(days=2600 if index == 3 else 400 * index),
                    headcount=staff,
                    annual_revenue_cents=1_200_000_00 * index,
                )
            app = applicant_services.application_create(
                actor=founder, organization_id=org.pk, program_id=program.pk
            )
            from core.money import parse_cents

            applicant_services.application_update(
                actor=founder,
                application_id=app.pk,
                values={
                    "title": title,
                    "summary": summary,
                    "description": summary + " Milestones: data (M1-M2), training "
                    "(M3-M5), evaluation and release (M6).",
                    "gpu_hours": hours,
                    "chip_origin": chips,
                    "intended_provider": providers[index % len(providers)],
                    "requested_amount_cents": parse_cents(amount),
                    "declares_truthful": True,
                    "declares_no_double_funding": True,
                    "declares_no_provider_affiliation": True,
                    "declared_by_name": founder.full_name,
                },
            )
            applicant_services.document_add(
                actor=founder,
                application_id=app.pk,
                kind="business_licence",
                upload=SimpleUploadedFile(
                    "business-licence.pdf", _pdf_bytes("Business licence"), "application/pdf"
                ),
            )
            applicant_services.application_submit(actor=founder, application_id=app.pk)
            if index in (1, 2, 4):
                voucher_services.conflict_declare(
                    actor=users["reviewer"], application_id=app.pk, has_conflict=False
                )
            if index in (2, 4):
                # Reviewed: waits in the approver's decision queue.
                voucher_services.conflict_declare(
                    actor=users["approver"], application_id=app.pk, has_conflict=False
                )
                voucher_services.reviewer_assign(
                    actor=users["approver"], application_id=app.pk, reviewer_id=users["reviewer"].pk
                )
                voucher_services.review_submit(
                    actor=users["reviewer"],
                    application_id=app.pk,
                    scores={"innovation": 4, "team": 4, "compute_plan": 3, "impact": 4},
                    recommendation="fund_reduced" if index == 2 else "fund",
                    recommended_amount_cents=250_000_00 if index == 2 else 200_000_00,
                    comments="Strong team and data; the pre-training budget is generous for the "
                    "stated milestones, so a slightly smaller award is recommended.",
                )
            if index == 1:
                applicant_services.application_return(
                    actor=users["reviewer"],
                    application_id=app.pk,
                    message="Please attach the provider's quotation and explain the GPU-hour estimate.",
                )
                applicant_services.application_update(
                    actor=founder,
                    application_id=app.pk,
                    values={
                        "compute_plan": "64 Ascend 910B cards for 30 days at 24 h = 46,080 card-hours (quotation attached).",
                    },
                )
                applicant_services.document_add(
                    actor=founder,
                    application_id=app.pk,
                    kind="compute_quote",
                    upload=SimpleUploadedFile(
                        "quotation.pdf", _pdf_bytes("Quotation"), "application/pdf"
                    ),
                )
                applicant_services.application_submit(actor=founder, application_id=app.pk)
            if index == 4:
                self._sample_voucher(app.pk, founder, providers[0], users)

    def _sample_voucher(
        self, application_id: int, founder: User, provider: Provider, users: dict[str, User]
    ) -> None:
        """Approved, letter rendered, accepted, and used: one accepted claim and one refused, so
        the provider portal, the ledger and the spending chart have something to show."""
        voucher_services.application_approve(
            actor=users["approver"], application_id=application_id, amount_cents=200_000_00
        )
        voucher = Voucher.objects.get(application_id=application_id)
        letter = voucher.letters.get(superseded_at__isnull=True)
        letter.refresh_from_db()
        if letter.status != letter.Status.READY:
            # Rendered here when no worker runs yet (REDIS_URL set before the worker starts).
            voucher_services.award_letter_render(letter_id=letter.pk)
        voucher_services.voucher_accept(actor=founder, voucher_id=voucher.pk)
        today = timezone.localdate()
        for reference, invoice, amounts in (
            (
                "SHCH-2026-0001",
                "INV-SHCH-10231",
                [("domestic", 48_000_00), ("domestic", 12_500_00)],
            ),
            ("SHCH-2026-0002", "INV-SHCH-10388", [("domestic", 35_000_00)]),
        ):
            claim_submit(
                actor=users["provider"],
                provider=provider,
                data=ClaimInput(
                    voucher_code=voucher.code,
                    provider_reference=reference,
                    invoice_number=invoice,
                    # The second invoice is smaller than its lines: refused, with the reason.
                    invoice_total_cents=sum(a for _c, a in amounts)
                    - (0 if reference.endswith("1") else 1_000_00),
                    currency=voucher.currency,
                    service_period_start=today,
                    service_period_end=today,
                    lines=[
                        LineInput(
                            chip_origin=chips,
                            gpu_hours=Decimal(amount) / Decimal(250_00),
                            amount_cents=amount,
                            description="Ascend 910B, on-demand",
                        )
                        for chips, amount in amounts
                    ],
                ),
            )
