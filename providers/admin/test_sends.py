"""The test log support reads: what was sent and what came back, secrets masked."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from ..models import TestSend
from .actions import PermittedActionsOnly
from .volume import SentMessageSearch


@admin.register(TestSend)
class TestSendAdmin(SentMessageSearch, PermittedActionsOnly):
    """The test log support reads: what was sent and what came back, secrets masked."""

    list_display = [
        "created_at",
        "provider",
        "to",
        "category",
        "status_code",
        "latency_ms",
    ]
    list_filter = ["created_at", "category", "provider"]
    list_select_related = ["provider"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
