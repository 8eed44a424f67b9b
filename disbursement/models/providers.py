"""Compute providers (data centres), their staff, and their recorded affiliations."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class ChipOrigin(models.TextChoices):
    DOMESTIC = "domestic", _("Domestic AI chips")
    FOREIGN = "foreign", _("Foreign AI chips")


class Provider(BaseModel):
    legal_name = models.CharField(_("legal name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=80)
    registration_number = models.CharField(_("registration number"), max_length=40, unique=True)
    region = models.CharField(_("region"), max_length=10)
    chip_origins = models.JSONField(_("chip origins offered"), default=list, blank=True)
    data_centres = models.TextField(_("data centres"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["short_name"]
        verbose_name = _("compute provider")
        verbose_name_plural = _("compute providers")

    def __str__(self) -> str:
        return self.short_name


class ProviderStaff(BaseModel):
    """A user who acts for one provider, in the portal and through the API."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="staff")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_staff"
    )

    def __str__(self) -> str:
        return f"{self.user} at {self.provider}"


class ProviderAffiliation(BaseModel):
    """A recorded tie between a provider and an applicant organization (ownership, control,
    shared management). Claims from a provider affiliated with the voucher holder are refused."""

    class Kind(models.TextChoices):
        OWNERSHIP = "ownership", _("Common ownership")
        CONTROL = "control", _("Control or management")
        OTHER = "other", _("Other tie")

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="affiliations")
    organization = models.ForeignKey(
        "applicants.Organization", on_delete=models.CASCADE, related_name="provider_affiliations"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OWNERSHIP)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "organization"], name="provider_affiliation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} ~ {self.organization}"
