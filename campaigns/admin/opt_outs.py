"""Admin for the opt-out list."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from providers.admin.actions import PermittedActionsOnly
from providers.phones import international

from ..models import OptOut


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
