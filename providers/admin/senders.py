"""Senders, with the one-default-per-type rule kept on the list page too."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models
from django.forms import BaseModelFormSet, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from ..audit.history import AuditHistory
from ..forms.sender import SenderForm
from ..models import Sender
from .actions import PermittedActionsOnly


class SenderChangeListFormSet(BaseModelFormSet):
    def clean(self) -> None:
        super().clean()
        defaults: dict[str, str] = {}
        for form in self.forms:
            if not form.cleaned_data.get("is_default"):
                continue
            sender_type = form.instance.sender_type
            if sender_type in defaults:
                form.add_error(
                    "is_default",
                    ValidationError(
                        "Only one %(type)s sender can be the default; “%(other)s” is "
                        "also marked.",
                        code="second_default",
                        params={
                            "type": form.instance.get_sender_type_display().lower(),
                            "other": defaults[sender_type],
                        },
                    ),
                )
            defaults[sender_type] = form.instance.name


class LenientAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete re-renders a refused value by looking it up, and a
    value the key cannot hold ("abc" for an id) raises there instead of leaving
    the field's own "Select a valid choice" to speak: such values are left out."""

    def optgroups(self, name: str, value: list[str], attrs=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if holds(target, v)], attrs)


class LenientAutocompleteFields(BaseModelAdmin):
    """Mixed into a model admin or an inline: its autocomplete fields use
    LenientAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name in self.autocomplete_fields:
            using = kwargs.get("using")
            widget = LenientAutocompleteSelect(db_field, self.admin_site, using=using)
            kwargs["widget"] = widget
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def holds(field: models.Field, value: str) -> bool:
    try:
        field.run_validators(field.to_python(value))  # its type, then its range
    except ValidationError:
        return False
    return True


@admin.register(Sender)
class SenderAdmin(AuditHistory, LenientAutocompleteFields, PermittedActionsOnly):
    form = SenderForm
    list_display = ["name", "provider", "sender_id", "sender_type", "is_default"]
    list_editable = ["is_default"]
    list_filter = ["sender_type", "is_default", "provider"]
    search_fields = ["name", "sender_id", "provider__nickname"]
    list_select_related = ["provider"]
    autocomplete_fields = ["provider"]
    fieldsets = [
        (
            None,
            {"fields": ["provider", "name", "sender_id", "sender_type", "is_default"]},
        ),
        (
            "Quiet hours",
            {"fields": ["quiet_hours_start", "quiet_hours_end", "time_zone"]},
        ),
        (
            "Replies",
            {
                "description": "What a reply to this sender's number does. The "
                "whole reply must be the keyword; letter case, spaces and "
                "punctuation around it do not matter. Opt-outs hold for every "
                "promotional sender. An auto-reply is sent at most "
                "INBOUND_AUTO_REPLIES_PER_DAY times a day to one number.",
                "fields": [
                    "opt_out_keywords",
                    "opt_out_reply",
                    "opt_in_keywords",
                    "opt_in_reply",
                ],
            },
        ),
    ]

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any):
        kwargs["formset"] = SenderChangeListFormSet
        return super().get_changelist_formset(request, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method == "POST" and "_save" in request.POST:
            # The admin looks the rows up by the ids posted before any form
            # checks them, and an id past the key's range fails in the database.
            pk = Sender._meta.pk
            posted = [v for k, v in request.POST.items() if LIST_ROW_ID.fullmatch(k)]
            if not all(holds(pk, value) for value in posted):
                messages.error(
                    request,
                    "Nothing was saved: the list sent back a row that does not "
                    "exist. Reload the page and save again.",
                )
                return redirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


LIST_ROW_ID = re.compile(r"form-\d+-id")
