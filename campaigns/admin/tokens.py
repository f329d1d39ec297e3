"""Admin for the event API's tokens: issued on save and shown once."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from providers import audit
from providers.admin.actions import PermittedActionsOnly
from providers.audit.history import AuditHistory

from ..models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(AuditHistory, PermittedActionsOnly):
    """Tokens are issued on save and shown once; afterwards only the prefix."""

    list_display = [
        "name",
        "prefix_display",
        "is_active",
        "can_send",
        "can_read",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["is_active", "can_send", "can_read"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix_display", "created_at", "last_used_at"]
    actions = ["deactivate"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list:
        if obj is None:
            return ["name", "can_send", "can_read"]
        return [
            "name",
            "prefix_display",
            "is_active",
            "can_send",
            "can_read",
            "created_at",
            "last_used_at",
        ]

    @admin.display(description="token", ordering="prefix")
    def prefix_display(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change) -> None:
        token = None if change else obj.issue()
        if token:
            with audit.action("Token created"):
                super().save_model(request, obj, form, change)
        else:
            super().save_model(request, obj, form, change)
        if token:
            # Only the hash is stored, so this message is the one chance to copy it.
            self.message_user(
                request,
                f"Copy it now: {token} — it will not be shown again.",
                messages.SUCCESS,
            )

    @admin.action(description="Deactivate selected API tokens", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        active = list(queryset.filter(is_active=True))
        count = queryset.filter(pk__in=[t.pk for t in active]).update(is_active=False)
        # A bulk update sends no signals: each token's entry is written here.
        for token in active:
            audit.record(
                token, "Token deactivated", changes={"is_active": ["True", "False"]}
            )
        self.message_user(request, f"{count} API token(s) deactivated.")
