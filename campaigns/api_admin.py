"""Admin for the event API's tokens and for the opt-out list."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from providers.admin_actions import PermittedActionsOnly

from .events import international
from .models import ApiToken, OptOut


@admin.register(ApiToken)
class ApiTokenAdmin(PermittedActionsOnly):
    """Tokens are issued on save and shown once; afterwards only the prefix."""

    list_display = ["name", "prefix_display", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix_display", "created_at", "last_used_at"]
    actions = ["deactivate"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list:
        if obj is None:
            return ["name"]
        return ["name", "prefix_display", "is_active", "created_at", "last_used_at"]

    @admin.display(description="token", ordering="prefix")
    def prefix_display(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change) -> None:
        token = None if change else obj.issue()
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
        count = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"{count} API token(s) deactivated.")


class OptOutForm(forms.ModelForm):
    class Meta:
        model = OptOut
        fields = ["to", "source"]
        help_texts = {"to": "In international format, e.g. +6591234567."}

    def clean_to(self) -> str:
        # Stored in E.164, the form sends compare against, so "+65 9123 4567"
        # and "+6591234567" are one opt-out.
        return international(self.cleaned_data["to"])


@admin.register(OptOut)
class OptOutAdmin(PermittedActionsOnly):
    """Numbers that receive no promotional messages, from any campaign."""

    form = OptOutForm
    list_display = ["to", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["to", "source"]
    date_hierarchy = "created_at"
