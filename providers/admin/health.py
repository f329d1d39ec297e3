"""Provider health on the providers list: the breaker's state with its reason,
and the pause and resume actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from .. import audit, health

HEALTH_HTML = (
    '<span class="health-{}" data-health="{}">{}{}</span>'
    '<div class="help" title="{}">{}</div>'
)


class HealthActions(admin.ModelAdmin):
    """Mixed into the provider admin."""

    @admin.display(description="Health")
    def health_display(self, obj) -> str:
        row = getattr(obj, "health", None)  # no row: never failed
        state = row.state(timezone.now()) if row else health.HEALTHY_STATE
        if not obj.is_active:
            return "Archived"
        if state.name == health.HEALTHY:
            if state.failures:
                return format_html(
                    '<span class="health-failing" data-health="failing">{} failure{} '
                    "in a row</span>",
                    state.failures,
                    "" if state.failures == 1 else "s",
                )
            return format_html(
                '<span class="health-ok" data-health="healthy">{}</span>', "Healthy"
            )
        until = f" until {state.until:%H:%M:%S} UTC" if state.until else ""
        return format_html(
            HEALTH_HTML,
            state.name,
            state.name,
            state.label,
            until,
            state.reason,
            state.reason,
        )

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("providers.pause_provider")

    @admin.action(
        description="Pause sending (routes skip it; its campaigns wait)",
        permissions=["pause"],
    )
    def pause_providers(self, request: HttpRequest, queryset) -> None:
        reason = (
            f"Paused by {request.user.get_username()} at "
            f"{timezone.now():%Y-%m-%d %H:%M} UTC."
        )
        for provider in queryset:
            with audit.action("Paused sending", provider, reason=reason):
                health.pause(provider.pk, reason=reason)
        self.message_user(
            request,
            f"Paused {len(queryset)} provider(s): routes send through the next "
            "provider, and campaigns with only this provider wait until it is "
            "resumed.",
            messages.SUCCESS,
        )

    @admin.action(description="Resume sending", permissions=["pause"])
    def resume_providers(self, request: HttpRequest, queryset) -> None:
        for provider in queryset:
            with audit.action("Resumed sending", provider):
                health.resume(provider.pk)
        self.message_user(
            request,
            f"Resumed {len(queryset)} provider(s); their failure counts are reset.",
            messages.SUCCESS,
        )
