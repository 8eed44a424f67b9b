"""Factories that make valid minimal rows. History (audit, versions) is built through services."""

import io
from datetime import date, timedelta

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from pypdf import PdfWriter

from accounts.models import User
from applicants.models import Application, Membership, Organization
from applicants.uscc import ALPHABET, check_character
from disbursement.models import Provider
from vouchers.models import Program, RubricCriterion

DEFAULT_RUBRIC = [
    ("innovation", "Innovation and technical merit", 3),
    ("team", "Team and ability to deliver", 2),
    ("compute_plan", "Soundness of the compute plan", 2),
]

factory.Faker._DEFAULT_LOCALE = "en_US"


def make_uscc(n: int) -> str:
    """A valid unified social credit code, distinct for each n."""
    body = "91310000"
    digits = ""
    for _ in range(9):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    first17 = body + digits
    return first17 + check_character(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    role = User.Role.APPLICANT
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    short_name = factory.Sequence(lambda n: f"Provider {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.short_name} Co., Ltd.")
    registration_number = factory.Sequence(lambda n: make_uscc(900_000 + n))
    region = "CN-SH"
    chip_origins = ["domestic", "foreign"]


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"TP-{n:04d}")
    slug = factory.Sequence(lambda n: f"test-program-{n}")
    name = factory.Sequence(lambda n: f"Test Program {n}")
    region = "CN-SH"
    currency = "CNY"
    budget_cents = 10_000_000_00
    award_floor_cents = 140_000_00
    award_ceiling_cents = 280_000_00
    allowed_regions = ["CN-SH"]
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    is_published = True

    authority_name = "Shanghai Municipal Commission of Economy and Informatization"
    authority_name_zh = "上海市经济和信息化委员会"
    signatory_name = "Zhang Hua"
    signatory_title = "Director, Compute Voucher Program Office"

    @factory.post_generation
    def providers(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.approved_providers.set(extracted if extracted is not None else [ProviderFactory()])

    @factory.post_generation
    def criteria(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted is not False:
            for position, (code, name, weight) in enumerate(DEFAULT_RUBRIC):
                RubricCriterion.objects.create(
                    program=obj, code=code, name=name, weight=weight, max_score=5, position=position
                )


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    legal_name = factory.Sequence(lambda n: f"Startup {n} Co., Ltd.")
    registration_number = factory.Sequence(lambda n: make_uscc(n + 1))
    region = "CN-SH"
    incorporated_on = factory.LazyFunction(lambda: date.today() - timedelta(days=700))
    headcount = 12
    annual_revenue_cents = 0

    @factory.post_generation
    def owner(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            Membership.objects.create(organization=obj, user=extracted, role=Membership.Role.OWNER)


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A draft with nothing answered yet."""

    class Meta:
        model = Application

    organization = factory.SubFactory(OrganizationFactory)
    program = factory.SubFactory(ProgramFactory)
    reference = factory.Sequence(lambda n: f"APP-{n:06d}")
    currency = factory.LazyAttribute(lambda o: o.program.currency)
    created_by = factory.SubFactory(UserFactory)


def pdf_bytes(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (30, 30, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def pdf_upload(name: str = "licence.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")
