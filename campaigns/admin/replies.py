"""Inbound replies: every reply as received, by number, campaign, provider and
what its keyword did. Read-only; no role may delete them (a superuser may), as
they are the log of who opted out and back in."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from providers.admin.actions import PermittedActionsOnly
from providers.admin.volume import LargeList

from ..models import InboundMessage

FIELDS = [
    "received_at",
    "provider",
    "from_number",
    "to_number",
    "text",
    "sent_at",
    "provider_message_id",
    "sender",
    "campaign",
    "last_message_display",
    "keyword",
    "action",
    "note",
    "reply_status",
    "reply_text",
    "reply_note",
    "reply_message_id",
    "reply_provider_message_id",
    "replied_at",
    "body",
]


def changelist_url(**filters: Any) -> str:
    return (
        reverse("admin:campaigns_inboundmessage_changelist") + "?" + urlencode(filters)
    )


@admin.register(InboundMessage)
class InboundMessageAdmin(LargeList, PermittedActionsOnly):
    list_display = [
        "received_at",
        "from_display",
        "text_display",
        "to_number",
        "provider",
        "campaign",
        "action",
        "reply_status",
    ]
    list_filter = [
        "action",
        "reply_status",
        ("provider", admin.RelatedOnlyFieldListFilter),
        ("campaign", admin.RelatedOnlyFieldListFilter),
        "received_at",
    ]
    search_fields = ["from_number", "to_number", "text"]
    search_help_text = "A number, or words of the reply."
    list_select_related = ["provider", "campaign"]
    fields = FIELDS
    readonly_fields = FIELDS

    @admin.display(description="from", ordering="from_number")
    def from_display(self, obj: InboundMessage) -> str:
        if not obj.from_number:
            return "unknown"
        # Every reply of the number, whatever the other filters.
        return format_html(
            '<a href="{}" title="Every reply from this number">{}</a>',
            changelist_url(from_number=obj.from_number),
            obj.from_number,
        )

    @admin.display(description="text")
    def text_display(self, obj: InboundMessage) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:59] + "…"

    @admin.display(description="last message sent to the number")
    def last_message_display(self, obj: InboundMessage) -> str:
        if not obj.last_message_id:
            return "—"
        url = reverse("admin:campaigns_message_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"q": obj.last_message_id}),
            obj.last_message_id,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
