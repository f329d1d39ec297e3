from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone

from providers import dlt_failures
from providers.dlr import RANK, DeliveryState, StatusUpdate
from providers.inbound import KeywordAction
from providers.message_templates import MessageTemplate
from providers.models import Provider, Sender
from providers.outbound.pipeline import Category
from providers.routes import Route

UNCONFIRMED = Category.UNCONFIRMED.value
# Why a message failed or was skipped: a send's outcome, or what came after.
FAILURE_CHOICES = [
    *(
        (value, label)
        for value, label in Category.choices
        if value not in ("accepted", "pending")
    ),
    ("undelivered", "Undelivered (delivery report)"),
    ("opted_out", "Opted out"),
]
# Failures a delivery report told of: the provider had accepted the message.
REPORTED_FAILURES = ("undelivered", dlt_failures.CATEGORY)


class Campaign(models.Model):
    """A message to an audience, sent once or on every matching event."""

    class Kind(models.TextChoices):
        ONE_TIME = "one_time", "One-time"
        EVENT = "event", "Event-triggered"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField("name", max_length=200)
    kind = models.CharField("kind", max_length=10, choices=Kind, default=Kind.ONE_TIME)
    event_name = models.CharField(
        "event",
        max_length=100,
        blank=True,
        help_text="For event-triggered campaigns: the event that sends a message, "
        "e.g. otp_requested.",
    )
    sender_type = models.CharField(
        "sender type",
        max_length=20,
        choices=Sender.SenderType,
        default=Sender.SenderType.PROMOTIONAL,
    )
    sender = models.ForeignKey(
        Sender,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        help_text="Leave empty to use the default sender of the sender type.",
    )
    route = models.ForeignKey(
        Route,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        help_text="Instead of one sender: providers tried in turn, per country, "
        "with fallback when one fails.",
    )
    message = models.TextField(
        "message",
        help_text="Personalise with audience columns as $$first_name; $$To is the "
        "recipient's number.",
    )
    template = models.ForeignKey(
        MessageTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name="DLT template",
        help_text="For India: the registered template the message follows. Each "
        "text is checked against it before sending, and fills $$TemplateID and "
        "$$TemplateVariables.",
    )
    placeholder_values = models.JSONField(
        "provider placeholders",
        default=dict,
        blank=True,
        help_text="Values of the custom placeholders in the provider's request "
        "($$hid, ...); an audience column or event property of the same name "
        "gives a message its own.",
    )
    default_country = models.CharField(
        "default country",
        max_length=2,
        default="SG",
        help_text="For audience numbers written without a country code.",
    )
    scheduled_at = models.DateTimeField("send at", null=True, blank=True)
    status = models.CharField(
        "status", max_length=10, choices=Status, default=Status.DRAFT, db_index=True
    )
    launch_problem = models.CharField(
        "launch problem",
        max_length=500,
        blank=True,
        help_text="Why a scheduled campaign could not start when its time came.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    launched_at = models.DateTimeField("launched", null=True, blank=True)
    completed_at = models.DateTimeField("completed", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("launch_campaign", "Can launch, cancel and retry campaigns")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:campaigns_campaign_change", args=[self.pk])

    def resolved_sender(self) -> Sender | None:
        """The sender of a campaign without a route; a route campaign's first
        default sender, which sets its batch size, rate and quiet hours."""
        if self.route_id:
            return self.route.plan().lead
        if self.sender_id:
            return self.sender
        return (
            Sender.objects.select_related("provider")
            .filter(sender_type=self.sender_type, is_default=True)
            .first()
        )


class AudienceMember(models.Model):
    """A recipient of a one-time campaign, with the columns used to personalise."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="audience"
    )
    to = models.CharField("number", max_length=40)
    fields = models.JSONField("columns", default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("campaign", "to", name="audience_number_unique")
        ]

    def __str__(self) -> str:
        return self.to


class Message(models.Model):
    """One SMS to one recipient and everything that happened to it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (
        Status.SENT,
        Status.DELIVERED,
        Status.FAILED,
        Status.SKIPPED,
        Status.CANCELLED,
    )

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # the (campaign, status, id) index serves it
    )
    sender = models.ForeignKey(
        Sender, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # On a route: the place of `sender` in the chain of the number's country,
    # which moves on when a provider fails the message (campaigns/fallback.py).
    hop = models.PositiveSmallIntegerField("place on the route", default=0)
    message_id = models.CharField("message id", max_length=64, unique=True)
    to = models.CharField("to", max_length=40)
    body = models.TextField("text")
    # The provider's custom placeholders as this message fills them.
    placeholders = models.JSONField("placeholders", default=dict, blank=True)
    status = models.CharField(
        "status", max_length=10, choices=Status, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField("next attempt", null=True, blank=True)
    claimed_at = models.DateTimeField("claimed", null=True, blank=True)
    claim = models.CharField("claim", max_length=32, blank=True)
    maybe_sent = models.BooleanField(
        "may have reached the provider",
        default=False,
        help_text="An attempt was cut off when its worker stopped, or its answer "
        "never came (a time-out or a dropped connection once the request was out).",
    )
    provider_message_id = models.CharField(
        "provider message id", max_length=200, blank=True
    )
    failure_category = models.CharField(
        "failure", max_length=20, blank=True, choices=FAILURE_CHOICES
    )
    failure_reason = models.CharField("reason", max_length=500, blank=True)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    delivered_at = models.DateTimeField("delivery report", null=True, blank=True)
    delivery_error_code = models.CharField("DLR error code", max_length=50, blank=True)
    delivery_description = models.CharField(
        "DLR description", max_length=500, blank=True
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        # Every status change rewrites each index of the row, so there are few,
        # and none of the LIKE-pattern copies PostgreSQL adds for db_index text
        # fields (nothing here is searched by prefix).
        indexes = [
            # Claims: a campaign's next queued rows by id, read no further.
            models.Index(
                fields=["campaign", "status", "id"], name="message_campaign_queue"
            ),
            # The rows out for sending, by claim and by lease: few at any time.
            models.Index(
                fields=["claim"],
                name="message_claimed",
                condition=models.Q(status="sending"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="message_lease",
                condition=models.Q(status="sending"),
            ),
            # Delivery reports and support look-ups.
            models.Index(fields=["provider_message_id"], name="message_provider_id"),
            models.Index(fields=["to"], name="message_to"),
            # The failure filter: failed and skipped rows only, so sending and
            # delivering (which leave the category empty) never write to it.
            models.Index(
                fields=["failure_category", "id"],
                name="message_failure",
                condition=~models.Q(failure_category=""),
            ),
            # The status filter's failed rows, which no other index finds.
            models.Index(
                fields=["id"],
                name="message_failed",
                condition=models.Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.get_status_display()}"

    def advance(self, update: StatusUpdate, *, now: datetime) -> bool:
        """Apply a delivery report; later states only, so replays change nothing."""
        current = {
            self.Status.SENT: DeliveryState.SENT,
            self.Status.DELIVERED: DeliveryState.DELIVERED,
            self.Status.FAILED: DeliveryState.FAILED,
        }.get(self.status, DeliveryState.QUEUED)
        if self.failure_category == UNCONFIRMED:
            # Its batch was partly refused without saying which: the provider's
            # own report settles it either way.
            current = DeliveryState.SENT
        if not update.state or RANK[update.state] <= RANK[current]:
            return False
        if update.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
            self.status = update.state
            self.delivered_at = now
        if update.state == DeliveryState.DELIVERED:
            self.failure_category = self.failure_reason = ""
        if update.state == DeliveryState.FAILED:
            dlt = dlt_failures.diagnosis(update.error_code, update.description)
            self.failure_category = dlt_failures.CATEGORY if dlt else "undelivered"
            self.failure_reason = (dlt or update.description or "Undelivered")[:500]
        self.delivery_error_code = update.error_code[:50]
        self.delivery_description = update.description[:500]
        return True


class OptOut(models.Model):
    """A number that receives no promotional messages."""

    to = models.CharField("number", max_length=40, unique=True)
    source = models.CharField(
        "source", max_length=100, default="admin", help_text="Who or what added it."
    )
    created_at = models.DateTimeField("added", auto_now_add=True)

    class Meta:
        verbose_name = "opt-out"

    def __str__(self) -> str:
        return self.to


class InboundMessage(models.Model):
    """A reply to one of our numbers, with what smsbridge made of it: the
    sender it was sent to, the last message sent to its number, what its
    keyword did and the auto-reply, if any (campaigns/inbound.py)."""

    class ReplyStatus(models.TextChoices):
        DUE = "due", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        HELD = "held", "Not sent"

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="inbound_messages"
    )
    received_at = models.DateTimeField("received", default=timezone.now)
    sent_at = models.DateTimeField(
        "sent (provider's time)",
        null=True,
        blank=True,
        help_text="When the provider says the reply was sent, if it says.",
    )
    provider_message_id = models.CharField("provider's id", max_length=200, blank=True)
    from_number = models.CharField(
        "from",
        max_length=40,
        blank=True,
        help_text="In E.164 when it is a valid number, else as the provider sent "
        "it; empty when the provider did not say (a CleverTap reply to a message "
        "smsbridge does not know).",
    )
    to_number = models.CharField("to", max_length=40, blank=True)
    text = models.TextField("text", blank=True)
    sender = models.ForeignKey(
        Sender,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The sender whose number the reply was sent to.",
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        help_text="The campaign of the last message sent to this number.",
    )
    # Our id of that message; not a key, so purging old messages stays one
    # DELETE and the reply keeps naming the message it answered.
    last_message_id = models.CharField("last message id", max_length=64, blank=True)
    keyword = models.CharField("keyword", max_length=40, blank=True)
    action = models.CharField(
        "keyword action", max_length=10, choices=KeywordAction, blank=True
    )
    note = models.CharField("what it did", max_length=300, blank=True)
    reply_status = models.CharField(
        "auto-reply", max_length=10, choices=ReplyStatus, blank=True
    )
    reply_text = models.TextField("auto-reply text", blank=True)
    reply_note = models.CharField("auto-reply result", max_length=500, blank=True)
    reply_message_id = models.CharField(
        "auto-reply message id", max_length=64, blank=True
    )
    reply_provider_message_id = models.CharField(
        "auto-reply provider message id", max_length=200, blank=True
    )
    replied_at = models.DateTimeField("auto-reply sent", null=True, blank=True)
    body = models.TextField(
        "callback body", blank=True, help_text="As received, capped at 16 KiB."
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound reply"
        verbose_name_plural = "inbound replies"
        constraints = [
            # A provider that sends a reply again (8x8 retries at 1, 10, 30 and
            # 90 s) adds nothing: its id is kept once.
            models.UniqueConstraint(
                "provider",
                "provider_message_id",
                condition=~models.Q(provider_message_id=""),
                name="inbound_provider_id_unique",
            )
        ]
        indexes = [
            models.Index(fields=["received_at"], name="inbound_received"),
            models.Index(fields=["from_number", "received_at"], name="inbound_from"),
            # The sweeper's look for auto-replies the broker never got.
            models.Index(
                fields=["received_at"],
                condition=models.Q(reply_status="due"),
                name="inbound_reply_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_number or 'unknown'}: {self.text[:40]}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the event API; only its hash is stored."""

    name = models.CharField(
        "name", max_length=100, help_text="Who uses it, e.g. app-backend."
    )
    prefix = models.CharField("starts with", max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField("active", default=True)
    can_send = models.BooleanField(
        "may send events",
        default=True,
        help_text="POST /api/v1/events: queue messages.",
    )
    can_read = models.BooleanField(
        "may read messages",
        default=True,
        help_text="GET /api/v1/messages/<id>: read a message's status.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    last_used_at = models.DateTimeField("last used", null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def issue(self) -> str:
        """Set a new random token and return it; it is shown once, never stored."""
        token = "sb_" + secrets.token_urlsafe(32)
        self.prefix = token[:10]
        self.token_hash = hash_token(token)
        return token

    @classmethod
    def find(cls, token: str) -> ApiToken | None:
        return cls.objects.filter(token_hash=hash_token(token), is_active=True).first()


class IdempotencyKey(models.Model):
    """A key an API client sent, and the answer its first request got."""

    token = models.ForeignKey(
        ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField("key", max_length=255)
    fingerprint = models.CharField("body hash", max_length=64)
    # Empty while the first request is still being answered.
    status_code = models.PositiveSmallIntegerField("answered", null=True)
    response = models.JSONField("answer", null=True)
    created_at = models.DateTimeField("first seen")

    class Meta:
        constraints = [
            models.UniqueConstraint("token", "key", name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


class MessageCount(models.Model):
    """How many of a campaign's messages are in one state (campaigns/counts.py)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    status = models.CharField("status", max_length=10)
    failure_category = models.CharField("failure", max_length=20, blank=True)
    # The sender (so the provider) whose answer or report put the messages in
    # this state; 0 for states no provider decided (created, skipped,
    # cancelled). Not a key to the sender: statistics outlive a deleted one.
    sender_key = models.PositiveIntegerField("sender", default=0)
    count = models.BigIntegerField("messages", default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "campaign",
                "status",
                "failure_category",
                "sender_key",
                name="message_count_unique_by_sender",
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.failure_category}: {self.count}".strip()


class DeliveryReport(models.Model):
    """One callback as received, kept raw (capped) with what it did.

    An accepted callback is stored waiting, with its parsed updates, and the
    worker applies it moments later (campaigns.dlr.applying)."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting to be applied"
        APPLIED = "applied", "Applied"
        REFUSED = "refused", "Refused"

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="delivery_reports"
    )
    received_at = models.DateTimeField(
        "received", default=timezone.now, db_index=True, editable=False
    )
    # Given when the callback is accepted, before it is applied: applying the
    # same callback twice (after a crash) logs it once.
    receipt = models.UUIDField("receipt", null=True, unique=True, editable=False)
    method = models.CharField("method", max_length=8)
    content_type = models.CharField("content type", max_length=200, blank=True)
    body = models.TextField("body", blank=True, help_text="Capped at 16 KiB.")
    format = models.CharField("format", max_length=20, blank=True)
    response_status = models.PositiveSmallIntegerField("answered")
    processed = models.PositiveIntegerField("updates applied", default=0)
    unmatched_ids = models.JSONField(
        "unmatched ids",
        default=list,
        blank=True,
        help_text="Message ids this callback named that smsbridge does not know.",
    )
    result = models.CharField("result", max_length=500)
    state = models.CharField(
        "state", max_length=8, choices=State.choices, default=State.WAITING
    )
    # Each update as an object with named keys, so that reports stored before a
    # deploy that changes StatusUpdate are still read as they were meant.
    updates = models.JSONField(
        "updates",
        default=list,
        blank=True,
        help_text="What smsbridge read from the callback, applied by the worker.",
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The worker's queue: only waiting rows, in the order they came.
            models.Index(
                fields=["id"], condition=models.Q(state="waiting"), name="dlr_waiting"
            ),
            # The log's filters on its rare rows: refused callbacks, and those
            # answered other than 200. Accepted ones are never written to them.
            models.Index(
                fields=["received_at"],
                condition=models.Q(state="refused"),
                name="dlr_refused",
            ),
            models.Index(
                fields=["response_status", "received_at"],
                condition=~models.Q(response_status=200),
                name="dlr_answered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.received_at:%Y-%m-%d %H:%M:%S}: {self.result}"

    @property
    def unmatched(self) -> bool:
        return bool(self.unmatched_ids)

    @staticmethod
    def stored(update: StatusUpdate) -> dict[str, str]:
        """An update as it is kept: its non-empty fields by name."""
        kept = {name: getattr(update, name) for name in UPDATE_FIELDS}
        if update.occurred_at:
            kept["occurred_at"] = update.occurred_at.isoformat()
        return {name: value for name, value in kept.items() if value}

    def status_updates(self) -> list[StatusUpdate]:
        """The updates as stored, whichever version of smsbridge stored them: a
        field it did not know takes its default, one no longer known is left."""
        return [status_update(kept) for kept in self.updates]


UPDATE_FIELDS = tuple(f.name for f in dataclasses.fields(StatusUpdate))


def status_update(kept: dict[str, Any]) -> StatusUpdate:
    known = {name: value for name, value in kept.items() if name in UPDATE_FIELDS}
    if known.get("occurred_at"):
        known["occurred_at"] = datetime.fromisoformat(known["occurred_at"])
    return StatusUpdate(**known)
