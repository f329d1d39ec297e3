from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from . import client_credentials, health, message_templates, presets, routes, validators  # noqa: F401 - their models are this app's
from .dlr import RANK, DeliveryState, DlrMapping, StatusUpdate
from .fields import EncryptedTextField
from .inbound import DEFAULT_OPT_IN, DEFAULT_OPT_OUT, InboundMapping, Keywords
from .outbound.outcomes import Category, Outcome, ResponseRules
from .outbound.rendering import HttpRequest

# The request's rows live in a module of their own; they are models of this app.
from .request_rows import Header, ProviderVariable, UrlParameter  # noqa: F401
from .rows import RowValue

MAX_BATCH_SIZE = 1000
# How a provider's answers are read; a recognised provider's preset has them all.
RESPONSE_FIELDS = (
    "message_id_path",
    "response_rule",
    "response_rule_path",
    "response_rule_values",
    "accepted_count_path",
    "record_id_path",
    "fallback_codes",
)

PAYLOAD_OR_ENDPOINT = (Category.BAD_REQUEST, Category.NOT_FOUND, Category.INVALID)


def new_callback_token() -> str:
    # 192 random bits: the URL itself is the credential a provider presents.
    return secrets.token_urlsafe(24)


class Provider(
    client_credentials.ClientCredentialsSettings, message_templates.DltSettings
):
    """An HTTP SMS provider and how to build a request for it."""

    class SetupScreen(models.TextChoices):
        CLEVERTAP = "clevertap", "Generic provider (CleverTap style)"
        MOENGAGE = "moengage", "Custom connector (MoEngage style)"

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    class Authentication(models.TextChoices):
        NONE = "none", "No Authentication"
        BASIC = "basic", "Basic Authentication"
        OAUTH = "oauth", "OAuth 2.0 (client credentials)"

    class BodyType(models.TextChoices):
        JSON = "json", "JSON"
        FORM = "form", "Key-value pairs (form)"

    class NumberFormat(models.TextChoices):
        E164 = "e164", "E.164 with plus (+6591234567)"
        DIGITS = "digits", "Digits only (6591234567)"

    class ResponseRule(models.TextChoices):
        NONE = "", "Any 2xx response is accepted"
        ACCEPT_IF = "accept_if", "Accepted only when the field is one of the values"
        REJECT_IF = "reject_if", "Rejected when the field is one of the values"

    nickname = models.CharField(
        "nickname",
        max_length=100,
        help_text="Identifies the provider uniquely, for example 8x8_SMS.",
    )
    setup_screen = models.CharField(
        "setup screen",
        max_length=20,
        choices=SetupScreen,
        default=SetupScreen.CLEVERTAP,
        help_text="The screen this provider was created with and reopens in.",
    )
    preset = models.CharField(
        "preset",
        max_length=50,
        blank=True,
        help_text="The preset the configuration started from, if any.",
    )
    method = models.CharField(
        "request type", max_length=4, choices=Method, default=Method.POST
    )
    endpoint = models.CharField(
        "HTTP endpoint",
        max_length=2000,
        help_text=(
            "The provider's API URL, beginning with https://. Provider variables "
            "such as {subAccountId} and placeholders such as $$To may appear in it."
        ),
    )
    authentication = models.CharField(
        "authentication",
        max_length=10,
        choices=Authentication,
        default=Authentication.NONE,
        help_text=(
            "Bearer-token providers such as 8x8 use No Authentication plus an "
            "Authorization header."
        ),
    )
    basic_username = models.CharField(
        "username", max_length=200, blank=True, help_text="For Basic Authentication."
    )
    basic_password = EncryptedTextField(
        "password",
        blank=True,
        help_text="For Basic Authentication. Stored encrypted; never shown again.",
    )
    body_type = models.CharField(
        "parameters",
        max_length=10,
        choices=BodyType,
        default=BodyType.JSON,
        help_text="How the request body is sent (POST only).",
    )
    payload = models.TextField(
        "payload",
        blank=True,
        help_text="The request body template. Empty for GET requests.",
    )
    batch_enabled = models.BooleanField(
        "batch",
        default=False,
        help_text="Send many messages in one request by repeating one JSON record.",
    )
    batch_key = models.CharField(
        "key name",
        max_length=100,
        blank=True,
        help_text="The key whose array holds the one record to repeat, e.g. msgs.",
    )
    batch_size = models.PositiveIntegerField(
        "records per batch",
        default=MAX_BATCH_SIZE,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_BATCH_SIZE)],
        help_text="At most 1,000 records in one request.",
    )
    rate_limit = models.PositiveIntegerField(
        "messages per second",
        default=0,
        help_text="The most messages per second sent through this provider, across "
        "all workers; 0 for no limit. 8x8 allows 1,800 requests per second.",
    )
    number_format = models.CharField(
        "number format",
        max_length=10,
        choices=NumberFormat,
        default=NumberFormat.E164,
        help_text="How the recipient's number is written where $$To appears.",
    )
    message_id_path = models.CharField(
        "provider message id path",
        max_length=200,
        blank=True,
        help_text="Where the provider's message id is in its JSON answer, e.g. umid.",
    )
    response_rule = models.CharField(
        "response rule",
        max_length=10,
        choices=ResponseRule,
        blank=True,
        default=ResponseRule.NONE,
        help_text="For providers that answer 200 even when they refuse a message.",
    )
    response_rule_path = models.CharField(
        "response field",
        max_length=200,
        blank=True,
        help_text="JSON path of the field the rule reads, e.g. status.code.",
    )
    response_rule_values = models.CharField(
        "response values",
        max_length=500,
        blank=True,
        help_text="Comma-separated values, e.g. REJECTED.",
    )
    accepted_count_path = models.CharField(
        "accepted count field",
        max_length=200,
        blank=True,
        help_text="For answers that only count a batch's records, e.g. acceptedCount: "
        "fewer accepted than sent is never shown as all sent.",
    )
    record_id_path = models.CharField(
        "record message id field",
        max_length=200,
        blank=True,
        validators=[validators.validate_record_path],
        help_text="Where each record of the answer echoes $$MessageID, e.g. "
        "messages.0.clientMessageId; records are then matched by id, not position.",
    )
    fallback_codes = models.CharField(
        "refusals another provider may take",
        max_length=500,
        blank=True,
        help_text="Comma-separated codes with which this provider refuses for "
        "reasons of its own (no credit, no route to the country, sender not "
        "registered with it), e.g. Vonage's 9 or Twilio's 21408. On a route, a "
        "message so refused moves to the next provider; other refusals (a bad "
        "number, an opt-out) stay failed.",
    )
    callback_token = models.CharField(
        "callback token",
        max_length=64,
        unique=True,
        default=new_callback_token,
        editable=False,
    )
    previous_callback_token = models.CharField(
        "previous callback token", max_length=64, blank=True, editable=False
    )
    previous_token_valid_until = models.DateTimeField(
        "previous callback URL valid until", null=True, blank=True, editable=False
    )
    dlr_credentials = EncryptedTextField(
        "callback credentials",
        blank=True,
        help_text=(
            "Optional HTTP basic auth for the callback URL: one username:password "
            "per line. Several lines let you rotate credentials without downtime."
        ),
    )
    dlr_id_path = models.CharField(
        "message id field",
        max_length=200,
        blank=True,
        help_text="Where the callback carries $$MessageID, e.g. meta or reference.",
    )
    dlr_provider_id_path = models.CharField(
        "provider message id field",
        max_length=200,
        blank=True,
        help_text="Where the callback carries the provider's own id, e.g. umid.",
    )
    dlr_status_path = models.CharField(
        "status field", max_length=200, blank=True, help_text="e.g. status or stat."
    )
    dlr_error_code_path = models.CharField(
        "error code field", max_length=200, blank=True
    )
    dlr_description_path = models.CharField(
        "error description field", max_length=200, blank=True
    )
    dlr_timestamp_path = models.CharField("timestamp field", max_length=200, blank=True)
    dlr_status_values = models.JSONField(
        "status values",
        default=dict,
        blank=True,
        help_text="Provider status value -> queued, sent, delivered or failed.",
    )
    dlr_sample = models.TextField(
        "sample callback",
        blank=True,
        help_text="Paste a callback the provider sent, then press Map automatically.",
    )
    inbound_sample = models.TextField(
        "sample reply",
        blank=True,
        help_text="Paste a reply as the provider forwards it (JSON or form), then "
        "press Map automatically.",
    )
    inbound_from_path = models.CharField(
        "sender's number field",
        max_length=200,
        blank=True,
        help_text="Where the reply carries the number it came from, e.g. From or "
        "msisdn. With the text field, it tells a reply from a delivery report.",
    )
    inbound_to_path = models.CharField(
        "our number field",
        max_length=200,
        blank=True,
        help_text="Where the reply carries the number it was sent to (a sender's "
        "ID or virtual number), e.g. To.",
    )
    inbound_text_path = models.CharField(
        "text field",
        max_length=200,
        blank=True,
        help_text="Where the reply carries its text, e.g. Body or text.",
    )
    inbound_time_path = models.CharField(
        "time field",
        max_length=200,
        blank=True,
        help_text="Where the reply carries when it was sent (optional).",
    )
    inbound_id_path = models.CharField(
        "reply id field",
        max_length=200,
        blank=True,
        help_text="Where the reply carries the provider's id for it, e.g. "
        "MessageSid (optional): a reply the provider sends again is kept once.",
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Archived providers keep their history but send nothing.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["nickname"]
        constraints = [
            models.UniqueConstraint(
                Lower("nickname"),
                name="provider_nickname_unique_ci",
                violation_error_message="A provider with this nickname already exists.",
                violation_error_code="duplicate_nickname",
            ),
            models.CheckConstraint(
                condition=models.Q(batch_size__gte=1, batch_size__lte=MAX_BATCH_SIZE),
                name="provider_batch_size_range",
            ),
        ]
        permissions = [("send_test_sms", "Can send a test SMS")]

    def __str__(self) -> str:
        return self.nickname

    def save(self, *args, **kwargs) -> None:
        self.adopt_documented_rules()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("admin:providers_provider_change", args=[self.pk])

    def adopt_documented_rules(self) -> bool:
        """Read a recognised provider's answers as it documents them, unless the
        user set how to read them: a hand-built 8x8 connector then learns that a
        200 can refuse a message, and where 8x8 puts its message id."""
        preset = presets.recognise(self.endpoint)
        if preset is None or any(getattr(self, name) for name in RESPONSE_FIELDS):
            return False
        for name in RESPONSE_FIELDS:
            setattr(self, name, getattr(preset, name))
        return True

    @property
    def callback_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/dlr/{self.callback_token}/"

    @property
    def inbound_url(self) -> str:
        # The callback's token: rotating the callback URL rotates this one too.
        return f"{settings.PUBLIC_BASE_URL}/inbound/{self.callback_token}/"

    def accepts_token(self, token: str, *, now: datetime) -> bool:
        if constant_time_compare(token, self.callback_token):
            return True
        return bool(
            self.previous_callback_token
            and self.previous_token_valid_until
            and now < self.previous_token_valid_until
            and constant_time_compare(token, self.previous_callback_token)
        )

    def rotate_callback_token(self, *, now: datetime) -> None:
        """Issue a new callback URL; the old one keeps working for a grace period."""
        self.previous_callback_token = self.callback_token
        self.previous_token_valid_until = now + timedelta(
            hours=settings.DLR_TOKEN_GRACE_HOURS
        )
        self.callback_token = new_callback_token()
        self.save(
            update_fields=[
                "callback_token",
                "previous_callback_token",
                "previous_token_valid_until",
            ]
        )

    def dlr_credential_pairs(self) -> list[tuple[str, str]]:
        lines = (line.strip() for line in self.dlr_credentials.splitlines())
        return [tuple(line.split(":", 1)) for line in lines if ":" in line]

    def dlr_mapping(self) -> DlrMapping:
        return DlrMapping(
            id_path=self.dlr_id_path,
            provider_id_path=self.dlr_provider_id_path,
            status_path=self.dlr_status_path,
            error_code_path=self.dlr_error_code_path,
            description_path=self.dlr_description_path,
            timestamp_path=self.dlr_timestamp_path,
            values=self.dlr_status_values or {},
        )

    def inbound_mapping(self) -> InboundMapping:
        return InboundMapping(
            from_path=self.inbound_from_path.strip(),
            to_path=self.inbound_to_path.strip(),
            text_path=self.inbound_text_path.strip(),
            time_path=self.inbound_time_path.strip(),
            id_path=self.inbound_id_path.strip(),
        )

    @property
    def primary_sender(self) -> Sender | None:
        return self.senders.order_by("pk").first()

    def rows(self, kind: str) -> list[RowValue]:
        manager = getattr(self, kind)
        return [RowValue(r.name, r.value, r.secret) for r in manager.all()]

    def refused_for_itself(self, outcome: Outcome) -> bool:
        """Whether a refusal is one of the provider's own (fallback_codes)."""
        own = {c.strip().lower() for c in self.fallback_codes.split(",") if c.strip()}
        return any(code.lower() in own for code in outcome.refusal_codes)

    def response_rules(self) -> ResponseRules:
        values = (v.strip() for v in self.response_rule_values.split(","))
        return ResponseRules(
            message_id_path=self.message_id_path.strip(),
            rule=self.response_rule,
            rule_path=self.response_rule_path.strip(),
            rule_values=tuple(v for v in values if v),
            accepted_count_path=self.accepted_count_path.strip(),
            record_id_path=self.record_id_path.strip(),
        )


class Sender(models.Model):
    """Who a message appears to come from, and what kind of message it carries."""

    class SenderType(models.TextChoices):
        PROMOTIONAL = "promotional", "Promotional"
        TRANSACTIONAL = "transactional", "Transactional"

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="senders"
    )
    name = models.CharField(
        "sender name",
        max_length=100,
        help_text="Identifies the sender, for example 8x8 SMS.",
    )
    sender_id = models.CharField(
        "sender ID / virtual number",
        max_length=32,
        blank=True,
        validators=[validators.validate_sender_id],
        help_text=(
            "The sender ID or number registered with the provider; used as "
            "{sender_id} in the payload."
        ),
    )
    sender_type = models.CharField(
        "sender type",
        max_length=20,
        choices=SenderType,
        default=SenderType.TRANSACTIONAL,
        help_text=(
            "Promotional: information about your brand, deals, or engaging users. "
            "Transactional: alerts about transactions, OTPs, security information."
        ),
    )
    is_default = models.BooleanField(
        "mark as default",
        default=False,
        help_text=(
            "The default sender of its type is used for every campaign unless "
            "another sender is chosen."
        ),
    )
    quiet_hours_start = models.TimeField(
        "quiet hours from",
        null=True,
        blank=True,
        help_text="Promotional messages wait during quiet hours; transactional ones "
        "are sent at any time.",
    )
    quiet_hours_end = models.TimeField("quiet hours until", null=True, blank=True)
    time_zone = models.CharField(
        "time zone",
        max_length=64,
        default="UTC",
        validators=[validators.validate_time_zone],
        help_text="The recipients' time zone for quiet hours, e.g. Asia/Singapore.",
    )
    opt_out_keywords = models.CharField(
        "opt-out keywords",
        max_length=500,
        blank=True,
        default=DEFAULT_OPT_OUT,
        help_text="A reply that is one of these, comma-separated, puts its number "
        "on the opt-out list. Letter case, spaces and punctuation around the word "
        "do not matter. Empty: no reply opts out.",
    )
    opt_out_reply = models.TextField(
        "opt-out auto-reply",
        blank=True,
        help_text="Sent back once a number opts out, e.g. “You will get no more "
        "offers. Reply START to opt back in.” Empty: no answer.",
    )
    opt_in_keywords = models.CharField(
        "opt-in keywords",
        max_length=500,
        blank=True,
        default=DEFAULT_OPT_IN,
        help_text="A reply that is one of these takes its number off the opt-out "
        "list again. Empty: no reply opts back in.",
    )
    opt_in_reply = models.TextField(
        "opt-in auto-reply",
        blank=True,
        help_text="Sent back once a number opts back in. Empty: no answer.",
    )

    class Meta:
        ordering = ["provider__nickname", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender_type"],
                condition=models.Q(is_default=True),
                name="one_default_sender_per_type",
                violation_error_message=(
                    "Another sender is already the default of this type."
                ),
            ),
            models.UniqueConstraint(
                "provider",
                Lower("name"),
                name="sender_name_unique_per_provider",
                violation_error_message="This provider already has a sender so named.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_sender_type_display()})"

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            if self.is_default:
                self.demote_other_defaults()
            super().save(*args, **kwargs)

    def validate_constraints(self, exclude: set[str] | None = None) -> None:
        # save() demotes the previous default of the type, so a form marking this
        # sender default must not be refused by the one-default constraint (the
        # only constraint on sender_type alone; excluding the field skips it).
        super().validate_constraints({*(exclude or ()), "sender_type"})

    @property
    def honours_opt_outs(self) -> bool:
        """Opt-outs bind promotional senders only: an OTP must reach everyone."""
        return self.sender_type == self.SenderType.PROMOTIONAL

    def keywords(self) -> Keywords:
        return Keywords.of(self.opt_out_keywords, self.opt_in_keywords)

    def auto_reply(self, action: str) -> str:
        """The text this sender answers a keyword's action with ("" for none)."""
        replies = {"opt_out": self.opt_out_reply, "opt_in": self.opt_in_reply}
        return replies.get(action, "").strip()

    def quiet_until(self, moment: datetime) -> datetime | None:
        """When the quiet hours around `moment` end, or None outside them."""
        if self.sender_type != self.SenderType.PROMOTIONAL:
            return None
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start is None or end is None or start == end:
            return None
        local = moment.astimezone(ZoneInfo(self.time_zone))
        now = local.time()
        inside = start <= now < end if start < end else (now >= start or now < end)
        if not inside:
            return None
        ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if ends <= local:
            ends += timedelta(days=1)
        return ends

    def demote_other_defaults(self) -> int:
        """Unmark the current default of this type, so this one can take its place."""
        others = Sender.objects.filter(sender_type=self.sender_type, is_default=True)
        if self.pk:
            others = others.exclude(pk=self.pk)
        return others.update(is_default=False)


class TestSend(models.Model):
    """One press of Send Test SMS: what was sent, what came back, and the verdict."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="test_sends"
    )
    sender = models.ForeignKey(
        Sender, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="sent by",
    )
    created_at = models.DateTimeField("sent at", auto_now_add=True, db_index=True)
    to = models.CharField("to", max_length=40, help_text="The number, in E.164.")
    message = models.TextField("message")
    message_id = models.CharField(
        "message id",
        max_length=64,
        unique=True,
        help_text="smsbridge's id for the message ($$MessageID).",
    )
    category = models.CharField("result", max_length=20, choices=Category)
    diagnosis = models.TextField("diagnosis")
    status_code = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    latency_ms = models.PositiveIntegerField("latency (ms)", null=True, blank=True)
    provider_message_id = models.CharField(
        "provider message id", max_length=200, blank=True, db_index=True
    )
    response_excerpt = models.TextField("response", blank=True)
    request_method = models.CharField("method", max_length=8, blank=True)
    request_url = models.TextField("URL", blank=True)
    request_headers = models.JSONField("headers", default=list, blank=True)
    request_body = models.TextField("body", blank=True)
    delivery_state = models.CharField(
        "delivery", max_length=10, choices=DeliveryState, blank=True
    )
    delivery_error_code = models.CharField("DLR error code", max_length=50, blank=True)
    delivery_description = models.CharField(
        "DLR description", max_length=500, blank=True
    )
    delivery_reported_at = models.DateTimeField(
        "provider's report time", null=True, blank=True
    )
    dlr_received_at = models.DateTimeField("DLR received", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "test send"
        indexes = [models.Index(fields=["to"], name="test_send_to")]  # by number

    def __str__(self) -> str:
        return f"Test to {self.to} via {self.provider}: {self.get_category_display()}"

    @property
    def succeeded(self) -> bool:
        return self.category == Category.ACCEPTED

    def record_request(self, request: HttpRequest) -> None:
        """Keep the request as sent; callers pass it already redacted."""
        self.request_method = request.method
        self.request_url = request.url
        self.request_headers = [list(pair) for pair in request.headers]
        self.request_body = request.body.decode("utf-8", errors="replace")

    @property
    def setup_problem(self) -> str:
        """A configuration mistake this test revealed, for the checklist."""
        if self.category in (Category.AUTH, Category.TOKEN):
            return "Authentication error: check the credentials"
        if self.category in PAYLOAD_OR_ENDPOINT:
            return "Payload or endpoint error: see the diagnosis"
        return ""

    @property
    def seconds_to_dlr(self) -> float | None:
        if not (self.dlr_received_at and self.created_at):
            return None
        return (self.dlr_received_at - self.created_at).total_seconds()

    def advance(self, update: StatusUpdate, *, now: datetime) -> bool:
        """Apply a delivery report; later states only, so replays change nothing."""
        if not update.state or RANK[update.state] <= RANK[self.delivery_state]:
            return False
        self.delivery_state = update.state
        self.delivery_error_code = update.error_code[:50]
        self.delivery_description = update.description[:500]
        self.delivery_reported_at = update.occurred_at
        self.dlr_received_at = now
        return True

    def record_outcome(self, outcome: Outcome) -> None:
        self.category = outcome.category
        self.diagnosis = outcome.diagnosis
        self.status_code = outcome.status_code
        self.latency_ms = outcome.latency_ms
        self.provider_message_id = outcome.provider_message_id
        self.response_excerpt = outcome.response_excerpt
