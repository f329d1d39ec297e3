"""The sender form: a sender ID checked against its provider's limits, and the
keywords and auto-replies its numbers answer replies with."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .. import validators
from ..inbound import MAX_KEYWORD, keyword_list, normalised, shown
from ..models import Sender

KEYWORD_FIELDS = ("opt_out_keywords", "opt_in_keywords")
REPLY_FIELDS = {"opt_out_reply": "opt-out", "opt_in_reply": "opt-in"}


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
            "opt_out_keywords",
            "opt_out_reply",
            "opt_in_keywords",
            "opt_in_reply",
        ]
        widgets = {
            "opt_out_reply": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "opt_in_reply": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }

    def clean_opt_out_keywords(self) -> str:
        return self.keywords("opt_out_keywords")

    def clean_opt_in_keywords(self) -> str:
        return self.keywords("opt_in_keywords")

    def keywords(self, name: str) -> str:
        """The list as it is matched, written back in capitals: STOP, END."""
        words = keyword_list(self.cleaned_data.get(name, ""))
        for word in words:
            if len(word) > MAX_KEYWORD:
                raise ValidationError(
                    "“%(word)s” is too long for a keyword (at most %(limit)d "
                    "characters); separate keywords with commas.",
                    code="keyword_too_long",
                    params={"word": word.upper()[:60], "limit": MAX_KEYWORD},
                )
        return shown(words)

    def clean_opt_out_reply(self) -> str:
        return self.auto_reply("opt_out_reply")

    def clean_opt_in_reply(self) -> str:
        return self.auto_reply("opt_in_reply")

    def auto_reply(self, name: str) -> str:
        text = self.cleaned_data.get(name, "").strip()
        if text:
            validators.validate_segment_count(text)
        return text

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
        self.check_keywords(cleaned)
        return cleaned

    def check_keywords(self, cleaned: dict[str, Any]) -> None:
        if any(name in self.errors for name in KEYWORD_FIELDS):
            return
        out, back = (set(keyword_list(cleaned.get(n, ""))) for n in KEYWORD_FIELDS)
        if both := sorted(out & back):
            self.add_error(
                "opt_in_keywords",
                ValidationError(
                    "%(words)s cannot both opt out and opt back in; keep each "
                    "keyword in one list.",
                    code="keyword_in_both_lists",
                    params={"words": shown(both)},
                ),
            )
        for name, kind in REPLY_FIELDS.items():
            # An auto-reply that is itself a keyword would make whatever reads
            # it (another smsbridge, a bot) opt out or in, and answer back.
            if normalised(cleaned.get(name, "")) in out | back:
                self.add_error(
                    name,
                    ValidationError(
                        "The %(kind)s auto-reply may not be a keyword itself: a "
                        "system that answers it could opt out or in, and answer "
                        "back. Write a sentence, e.g. “You will get no more "
                        "messages. Reply START to opt back in.”",
                        code="auto_reply_is_keyword",
                        params={"kind": kind},
                    ),
                )
