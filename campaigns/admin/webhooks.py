"""Admin of status webhooks: the endpoints (a signing secret shown once, and
rotated with overlap) and the log of their deliveries, with "Send again"."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from providers import audit
from providers.admin.actions import PermittedActionsOnly
from providers.audit.history import AuditHistory
from providers.crypto import mask

from ..models import WebhookDelivery, WebhookEndpoint
from ..webhooks import delivering
from ..webhooks.forms import WebhookEndpointForm


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditHistory, PermittedActionsOnly):
    """The secret is made on save and shown once; afterwards only its end."""

    form = WebhookEndpointForm
    list_display = ["url", "token_display", "is_active", "secret_display", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["token"]
    readonly_fields = ["secret_display", "created_at"]
    actions = ["rotate_secret", "deactivate"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["token", "url", "is_active"]
        return ["token", "url", "is_active", "secret_display", "created_at"]

    @admin.display(description="API token", ordering="token__name")
    def token_display(self, obj: WebhookEndpoint) -> str:
        return str(obj.token) if obj.token_id else "Every API token"

    @admin.display(description="signing secret")
    def secret_display(self, obj: WebhookEndpoint) -> str:
        shown = mask(obj.secret)
        both = obj.signing_secrets(now=timezone.now())
        if len(both) == 2:
            until = timezone.localtime(obj.previous_secret_until)
            return f"{shown}; the previous one also signs until {until:%Y-%m-%d %H:%M}"
        return shown

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change):
        secret = None if change else obj.issue_secret(now=timezone.now())
        if secret:
            with audit.action("Webhook created"):
                super().save_model(request, obj, form, change)
        else:
            super().save_model(request, obj, form, change)
        if secret:
            # Stored encrypted and never rendered again: the one chance to copy it.
            self.message_user(
                request,
                f"Copy the signing secret now: {secret} — it will not be shown "
                "again. Check each delivery's Smsbridge-Signature with it.",
                messages.SUCCESS,
            )

    @admin.action(
        description="Rotate signing secret (the old one signs beside it for a while)",
        permissions=["change"],
    )
    def rotate_secret(self, request: HttpRequest, queryset) -> None:
        now = timezone.now()
        hours = settings.WEBHOOK_SECRET_OVERLAP_HOURS
        for endpoint in queryset:
            secret = endpoint.issue_secret(now=now)
            with audit.action("Rotated the signing secret", endpoint):
                endpoint.save(
                    update_fields=["secret", "previous_secret", "previous_secret_until"]
                )
            self.message_user(
                request,
                f"New signing secret for {endpoint}: {secret} — copy it now, it "
                f"will not be shown again. The previous one signs beside it for "
                f"{hours:g} hours, while your receiver switches over.",
                messages.SUCCESS,
            )

    @admin.action(description="Deactivate selected webhooks", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        active = list(queryset.filter(is_active=True))
        count = queryset.filter(pk__in=[e.pk for e in active]).update(is_active=False)
        # A bulk update sends no signals: each webhook's entry is written here.
        for endpoint in active:
            audit.record(
                endpoint,
                "Webhook deactivated",
                changes={"is_active": ["True", "False"]},
            )
        self.message_user(request, f"{count} webhook(s) deactivated.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PermittedActionsOnly):
    """Every status change posted to a webhook, and how its attempts went."""

    list_display = [
        "created_at",
        "endpoint",
        "message_display",
        "event",
        "status",
        "attempts",
        "answer_status",
        "next_attempt_at",
        "error",
    ]
    list_filter = ["status", "event", "created_at", "endpoint"]
    search_fields = ["=message__message_id"]
    search_help_text = "A message id, as the event API answered it."
    list_select_related = ["endpoint", "message"]
    fields = [
        "id",
        "endpoint",
        "message_display",
        "event",
        "occurred_at",
        "status",
        "attempts",
        "first_attempt_at",
        "last_attempt_at",
        "next_attempt_at",
        "answer_status",
        "answer",
        "error",
        "delivered_at",
        "payload_display",
    ]
    readonly_fields = fields
    actions = ["send_again"]

    @admin.display(description="message")
    def message_display(self, obj: WebhookDelivery) -> str:
        if obj.message_id is None:  # an inbound reply's
            url = reverse("admin:campaigns_inboundmessage_change", args=[obj.reply_id])
            return format_html('<a href="{}">reply {}</a>', url, obj.reply_id)
        url = reverse("admin:campaigns_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message.message_id)

    @admin.display(description="message as told")
    def payload_display(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.resend_webhookdelivery")

    @admin.action(description="Send again", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = delivering.send_again(queryset, now=timezone.now())
        self.message_user(
            request,
            f"{count} webhook delivery(ies) queued to be sent again, with a new "
            "day of retries.",
        )
