import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=(username or "").strip())

    def _create(self, email: str, password: str | None, **fields: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self._create(email, password, **fields)


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively; we store them lower-cased and trimmed."""
    return email.strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    """A person. `role` says which side of the program they work on."""

    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        REVIEWER = "reviewer", _("Reviewer")
        APPROVER = "approver", _("Approver")
        FINANCE = "finance", _("Finance officer")
        PROVIDER = "provider", _("Compute provider")
        AUDITOR = "auditor", _("Auditor")
        ADMIN = "admin", _("Administrator")

    OFFICER_ROLES = frozenset({Role.REVIEWER, Role.APPROVER, Role.ADMIN})
    # Roles that must log in with a second factor (settings.TWO_FACTOR_REQUIRED).
    SECOND_FACTOR_ROLES = frozenset(
        {Role.REVIEWER, Role.APPROVER, Role.FINANCE, Role.AUDITOR, Role.ADMIN}
    )

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.APPLICANT)
    preferred_language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    role__in=[
                        "applicant",
                        "reviewer",
                        "approver",
                        "finance",
                        "provider",
                        "auditor",
                        "admin",
                    ]
                ),
                name="user_role_valid",
            ),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name or self.email

    @property
    def is_officer(self) -> bool:
        return self.role in self.OFFICER_ROLES

    @property
    def is_applicant(self) -> bool:
        return self.role == self.Role.APPLICANT

    @property
    def is_auditor(self) -> bool:
        return self.role == self.Role.AUDITOR

    @property
    def is_finance(self) -> bool:
        return self.role == self.Role.FINANCE

    @property
    def is_provider(self) -> bool:
        return self.role == self.Role.PROVIDER

    @property
    def sees_money(self) -> bool:
        """Finance, auditors and administrators: payouts and reconciliation."""
        return self.role in (self.Role.FINANCE, self.Role.AUDITOR, self.Role.ADMIN)

    @property
    def requires_second_factor(self) -> bool:
        """Staff: the officer roles, finance, auditors, admins, and anyone with admin access."""
        return self.role in self.SECOND_FACTOR_ROLES or self.is_staff or self.is_superuser

    @property
    def has_verified_email(self) -> bool:
        return self.email_verified_at is not None


TOKEN_PREFIX = "cv_"  # noqa: S105  (a visible prefix, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token_value() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(BaseModel):
    """A bearer token for the API. Only its SHA-256 is stored; the value is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    # A provider's token acts for that provider only, and stops working if the person leaves it.
    provider = models.ForeignKey(
        "disbursement.Provider",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, help_text=_("First characters, to recognize it."))
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
