from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import construct_instance

from .. import validators
from ..audit.rows import ProviderSave
from ..dlr import DLR_FIELDS, DeliveryState
from ..inbound import INBOUND_FIELDS, INBOUND_PATH_FIELDS
from ..models import (
    RESPONSE_FIELDS,
    Header,
    Provider,
    ProviderVariable,
    Sender,
    UrlParameter,
)
from ..outbound.redaction import redact_text
from ..outbound.rendering import (
    BUILTIN_VARIABLES,
    PER_MESSAGE,
    CompiledRequest,
    Context,
    TemplateError,
    batch_record,
    compile_request,
    fill,
    parse_json_payload,
    tokens_in,
    url_escape,
)
from ..outbound.spec import SAMPLE_MESSAGE, build_request_spec
from ..rows import KeyValueRowsField, RowValue
from . import client_credentials
from .client_credentials import ClientCredentialsMixin
from .paste_safety import PasteSafetyMixin

# The fields a request is built from; with any of them invalid, nothing renders.
REQUEST_FIELDS = (
    "method",
    "endpoint",
    "authentication",
    "basic_username",
    "basic_password",
    "body_type",
    "payload",
    "batch_enabled",
    "batch_key",
    "number_format",
    "headers",
    "url_parameters",
    "variables",
    "sender_id",
)
ROW_MODELS = {
    "headers": Header,
    "url_parameters": UrlParameter,
    "variables": ProviderVariable,
}


class WriteOnlyTextarea(forms.Textarea):
    """Credentials typed one per line; like PasswordInput(render_value=False),
    never rendered back, whatever becomes of the submission."""

    def format_value(self, value: Any) -> None:
        return None


