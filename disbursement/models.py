"""Compute providers (data centres). Claims, ledger and payouts are added by the disbursement
work; the foundation needs providers because applicants name the one they intend to use."""

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
