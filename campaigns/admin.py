from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import DeliveryReport


@admin.register(DeliveryReport)
class DeliveryReportAdmin(admin.ModelAdmin):
    """Every callback as received, for diagnosing a provider's delivery reports."""

    list_display = ["received_at", "provider", "format", "response_status", "result"]
    list_filter = ["response_status", "format", "provider"]
    search_fields = ["body", "provider__nickname"]
    list_select_related = ["provider"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
