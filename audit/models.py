"""The audit trail: append-only events, hash-chained per stream.

Design (see docs/architecture.md): every event belongs to a *stream*, normally its target
("applicants.application:42"). Each stream is a hash chain: an event's hash covers its content
and the previous event's hash in the same stream, and `(stream, seq)` is unique, so an edited,
deleted, inserted or reordered event breaks the chain. `AuditStream` holds each chain's head;
writers lock only that one row, so events about unrelated objects never wait for each other.
On PostgreSQL a trigger refuses UPDATE and DELETE on the event table.

A chain cannot notice its own disappearance: deleting a whole stream (its head and every event)
leaves nothing to compare with. `AuditCheckpoint` seals every stream's head at one moment, and
checkpoints are chained to each other, so verify_audit_chain notices a sealed stream that is gone.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    # accounts
    USER_REGISTERED = "user.registered", _("User registered")
    USER_EMAIL_VERIFIED = "user.email_verified", _("Email verified")
    USER_LOGIN = "user.login", _("Logged in")
    USER_LOGIN_FAILED = "user.login_failed", _("Login failed")
    USER_LOGOUT = "user.logout", _("Logged out")
    USER_PASSWORD_RESET_REQUESTED = "user.password_reset_requested", _("Password reset requested")
    USER_PASSWORD_CHANGED = "user.password_changed", _("Password changed")
    USER_LANGUAGE_CHANGED = "user.language_changed", _("Language changed")
    TOKEN_CREATED = "token.created", _("API token created")
    TOKEN_REVOKED = "token.revoked", _("API token revoked")
    PERMISSION_DENIED = "permission.denied", _("Permission denied")
    # applicants
    ORGANIZATION_CREATED = "organization.created", _("Organization created")
    ORGANIZATION_UPDATED = "organization.updated", _("Organization updated")
    MEMBER_INVITED = "organization.member_invited", _("Member invited")
    MEMBER_JOINED = "organization.member_joined", _("Member joined")
    APPLICATION_CREATED = "application.created", _("Application started")
    APPLICATION_UPDATED = "application.updated", _("Application draft saved")
    DOCUMENT_ADDED = "application.document_added", _("Document uploaded")
    DOCUMENT_REMOVED = "application.document_removed", _("Document removed")
    APPLICATION_SUBMITTED = "application.submitted", _("Application submitted")
    APPLICATION_WITHDRAWN = "application.withdrawn", _("Application withdrawn")
    APPLICATION_RETURNED = "application.returned", _("Application returned for changes")
    # screening, review, decision
    APPLICATION_SCREENED = "application.screened", _("Eligibility screened")
    SCREENING_OVERRIDDEN = "application.screening_overridden", _("Failed rule overridden")
    CONFLICT_DECLARED = "application.conflict_declared", _("Conflict of interest declared")
    REVIEWER_ASSIGNED = "application.reviewer_assigned", _("Reviewer assigned")
    REVIEWER_REMOVED = "application.reviewer_removed", _("Reviewer removed")
    REVIEW_SUBMITTED = "application.review_submitted", _("Review submitted")
    APPLICATION_APPROVED = "application.approved", _("Application approved")
    APPLICATION_REJECTED = "application.rejected", _("Application rejected")
    # programs, vouchers and letters
    PROGRAM_CREATED = "program.created", _("Program created")
    PROGRAM_UPDATED = "program.updated", _("Program changed")
    PROGRAM_COMMITTED = "program.committed", _("Budget committed to an award")
    VOUCHER_ISSUED = "voucher.issued", _("Voucher issued")
    VOUCHER_ACTIVATED = "voucher.activated", _("Award accepted; voucher active")
    LETTER_REQUESTED = "letter.requested", _("Award letter requested")
    LETTER_RENDERED = "letter.rendered", _("Award letter rendered")
    LETTER_FAILED = "letter.failed", _("Award letter rendering failed")
    LETTER_RETRYING = "letter.retrying", _("Award letter attempt failed; will retry")
    LETTER_SUPERSEDED = "letter.superseded", _("Award letter superseded by a correction")
    # disbursement
    CLAIM_ACCEPTED = "claim.accepted", _("Claim accepted and charged")
    CLAIM_REJECTED = "claim.rejected", _("Claim rejected")
    CLAIM_REVERSED = "claim.reversed", _("Claim reversed")
    VOUCHER_CLAWBACK = "voucher.clawback", _("Amount clawed back")
    VOUCHER_SUSPENDED = "voucher.suspended", _("Voucher suspended")
    VOUCHER_REINSTATED = "voucher.reinstated", _("Voucher reinstated")
    VOUCHER_EXPIRED = "voucher.expired", _("Voucher expired; unspent amount released")
    PROVIDER_CREATED = "provider.created", _("Provider registered")
    PROVIDER_UPDATED = "provider.updated", _("Provider changed")
    PROVIDER_STAFF_ADDED = "provider.staff_added", _("Provider staff member added")
    PROVIDER_STAFF_REMOVED = "provider.staff_removed", _("Provider staff member removed")
    PROVIDER_AFFILIATION_RECORDED = (
        "provider.affiliation_recorded",
        _("Provider affiliation recorded"),
    )
    PROVIDER_AFFILIATION_REMOVED = (
        "provider.affiliation_removed",
        _("Provider affiliation removed"),
    )
    PAYOUT_CREATED = "payout.created", _("Payout prepared")
    PAYOUT_APPROVED = "payout.approved", _("Payout approved")
    PAYOUT_PAID = "payout.paid", _("Payout marked paid")
    PAYOUT_EXPORTED = "payout.exported", _("Payout exported for the bank")
    RECONCILIATION_RUN = "reconciliation.run", _("Reconciliation run")
    ALERT_ACKNOWLEDGED = "alert.acknowledged", _("Alert acknowledged")
    # administration
    ADMIN_CHANGE = "admin.change", _("Changed in the admin site")
    FILE_DOWNLOADED = "export.downloaded", _("File downloaded")
    AUDIT_CHECKPOINT_SEALED = "audit.checkpoint_sealed", _("Audit trail checkpoint sealed")
    REPORT_REQUESTED = "report.requested", _("Report requested")
    REPORT_RENDERED = "report.rendered", _("Report rendered")
    REPORT_FAILED = "report.failed", _("Report failed")
    USER_OTP_ENROLLED = "user.otp_enrolled", _("Authenticator app enrolled")
    USER_OTP_VERIFIED = "user.otp_verified", _("Second factor verified")
    USER_OTP_FAILED = "user.otp_failed", _("Second factor code refused")
    USER_OTP_RESET = "user.otp_reset", _("Second factor reset")
    USER_LOCKED_OUT = "user.locked_out", _("Locked out after failed logins")


class AuditStream(models.Model):
    """The head of one hash chain. Locked (FOR UPDATE) while an event is appended to it."""

    key = models.CharField(max_length=120, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} @ {self.last_seq}"


class AuditEvent(models.Model):
    """One thing that happened. Never updated, never deleted."""

    stream = models.CharField(max_length=120)
    seq = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=60, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="audit_event_stream_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_event_seq_positive"),
        ]
        indexes = [
            models.Index(fields=["target_type", "target_id", "occurred_at"]),
            models.Index(fields=["actor", "occurred_at"]),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.action} {self.target_type}:{self.target_id}"


class AuditCheckpoint(models.Model):
    """A seal over the heads of all streams at one moment, chained to the previous seal.

    `heads_sha256` covers every stream's (key, last_seq, last_hash), sorted by key; `hash` covers
    this row's fields and the previous checkpoint's hash. The heads themselves are stored in
    AuditCheckpointHead, each only when it changed since the previous checkpoint. Never updated,
    never deleted (a trigger refuses it on PostgreSQL).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    sealed_at = models.DateTimeField()
    stream_count = models.PositiveBigIntegerField()
    event_count = models.PositiveBigIntegerField()  # the sum of the sealed heads' seq
    new_heads = models.PositiveBigIntegerField()  # heads stored with this checkpoint
    heads_sha256 = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seq__gte=1), name="audit_checkpoint_seq_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.seq} at {self.sealed_at:%Y-%m-%d %H:%M:%S}"


class AuditCheckpointHead(models.Model):
    """One stream's head as a checkpoint sealed it, stored when it differs from the last seal."""

    checkpoint = models.ForeignKey(AuditCheckpoint, on_delete=models.PROTECT, related_name="heads")
    stream = models.CharField(max_length=120)
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "seq"], name="audit_checkpoint_head_stream_seq_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream} @ {self.seq}"
