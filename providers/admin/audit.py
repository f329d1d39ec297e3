"""The audit history as one list: every entry a user may read, filterable by
kind of object, action, admin action and user."""

from __future__ import annotations

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest

from ..audit import history

admin.site.unregister(LogEntry)


class AdminActionFilter(admin.SimpleListFilter):
    title = "admin action"
    parameter_name = "what"

    def lookups(self, request, model_admin):
        labels = (
            model_admin.get_queryset(request)
            .exclude(additional_data=None)
            .values_list("additional_data__action", flat=True)
            .distinct()
        )
        return [(label, label) for label in sorted({str(x) for x in labels if x})]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(additional_data__action=self.value())


def readable_types(user) -> list[int]:
    """The kinds of object whose entries a user may read: those they may view."""
    return [
        kind.pk
        for kind in ContentType.objects.all()
        if user.has_perm(f"{kind.app_label}.view_{kind.model}")
        or user.has_perm(f"{kind.app_label}.change_{kind.model}")
    ]


@admin.register(LogEntry)
class AuditEntryAdmin(LogEntryAdmin):
    list_display = ["created", "resource_url", "what", "msg_short", "user_url"]
    list_filter = [
        "action",
        ResourceTypeFilter,
        AdminActionFilter,
        ("actor", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["object_repr", "changes", "actor__username"]
    readonly_fields = ["created", "resource_url", "what", "user_url", "msg"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "resource_url", "what"]}),
        ("Changes", {"fields": ["msg"]}),
    ]

    @admin.display(description="Changes")
    def msg_short(self, obj: LogEntry) -> str:
        # An admin action that changed no audited field has no changes to count.
        return super().msg_short(obj) if obj.changes else "—"

    @admin.display(description="What")
    def what(self, obj: LogEntry) -> str:
        return history.what(obj)

    def get_queryset(self, request: HttpRequest):
        entries = super().get_queryset(request)
        if request.user.is_superuser:
            return entries
        # Secrets are never in an entry, but a token's or a campaign's history is
        # still only for those who may see the token or the campaign.
        return entries.filter(content_type__in=readable_types(request.user))