class StatusValuesField(forms.CharField):
    """A provider's status values, one `value = state` per line."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 40, "class": "mono"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        kwargs["required"] = False
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{k} = {v}" for k, v in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        table = {}
        states = set(DeliveryState.values)
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            raw, sep, state = line.rpartition("=")
            state = state.strip().lower()
            if not sep or not raw.strip() or state not in states:
                raise ValidationError(
                    "Line %(number)d: write “provider value = state”, where state is "
                    "one of queued, sent, delivered, failed.",
                    code="invalid_status_value",
                    params={"number": number},
                )
            table[raw.strip()] = state
        return table


class ProviderForm(ClientCredentialsMixin, PasteSafetyMixin, forms.ModelForm):
    """Fields and checks shared by both setup screens."""

    screen = Provider.SetupScreen.CLEVERTAP
    to_placeholder = "$$To"
    body_placeholder = "$$Body"

    headers = KeyValueRowsField(
        label="Headers",
        row_label="Header",
        name_label="Key",
        name_validator=validators.validate_header_name,
        case_insensitive=True,
        help_text="Key/value pairs added to every request, e.g. Authorization: "
        "Bearer {apiKey}. Placeholders are allowed in values.",
    )
    url_parameters = KeyValueRowsField(
        label="URL Parameters",
        row_label="URL parameter",
        name_label="Key",
        help_text="Key/value pairs added to the URL's query string.",
    )
    variables = KeyValueRowsField(
        label="Provider variables",
        row_label="Variable",
        name_label="Name",
        name_validator=validators.validate_identifier,
        value_required=True,
        reserved=frozenset(BUILTIN_VARIABLES),
        help_text="Values such as subAccountId or apiKey, used as {subAccountId} "
        "in the endpoint, headers, parameters and payload. Mark keys and "
        "passwords Secret: they are encrypted and never shown again.",
    )
    sender_name = forms.CharField(
        label="Sender name",
        max_length=100,
        required=False,
        help_text="Identifies the sender, for example 8x8 SMS.",
    )
    sender_id = forms.CharField(
        label="Sender ID / Virtual Number",
        max_length=32,
        required=False,
        validators=[validators.validate_sender_id],
        help_text="Must be a sender ID or number registered with the provider; "
        "used as {sender_id}.",
    )
    sender_type = forms.ChoiceField(
        label="Sender type",
        choices=Sender.SenderType.choices,
        initial=Sender.SenderType.TRANSACTIONAL,
        widget=forms.RadioSelect,
        help_text=Sender._meta.get_field("sender_type").help_text,
    )
    is_default = forms.BooleanField(
        label="Mark as default",
        required=False,
        help_text="If marked as default, this sender is used for all campaigns "
        "of its type unless a different sender is chosen.",
    )

    class Meta:
        model = Provider
        fields = [
            "nickname",
            "preset",
            "method",
            "endpoint",
            "authentication",
            "basic_username",
            "basic_password",
            *client_credentials.FIELDS,
            "body_type",
            "payload",
            "template_variables_format",
            "batch_enabled",
            "batch_key",
            "batch_size",
            "number_format",
            "rate_limit",
            *RESPONSE_FIELDS,
            "is_active",
            *DLR_FIELDS,
            *INBOUND_FIELDS,
        ]
        field_classes = {"dlr_status_values": StatusValuesField}
        widgets = {
            "dlr_credentials": WriteOnlyTextarea(
                attrs={"rows": 2, "cols": 60, "autocomplete": "off"}
            ),
            "dlr_sample": forms.Textarea(
                attrs={"rows": 6, "cols": 80, "spellcheck": "false", "class": "mono"}
            ),
            "inbound_sample": forms.Textarea(
                attrs={"rows": 6, "cols": 80, "spellcheck": "false", "class": "mono"}
            ),
            "preset": forms.HiddenInput,
            "payload": forms.Textarea(
                attrs={"rows": 14, "cols": 80, "spellcheck": "false", "class": "mono"}
            ),
            "basic_password": forms.PasswordInput(render_value=False),
            "endpoint": forms.TextInput(attrs={"class": "vLargeTextField endpoint"}),
            **client_credentials.WIDGETS,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled: CompiledRequest | None = None
        if self.instance.pk:
            self._load_rows()
            self._load_sender()
        for optional in ("rate_limit", "template_variables_format"):
            if optional in self.fields:
                self.fields[optional].required = False
        # Credentials are write-only: never rendered back into the page.
        self.initial["dlr_credentials"] = ""
        if self.instance.dlr_credentials and "dlr_credentials" in self.fields:
            count = len(self.instance.dlr_credential_pairs())
            self.fields["dlr_credentials"].widget.attrs["placeholder"] = (
                f"{count} credential(s) stored — leave blank to keep, type new lines "
                "to replace them, or a single - to remove them"
            )
        if "basic_password" in self.fields:
            self.fields["basic_password"].required = False
            if self.instance.basic_password:
                self.fields["basic_password"].widget.attrs["placeholder"] = (
                    "Stored — leave blank to keep"
                )
        self.start_paste_safety()
        self.start_client_credentials()

    def _load_rows(self) -> None:
        for name, model in self.row_models():
            rows = [
                RowValue(r.name, r.value, r.secret)
                for r in model.objects.filter(provider=self.instance)
            ]
            self.fields[name].keep_secrets(rows)
            self.initial[name] = [
                {
                    "name": r.name,
                    "value": "" if r.secret else r.value,
                    "secret": r.secret,
                }
                for r in rows
            ]

    def relabel(self, name: str, choices: list[tuple[str, str]]) -> None:
        """Show a choice field as radio buttons with the screen's own labels."""
        if name in self.fields:
            self.fields[name].choices = choices
            self.fields[name].widget = forms.RadioSelect(choices=choices)

    def row_models(self) -> list[tuple[str, type]]:
        return [
            (name, model) for name, model in ROW_MODELS.items() if name in self.fields
        ]

    def _load_sender(self) -> None:
        sender = self.instance.primary_sender
        if sender:
            self.initial.update(
                sender_name=sender.name,
                sender_id=sender.sender_id,
                sender_type=sender.sender_type,
                is_default=sender.is_default,
            )

    # --- field checks ------------------------------------------------------------

    def clean_nickname(self) -> str:
        nickname = self.cleaned_data["nickname"].strip()
        clash = Provider.objects.filter(nickname__iexact=nickname)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(
                "A provider named “%(other)s” already exists; nicknames must be "
                "unique whatever their letter case.",
                code="duplicate_nickname",
                params={"other": clash.first().nickname},
            )
        return nickname

    def clean_endpoint(self) -> str:
        endpoint = self.cleaned_data["endpoint"]
        validators.validate_no_control_characters(endpoint, what="The endpoint")
        return endpoint

    def clean_basic_password(self) -> str:
        password = self.cleaned_data.get("basic_password", "")
        password = (
            password or self.held.basic_password or self.instance.basic_password or ""
        )
        basic = self.cleaned_data.get("authentication") == Provider.Authentication.BASIC
        if basic and not password:
            raise ValidationError(
                "Basic authentication needs a password: enter the one the provider "
                "gave you, or choose No Authentication.",
                code="basic_password_required",
            )
        return password

    def clean_rate_limit(self) -> int:
        # Blank means no limit, like 0.
        return self.cleaned_data.get("rate_limit") or 0

    def clean_template_variables_format(self) -> str:
        # Only providers with DLT templates care; the others keep the default.
        chosen = self.cleaned_data.get("template_variables_format")
        return chosen or Provider._meta.get_field("template_variables_format").default

    def clean_dlr_credentials(self) -> str:
        given = self.cleaned_data.get("dlr_credentials", "").strip()
        given = given or self.held.dlr_credentials
        if not given:
            return self.instance.dlr_credentials or ""
        if given == "-":
            return ""
        for number, line in enumerate(given.splitlines(), start=1):
            username, sep, password = line.strip().partition(":")
            if not (sep and username and password):
                raise ValidationError(
                    "Line %(number)d is not username:password.",
                    code="invalid_credentials",
                    params={"number": number},
                )
        return given

    def clean_sender_name(self) -> str:
        name = self.cleaned_data["sender_name"].strip()
        return name or self.cleaned_data.get("nickname", "")

    # --- whole-configuration checks -------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_request_shape(cleaned)
        self._check_inbound_mapping(cleaned)
        self.check_guide_text(cleaned)
        self.check_credentials(cleaned)
        self.check_sender_rules(cleaned)
        self.check_oauth_headers(cleaned)
        if any(name in self.errors for name in REQUEST_FIELDS):
            return cleaned
        spec = build_request_spec(
            self.unsaved_provider(),
            headers=cleaned.get("headers", []),
            url_parameters=cleaned.get("url_parameters", []),
            variables=cleaned.get("variables", []),
            sender_id=cleaned.get("sender_id", ""),
        )
        try:
            self.compiled = compile_request(spec)
        except TemplateError as err:
            self.add_error(
                self._field_for(err.where), ValidationError(err.message, code=err.code)
            )
            return cleaned
        self._check_placeholders(self.compiled)
        self._check_sender_id(self.compiled)
        self._check_endpoint(self.compiled)
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and self._errors:
            self.hold_typed_secrets()

    def unsaved_provider(self) -> Provider:
        return construct_instance(self, copy.copy(self.instance))

    def _field_for(self, where: str) -> str | None:
        return where if where in self.fields else None

    def _check_request_shape(self, cleaned: dict[str, Any]) -> None:
        method = cleaned.get("method")
        batch = cleaned.get("batch_enabled")
        if method == Provider.Method.GET and cleaned.get("payload", "").strip():
            self.add_error(
                "payload",
                ValidationError(
                    "A GET request has no body: clear the payload and pass values "
                    "as URL Parameters or in the endpoint instead.",
                    code="body_on_get",
                ),
            )
        if batch and (
            method == Provider.Method.GET or cleaned.get("body_type") == "form"
        ):
            self.add_error(
                "batch_enabled",
                ValidationError(
                    "Batch needs a POST request with a JSON payload.",
                    code="batch_needs_json",
                ),
            )
        key = cleaned.get("batch_key", "").strip()
        if batch and not key:
            # As the screen proposes it: the payload's one top-level array, holding
            # one record. A payload that does not parse yet gets its own error.
            try:
                document = parse_json_payload(cleaned.get("payload", ""))
                (key,) = [k for k, v in document.items() if isinstance(v, list)]
                batch_record(document, key)
            except (TemplateError, AttributeError, ValueError):
                key = ""
            cleaned["batch_key"] = key
        if batch and not key:
            self.add_error(
                "batch_key",
                ValidationError(
                    "Enter the key whose array holds the record to repeat, e.g. msgs.",
                    code="batch_key_required",
                ),
            )
        if method == Provider.Method.POST and not cleaned.get("payload", "").strip():
            self.add_error(
                "payload",
                ValidationError(
                    "Enter the payload sent with each request.", code="required"
                ),
            )

    def _check_inbound_mapping(self, cleaned: dict[str, Any]) -> None:
        # Only the two together tell a reply from a delivery report.
        paths = {name: cleaned.get(name, "").strip() for name in INBOUND_PATH_FIELDS}
        if not any(paths.values()):
            return
        for name, what in (
            ("inbound_from_path", "the sender's number, e.g. From"),
            ("inbound_text_path", "the text, e.g. Body"),
        ):
            if not paths[name]:
                self.add_error(
                    name,
                    ValidationError(
                        "Replies are read only with both the sender's number and the "
                        "text field: enter where the reply carries %(what)s, or clear "
                        "the other inbound fields.",
                        code="inbound_field_required",
                        params={"what": what},
                    ),
                )

    def _check_placeholders(self, compiled: CompiledRequest) -> None:
        where = "payload" if compiled.spec.method == "POST" else "endpoint"
        keys = {t.key for _, text in compiled.texts() for t in tokens_in(text)}
        for wrong in sorted(
            k for k in keys if k.lower() in {"to", "body", "messageid"}
        ):
            if wrong not in ("To", "Body", "MessageID"):
                right = {"to": "To", "body": "Body", "messageid": "MessageID"}[
                    wrong.lower()
                ]
                self.add_error(
                    where,
                    ValidationError(
                        "Placeholders are case-sensitive: "
                        f"write $${right}, not $${wrong}.",
                        code="placeholder_case",
                    ),
                )
        if not keys & {"To", "moe:destination"}:
            self.add_error(
                where,
                ValidationError(
                    f"Add {self.to_placeholder} where the recipient's number goes; "
                    "it is mandatory.",
                    code="missing_destination",
                ),
            )
        if not keys & {"Body", "TemplateID", "moe:message"}:
            self.add_error(
                where,
                ValidationError(
                    f"Add {self.body_placeholder} where the message text goes "
                    "(or $$TemplateID for DLT templates).",
                    code="missing_body",
                ),
            )
        if compiled.spec.batch_key:
            self._check_batch_placeholders(compiled)

    def _check_batch_placeholders(self, compiled: CompiledRequest) -> None:
        outside = compiled.batch_level_tokens() & PER_MESSAGE
        if outside:
            self.add_error(
                "payload",
                ValidationError(
                    "In batch mode the recipient, text and message id change with "
                    "every record, so their placeholders may appear only inside "
                    "the record under “%(key)s”.",
                    code="per_message_outside_record",
                    params={"key": compiled.spec.batch_key},
                ),
            )

    def _check_sender_id(self, compiled: CompiledRequest) -> None:
        keys = {t.key for _, text in compiled.texts() for t in tokens_in(text)}
        if "var:sender_id" in keys and not compiled.spec.variables["sender_id"]:
            self.add_error(
                "sender_id",
                ValidationError(
                    "The request uses {sender_id}: enter the sender ID or number "
                    "registered with the provider.",
                    code="missing_sender_id",
                ),
            )

    def _check_endpoint(self, compiled: CompiledRequest) -> None:
        context = Context(compiled.spec, SAMPLE_MESSAGE)
        url = fill(compiled.endpoint, context, url_escape)
        try:
            validators.validate_endpoint_url(url)
        except ValidationError as err:
            # The message names the host, which a secret variable may be part of.
            secrets = [
                r.value for r in self.cleaned_data.get("variables", []) if r.secret
            ]
            self.add_error(
                "endpoint",
                [
                    ValidationError(redact_text(message, secrets), code=error.code)
                    for error, message in zip(err.error_list, err.messages, strict=True)
                ],
            )

    # --- saving --------------------------------------------------------------------

    def _save_m2m(self) -> None:
        super()._save_m2m()
        with transaction.atomic():
            self._save_rows()
            self._save_sender()

    def _save_rows(self) -> None:
        for name, model in self.row_models():
            model.objects.filter(provider=self.instance).delete()
            model.objects.bulk_create(
                model(
                    provider=self.instance,
                    name=r.name,
                    value=r.value,
                    secret=r.secret,
                    position=i,
                )
                for i, r in enumerate(self.cleaned_data[name])
            )
        # bulk_create sends no signals: the rows' changes join the provider's entry.
        self.audit_save.rows_saved(
            {name: self.cleaned_data[name] for name, _ in self.row_models()}
        )

    def _save_sender(self) -> None:
        data = self.cleaned_data
        sender = self.instance.primary_sender or Sender(provider=self.instance)
        sender.name = data.get("sender_name") or self.instance.nickname
        sender.sender_id = data["sender_id"]
        sender.sender_type = data["sender_type"]
        sender.is_default = data["is_default"]
        sender.save()

    def save(self, commit: bool = True) -> Provider:
        self.instance.setup_screen = self.screen
        self.audit_save = ProviderSave(self.instance)
        return super().save(commit)


