"""The sender form: a sender ID checked against its provider's limits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .. import validators
from ..models import (
    Sender,
)


# The fields a request is built from; with any of them invalid, nothing renders.
class SenderForm(forms.ModelForm):
    """A sender edited on its own, held to its provider's documented limits."""

    class Meta:
        model = Sender
        fields = [
            "provider",
            "name",
            "sender_id",
            "sender_type",
            "is_default",
            "quiet_hours_start",
            "quiet_hours_end",
            "time_zone",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        provider = cleaned.get("provider")
        if provider and cleaned.get("sender_id"):
            try:
                validators.validate_sender_for_endpoint(
                    cleaned["sender_id"], provider.endpoint
                )
            except ValidationError as err:
                self.add_error("sender_id", err)
        return cleaned
