"""The webhook endpoints and their outbox of deliveries (imported by
campaigns/models.py, so they belong to the campaigns app)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from providers.fields import EncryptedTextField

from . import signing


class WebhookEndpoint(models.Model):
    """A URL that receives the status changes of the event API's messages."""

    token = models.ForeignKey(
        "campaigns.ApiToken",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhooks",
        verbose_name="API token",
        help_text="The token whose messages it receives. Leave empty to receive "
        "the messages of every API token.",
    )
    url = models.CharField(
        "URL",
        max_length=2000,
        help_text="Where each status change is POSTed as signed JSON, beginning "
        "with https://, e.g. https://app.example.com/hooks/smsbridge.",
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Untick to stop sending. Changes made meanwhile are not kept "
        "for later, and deliveries still waiting fail.",
    )
    secret = EncryptedTextField("signing secret", editable=False)
    # Kept after a rotation so receivers can switch over: both sign meanwhile.
    previous_secret = EncryptedTextField(
        "previous signing secret", blank=True, editable=False
    )
    previous_secret_until = models.DateTimeField(
        "previous secret signs until", null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "webhook"
        ordering = ["pk"]
        constraints = [
            # One per token, and one (no token) for every token.
            models.UniqueConstraint(
                Coalesce("token", models.Value(0)),
                name="webhook_one_per_token",
                violation_error_message="There already is a webhook for this "
                "API token; change that one.",
            )
        ]

    def __str__(self) -> str:
        return self.url

    def issue_secret(self, *, now: datetime) -> str:
        """Set a new signing secret and return it, to be shown once. A secret
        it replaces keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS."""
        if self.secret:
            self.previous_secret = self.secret
            self.previous_secret_until = now + timedelta(
                hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
            )
        self.secret = signing.new_secret()
        return self.secret

    def signing_secrets(self, *, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, then the one
        it replaced while that still overlaps."""
        overlapping = self.previous_secret and self.previous_secret_until
        if overlapping and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]


class WebhookDelivery(models.Model):
    """One status change of a message, to post to one webhook, and how the
    attempts went. Written in the transaction that changed the message
    (campaigns/webhooks/outbox.py), so no change is lost or told before it
    committed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name="webhook",
    )
    # A status change names its message; an inbound reply its reply.
    message = models.ForeignKey(
        "campaigns.Message",
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    reply = models.ForeignKey(
        "campaigns.InboundMessage",
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="inbound reply",
    )
    event = models.CharField(
        "message status",
        max_length=10,
        help_text="The status the change led to, or “reply” for an inbound reply.",
    )
    occurred_at = models.DateTimeField("changed")
    payload = models.JSONField(
        "message as told", help_text="The message as the event describes it."
    )
    status = models.CharField(
        "status", max_length=10, choices=Status, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField(
        "next attempt",
        null=True,
        blank=True,
        help_text="While waiting: when the next attempt is due.",
    )
    first_attempt_at = models.DateTimeField("first attempt", null=True, blank=True)
    last_attempt_at = models.DateTimeField("last attempt", null=True, blank=True)
    answer_status = models.PositiveSmallIntegerField(
        "last answer", null=True, blank=True, help_text="The HTTP status received."
    )
    answer = models.CharField(
        "answer", max_length=500, blank=True, help_text="The start of the answer."
    )
    error = models.CharField("error", max_length=500, blank=True)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-pk"]
        permissions = [("resend_webhookdelivery", "Can send webhook deliveries again")]
        indexes = [
            # The sweeper's look for deliveries whose task was lost: few rows.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            # Retention and the log's date filter.
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"
