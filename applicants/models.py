"""Organizations, their members, and their applications with versions and documents."""

import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel
from core.regions import REGIONS
from disbursement.models import ChipOrigin

TEXT_LIMIT = 10_000  # longest free-text answer we accept (characters)
ALL_STATUSES = [
    "draft",
    "submitted",
    "screening",
    "in_review",
    "returned",
    "approved",
    "rejected",
    "withdrawn",
]


class Organization(BaseModel):
    """A company (or other legal person) that applies. One per registration number."""

    class Scheme(models.TextChoices):
        CN_USCC = "cn_uscc", _("Unified social credit code (China)")
        OTHER = "other", _("Other registration number")

    legal_name = models.CharField(_("legal name"), max_length=200)
    registration_scheme = models.CharField(
        _("registration scheme"), max_length=10, choices=Scheme.choices, default=Scheme.CN_USCC
    )
    registration_number = models.CharField(_("registration number"), max_length=40, unique=True)
    region = models.CharField(_("region"), max_length=10, choices=REGIONS)
    address = models.CharField(_("registered address"), max_length=300, blank=True)
    website = models.URLField(_("website"), max_length=200, blank=True)
    incorporated_on = models.DateField(_("date of incorporation"))
    headcount = models.PositiveIntegerField(_("employees"))
    annual_revenue_cents = models.BigIntegerField(_("annual revenue (cents)"), default=0)
    revenue_currency = models.CharField(_("revenue currency"), max_length=3, default="CNY")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="affiliates",
        verbose_name=_("parent organization"),
        help_text=_("Affiliated organizations count as one for eligibility."),
    )
    is_credit_blacklisted = models.BooleanField(_("on a credit blacklist"), default=False)
    blacklist_note = models.CharField(_("blacklist note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["legal_name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        constraints = [
            models.CheckConstraint(
                condition=Q(annual_revenue_cents__gte=0), name="org_revenue_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(registration_scheme__in=["cn_uscc", "other"]), name="org_scheme_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class Membership(BaseModel):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "member"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(BaseModel):
    """An emailed invitation to join an organization. Only the token's SHA-256 is stored."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("email"))
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization}"


class Application(BaseModel):
    """One organization's application to one program. Locked once submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SCREENING = "screening", _("Eligibility screening")
        IN_REVIEW = "in_review", _("In review")
        RETURNED = "returned", _("Returned for changes")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.SUBMITTED: {Status.SCREENING, Status.IN_REVIEW, Status.RETURNED, Status.WITHDRAWN},
        Status.SCREENING: {Status.IN_REVIEW, Status.RETURNED, Status.REJECTED, Status.WITHDRAWN},
        Status.IN_REVIEW: {Status.APPROVED, Status.REJECTED, Status.RETURNED, Status.WITHDRAWN},
        Status.RETURNED: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
        Status.WITHDRAWN: set(),
    }
    EDITABLE = frozenset({Status.DRAFT, Status.RETURNED})
    # Where a submission can be at rest; submitting again from here is a harmless repeat.
    SUBMITTED_STATES = frozenset({Status.SUBMITTED, Status.SCREENING, Status.IN_REVIEW})
    OPEN = frozenset(
        {Status.DRAFT, Status.SUBMITTED, Status.SCREENING, Status.IN_REVIEW, Status.RETURNED}
    )

    class ChipPlan(models.TextChoices):
        DOMESTIC = ChipOrigin.DOMESTIC.value, ChipOrigin.DOMESTIC.label
        FOREIGN = ChipOrigin.FOREIGN.value, ChipOrigin.FOREIGN.label
        MIXED = "mixed", _("Both domestic and foreign chips")

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="applications"
    )
    program = models.ForeignKey(
        "vouchers.Program", on_delete=models.PROTECT, related_name="applications"
    )
    reference = models.CharField(_("reference"), max_length=40, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    version = models.PositiveIntegerField(_("submitted versions"), default=0)
    currency = models.CharField(max_length=3)

    # Project
    title = models.CharField(_("project title"), max_length=200, blank=True)
    summary = models.CharField(_("one-paragraph summary"), max_length=1000, blank=True)
    description = models.TextField(
        _("project description"),
        max_length=TEXT_LIMIT,
        blank=True,
        validators=[MaxLengthValidator(TEXT_LIMIT)],
    )
    # Compute plan
    gpu_hours = models.PositiveBigIntegerField(_("GPU-hours needed"), null=True, blank=True)
    gpu_model = models.CharField(_("accelerator model"), max_length=100, blank=True)
    chip_origin = models.CharField(
        _("chip origin"), max_length=10, choices=ChipPlan.choices, blank=True
    )
    intended_provider = models.ForeignKey(
        "disbursement.Provider",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("intended compute provider"),
    )
    compute_plan = models.TextField(
        _("how the compute will be used"),
        max_length=TEXT_LIMIT,
        blank=True,
        validators=[MaxLengthValidator(TEXT_LIMIT)],
    )
    # Funding
    requested_amount_cents = models.BigIntegerField(
        _("requested amount (cents)"), null=True, blank=True
    )
    # Declarations
    declares_truthful = models.BooleanField(
        _("the information is true and complete"), default=False
    )
    declares_no_double_funding = models.BooleanField(
        _("the same compute is not funded by another public program"), default=False
    )
    declares_no_provider_affiliation = models.BooleanField(
        _("the organization is not affiliated with the chosen provider"), default=False
    )
    declared_by_name = models.CharField(_("signed by (full name)"), max_length=150, blank=True)
    declared_at = models.DateTimeField(null=True, blank=True)

    submitted_at = models.DateTimeField(null=True, blank=True)
    # Review progress of the current version (kept by the review services under the row lock).
    reviews_completed = models.PositiveSmallIntegerField(default=0)
    ready_for_decision = models.BooleanField(default=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_message = models.TextField(
        blank=True, max_length=TEXT_LIMIT, validators=[MaxLengthValidator(TEXT_LIMIT)]
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdraw_reason = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ALL_STATUSES), name="application_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(requested_amount_cents__isnull=True) | Q(requested_amount_cents__gt=0),
                name="application_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(gpu_hours__isnull=True) | Q(gpu_hours__gt=0),
                name="application_gpu_hours_positive",
            ),
            models.CheckConstraint(
                condition=Q(chip_origin__in=["", "domestic", "foreign", "mixed"]),
                name="application_chip_valid",
            ),
            # One open application per organization per program, whatever the concurrency.
            models.UniqueConstraint(
                fields=["organization", "program"],
                condition=Q(
                    status__in=["draft", "submitted", "screening", "in_review", "returned"]
                ),
                name="application_one_open_per_org_program",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-submitted_at"]),
            models.Index(fields=["program", "status"]),
            # The officers' review and decision queues.
            models.Index(fields=["status", "ready_for_decision", "-submitted_at"]),
            models.Index(fields=["organization", "-created_at"]),
            # The API list's default order (most recently changed first).
            models.Index(fields=["-updated_at", "-id"], name="application_updated_desc"),
            # The officers' list: submitted applications, newest first; drafts are never shown.
            models.Index(
                fields=["-submitted_at", "-id"],
                condition=~Q(status="draft"),
                name="application_submitted_nodraft",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class ApplicationVersion(BaseModel):
    """The frozen content of one submission. Resubmitting after a return adds a version."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    receipt_number = models.CharField(max_length=50, unique=True)
    snapshot = models.JSONField()
    content_sha256 = models.CharField(max_length=64)
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["application", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "number"], name="application_version_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="application_version_positive"),
        ]

    def __str__(self) -> str:
        return self.receipt_number


def document_upload_to(instance: "Document", filename: str) -> str:
    # Never trust the client's file name on disk.
    return f"documents/{instance.application_id}/{uuid.uuid4().hex}"


class Document(BaseModel):
    class Kind(models.TextChoices):
        BUSINESS_LICENCE = "business_licence", _("Business licence")
        FINANCIAL_STATEMENT = "financial_statement", _("Latest financial statement")
        COMPUTE_QUOTE = "compute_quote", _("Quotation or contract from the provider")
        OTHER = "other", _("Other supporting document")

    REQUIRED_KINDS = (Kind.BUSINESS_LICENCE,)

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("document type"), max_length=30, choices=Kind.choices)
    file = models.FileField(upload_to=document_upload_to, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gt=0), name="document_not_empty"),
            models.CheckConstraint(
                condition=Q(content_type__in=["application/pdf", "image/png", "image/jpeg"]),
                name="document_type_allowed",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
