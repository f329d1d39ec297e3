from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from providers import phones, validators
from providers.forms.placeholder_values import PlaceholderValuesField, described
from providers.message_templates import Mismatch
from providers.models import Sender

from . import audience as audience_reader
from . import placeholders
from .models import Campaign
from .personalise import FIELD, fields_in, missing_fields, personalise
from .senders import Senders

# Rows named one by one when a personalised message is too long; the rest counted.
REPORTED_ROWS = 5


def default_sender_type() -> str:
    """The model's default type if it has a default sender, else a type that has
    one: a campaign left on a type with no sender could not be launched."""
    preferred = Campaign._meta.get_field("sender_type").default
    with_default = set(
        Sender.objects.filter(is_default=True).values_list("sender_type", flat=True)
    )
    if preferred in with_default or not with_default:
        return preferred
    return sorted(with_default)[0]


class CampaignForm(forms.ModelForm):
    audience_file = forms.FileField(
        label="Audience CSV",
        required=False,
        help_text="A CSV with a header row and a phone column (phone, mobile, number "
        "or msisdn); other columns personalise the message as $$column_name.",
    )
    audience_numbers = forms.CharField(
        label="Or paste numbers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="One number per line. Uploading or pasting replaces the audience.",
    )

    placeholder_values = PlaceholderValuesField(
        help_text=Campaign._meta.get_field("placeholder_values").help_text
        + " One name=value a line, e.g. hid=1234."
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "event_name",
            "sender_type",
            "sender",
            "route",
            "placeholder_values",
            "template",
            "message",
            "default_country",
            "scheduled_at",
        ]
        widgets = {"message": forms.Textarea(attrs={"rows": 4, "cols": 60})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audience: audience_reader.Audience | None = None
        if "default_country" in self.fields:
            self.fields["default_country"] = forms.ChoiceField(
                label="Default country",
                choices=phones.country_choices(),
                initial="SG",
                help_text=Campaign._meta.get_field("default_country").help_text,
            )
        if "message" in self.fields:
            self.fields["message"].widget.attrs["id"] = "id_message"
        if "sender_type" in self.fields and self.instance.pk is None:
            self.fields["sender_type"].initial = default_sender_type()
        if "audience_file" in self.fields:
            self.fields["audience_file"].help_text += (
                f" At most {settings.CAMPAIGN_MAX_RECIPIENTS:,} rows and "
                f"{filesizeformat(settings.CAMPAIGN_AUDIENCE_MAX_BYTES)}."
            )

    def clean_audience_file(self) -> Any:
        upload = self.cleaned_data.get("audience_file")
        limit = settings.CAMPAIGN_AUDIENCE_MAX_BYTES
        if upload and upload.size > limit:
            # Refused before a byte is parsed.
            raise ValidationError(
                "The file is %(size)s, over the %(limit)s an audience file may be "
                "(CAMPAIGN_AUDIENCE_MAX_BYTES); split it into several campaigns.",
                code="file_too_large",
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(limit),
                },
            )
        return upload

    def clean_message(self) -> str:
        message = self.cleaned_data["message"]
        validators.validate_segment_count(message)
        return message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == Campaign.Kind.EVENT and not cleaned.get("event_name", "").strip():
            self.add_error(
                "event_name",
                ValidationError(
                    "Name the event that triggers this campaign.", code="required"
                ),
            )
        if cleaned.get("sender") and cleaned.get("route"):
            self.add_error(
                "route",
                ValidationError(
                    "Choose a sender or a route, not both: a route names its "
                    "own senders.",
                    code="sender_and_route",
                ),
            )
        self.read_audience(cleaned)
        self.check_placeholders(cleaned)
        self.check_template(cleaned)
        if kind == Campaign.Kind.ONE_TIME and "message" in cleaned:
            self.check_personalisation(cleaned["message"])
            if "message" not in self.errors:
                self.check_personalised_length(cleaned["message"])
        return cleaned

    def check_template(self, cleaned: dict[str, Any]) -> None:
        """The message follows its DLT template, each $$column standing for a
        variable; every personalised text is checked again at launch."""
        template, message = cleaned.get("template"), cleaned.get("message")
        if template is None or message is None:
            return
        sample = FIELD.sub("x", message)
        try:
            template.registered.variables_of(sample)
        except Mismatch as err:
            self.add_error("message", ValidationError(str(err), code="dlt_mismatch"))

    def check_placeholders(self, cleaned: dict[str, Any]) -> None:
        """The provider's custom placeholders are mandatory inputs: those sent
        once a request always, those sent per message unless the audience (or,
        for an event campaign, each event) gives them."""
        if "placeholder_values" not in cleaned:
            return
        draft = Campaign(
            sender=cleaned.get("sender"),
            route=cleaned.get("route"),
            sender_type=cleaned.get("sender_type") or self.instance.sender_type,
        )
        senders = Senders(draft)
        if senders.lead is None:
            return  # launching says so
        needs = senders.needs()
        # An event's properties come later, and so may an audience not given yet.
        known = self.audience is not None or (
            self.instance.pk and self.instance.audience.exists()
        )
        if cleaned.get("kind") == Campaign.Kind.EVENT or not known:
            columns = set(needs.per_message)
        else:
            columns = self.audience_columns()
        missing = placeholders.missing(
            needs, given=cleaned["placeholder_values"], columns=columns
        )
        if missing:
            self.add_error(
                "placeholder_values",
                ValidationError(
                    "The request of %(provider)s uses %(names)s: give a value here "
                    "(name=value)%(or_column)s.",
                    code="missing_placeholder",
                    params={
                        "provider": draft.route or senders.lead.provider,
                        "names": described(missing),
                        "or_column": " or an audience column of that name"
                        if needs.per_message
                        else "",
                    },
                ),
            )

    def read_audience(self, cleaned: dict[str, Any]) -> None:
        region = cleaned.get("default_country") or "SG"
        upload, pasted = (
            cleaned.get("audience_file"),
            cleaned.get("audience_numbers", ""),
        )
        try:
            if upload:
                self.audience = audience_reader.read_csv(upload.file, region=region)
            elif pasted.strip():
                self.audience = audience_reader.read_pasted(pasted, region=region)
        except ValidationError as err:
            self.add_error("audience_file", err)
            return
        if self.audience is not None and not self.audience.valid:
            lines = "; ".join(
                f"line {n}: {why}" for n, why in self.audience.invalid[:5]
            )
            self.add_error(
                "audience_file" if upload else "audience_numbers",
                ValidationError(
                    "No valid number in the audience (%(lines)s).",
                    code="no_valid_rows",
                    params={"lines": lines or "it is empty"},
                ),
            )
            self.audience = None
        if (
            self.audience is None
            and cleaned.get("kind") == Campaign.Kind.ONE_TIME
            and not (self.instance.pk and self.instance.audience.exists())
            and "audience_file" not in self.errors
            and "audience_numbers" not in self.errors
        ):
            self.add_error(
                "audience_file",
                ValidationError(
                    "Upload a CSV or paste numbers: a one-time campaign needs an "
                    "audience.",
                    code="no_audience",
                ),
            )

    def audience_columns(self) -> set[str]:
        if self.audience is not None:
            return set(self.audience.columns)
        first = self.instance.audience.first() if self.instance.pk else None
        return set(first.fields) if first else set()

    def check_personalisation(self, message: str) -> None:
        missing = missing_fields(message, self.audience_columns())
        if missing:
            self.add_error(
                "message",
                ValidationError(
                    "The message uses %(fields)s, but the audience has no such column.",
                    code="missing_column",
                    params={"fields": ", ".join(f"$${name}" for name in missing)},
                ),
            )

    def check_personalised_length(self, message: str) -> None:
        """Refuse at upload, not at launch: the rows are in front of the user then."""
        if not (fields_in(message) or "$$To" in message):
            return  # every recipient gets the template, checked in clean_message
        more = 0
        for number, (where, reason) in enumerate(self.overlong(message)):
            if number >= REPORTED_ROWS:
                more += 1
                continue
            self.add_error(
                "message",
                ValidationError(
                    "%(where)s, once personalised: %(reason)s",
                    code="too_long",
                    params={"where": where, "reason": reason},
                ),
            )
        if more:
            self.add_error(
                "message",
                ValidationError(
                    "%(more)d more recipients are over the limit too.",
                    code="too_long",
                    params={"more": more},
                ),
            )

    def overlong(self, message: str) -> Iterator[tuple[str, str]]:
        for where, text in self.personalised_texts(message):
            try:
                validators.validate_segment_count(text)
            except ValidationError as err:
                yield where, err.messages[0]

    def personalised_texts(self, message: str) -> Iterator[tuple[str, str]]:
        """(where, text) for each recipient of the audience just read, by line;
        for the stored audience when only the message changed, by number."""
        if self.audience is not None:
            for line, to, fields in self.audience.recipients():
                yield f"Line {line}", personalise(message, to=to, fields=fields)
        elif self.instance.pk and "message" in self.changed_data:
            stored = self.instance.audience.order_by("pk").values_list("to", "fields")
            for to, fields in stored.iterator(chunk_size=5000):
                yield f"Recipient {to}", personalise(message, to=to, fields=fields)

    def preview(self) -> str:
        """The first recipient's text, for the admin to check before launching."""
        first = next(self.audience.recipients(), None) if self.audience else None
        if first is not None:
            message = self.cleaned_data["message"]
            return personalise(message, to=first.to, fields=first.fields)
        return ""