class ClevertapProviderForm(ProviderForm):
    """The CleverTap "Other (Generic)" screen."""

    screen = Provider.SetupScreen.CLEVERTAP

    class Meta(ProviderForm.Meta):
        labels = {
            "nickname": "Nickname",
            "method": "Request Type",
            "endpoint": "HTTP Endpoint",
            "authentication": "Authentication",
            "body_type": "Parameters",
            "payload": "Payload",
            "batch_enabled": "Batch",
            "batch_key": "Key name",
            "batch_size": "Number of records per batch",
            **client_credentials.LABELS,
        }
        help_texts = {
            "nickname": "Enter the nickname of the SMS provider to identify it "
            "uniquely. For example: 8x8_SMS",
            "method": "Select GET or POST, depending on which HTTP method your SMS "
            "provider supports.",
            "endpoint": "Paste the provider's URL. Ensure that the URL is in HTTPS "
            "format, that is, it must begin with https://. Replace values such as "
            "{subAccountId} under Provider variables.",
            "body_type": "For a POST request: Key-value pairs (form) or JSON (enter "
            "your entire JSON payload structure).",
            "payload": "JSON: the whole payload, with placeholders in double quotes, "
            'e.g. "destination": "$$To". Key-value pairs: one key=value per line.',
            "batch_enabled": "If the service provider supports batching, enable it by "
            "specifying the key name and the number of records per batch.",
            "batch_size": "A single batch can have a maximum of 1,000 records.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relabel("body_type", [("form", "Key-value pair"), ("json", "JSON")])
        self.relabel("method", Provider.Method.choices)
        if "authentication" in self.fields:
            self.fields["authentication"].choices = [
                (value, client_credentials.CHOICE_LABEL if value == "oauth" else label)
                for value, label in Provider.Authentication.choices
            ]
        # CleverTap's screen has neither URL parameters nor a sender name: query
        # values go in the endpoint, and the sender is named after the provider.
        self.fields.pop("url_parameters", None)
        self.fields.pop("sender_name", None)


class MoengageProviderForm(ProviderForm):
    """The MoEngage "Custom SMS Connector" screen."""

    screen = Provider.SetupScreen.MOENGAGE
    to_placeholder = "Moesms_destination"
    body_placeholder = "Moesms_message"

    class Meta(ProviderForm.Meta):
        fields = [
            f
            for f in ProviderForm.Meta.fields
            if f not in ("authentication", "basic_username", "basic_password")
            and not f.startswith(("batch", "oauth_"))
        ]
        labels = {
            "nickname": "Service provider name",
            "method": "Method",
            "endpoint": "API URL",
            "body_type": "Body type",
            "payload": "Body",
        }
        help_texts = {
            "nickname": "Identifies the service provider and has to be unique, "
            "for example 8x8 SMS.",
            "method": "Select POST as the HTTP method for most providers.",
            "endpoint": "The URL used to send an API request to the sender, from the "
            "provider's API documentation, e.g. "
            "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages.",
            "body_type": "JSON or form (x-www-form-urlencoded).",
            "payload": "In the message field add Moesms_message, in the recipient "
            "field Moesms_destination, and in the sender field {sender_id}.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "sender_name" in self.fields:
            self.fields["sender_name"].required = True
        self.relabel("body_type", [("json", "JSON"), ("form", "Form")])


FORMS = {
    Provider.SetupScreen.CLEVERTAP: ClevertapProviderForm,
    Provider.SetupScreen.MOENGAGE: MoengageProviderForm,
}
