"""The OAuth 2.0 client-credentials fields of the CleverTap screen ("Auth 2.0":
Client URL, Client ID, Secret key, key-value pairs) and their checks, as one
mixin of ProviderForm. The secret key is write-only, like Basic's password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .. import validators
from ..outbound.oauth import parse_parameters

FIELDS = (
    "oauth_token_url",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
    "oauth_parameters",
    "oauth_credentials_in",
)
WIDGETS = {
    "oauth_client_secret": forms.PasswordInput(
        render_value=False, attrs={"autocomplete": "new-password"}
    ),
    "oauth_token_url": forms.TextInput(attrs={"class": "vLargeTextField"}),
    "oauth_parameters": forms.Textarea(
        attrs={"rows": 3, "cols": 60, "spellcheck": "false", "class": "mono"}
    ),
    "oauth_credentials_in": forms.RadioSelect,
}
LABELS = {
    "oauth_token_url": "Client URL",
    "oauth_client_id": "Client ID",
    "oauth_client_secret": "Secret key",
    "oauth_scope": "Scope",
    "oauth_parameters": "Key-value pairs",
    "oauth_credentials_in": "Send client ID and secret in",
}
CHOICE_LABEL = "Auth 2.0 (OAuth 2.0 client credentials)"


class ClientCredentialsMixin:
    """Needs ProviderForm's `held` (secrets of a failed save) and `instance`."""

    def start_client_credentials(self) -> None:
        if "oauth_client_secret" not in self.fields:
            return
        self.fields["oauth_client_secret"].required = False
        self.fields["oauth_credentials_in"].required = False
        if self.held.oauth_client_secret:
            placeholder = "Kept from your last attempt — leave blank to keep"
        elif self.instance.oauth_client_secret:
            placeholder = "Stored — leave blank to keep"
        else:
            return
        self.fields["oauth_client_secret"].widget.attrs["placeholder"] = placeholder

    @property
    def uses_oauth(self) -> bool:
        return self.cleaned_data.get("authentication") == "oauth"

    def clean_oauth_token_url(self) -> str:
        url = self.cleaned_data.get("oauth_token_url", "").strip()
        if not url:
            self._require_for_oauth("Enter the Client URL: the token endpoint's URL.")
            return url
        # The same address policy as the endpoint: HTTPS on a public host.
        validators.validate_endpoint_url(url, what="The Client URL")
        return url

    def clean_oauth_client_id(self) -> str:
        client_id = self.cleaned_data.get("oauth_client_id", "").strip()
        validators.validate_no_control_characters(client_id, what="The client ID")
        if not client_id:
            self._require_for_oauth("Enter the client ID the provider gave you.")
        return client_id

    def clean_oauth_client_secret(self) -> str:
        secret = (
            self.cleaned_data.get("oauth_client_secret", "")
            or self.held.oauth_client_secret
            or self.instance.oauth_client_secret
            or ""
        )
        validators.validate_no_control_characters(secret, what="The secret key")
        if not secret:
            self._require_for_oauth("Enter the secret key the provider gave you.")
        return secret

    def clean_oauth_scope(self) -> str:
        scope = self.cleaned_data.get("oauth_scope", "").strip()
        validators.validate_no_control_characters(scope, what="The scope")
        return scope

    def clean_oauth_parameters(self) -> str:
        text = self.cleaned_data.get("oauth_parameters", "")
        for number, line in enumerate(text.splitlines(), start=1):
            validators.validate_no_control_characters(line, what=f"Line {number}")
        try:
            list(parse_parameters(text))
        except ValueError as err:
            raise ValidationError(str(err), code="invalid_key_value") from err
        return text.strip()

    def clean_oauth_credentials_in(self) -> str:
        return self.cleaned_data.get("oauth_credentials_in") or "header"

    def _require_for_oauth(self, message: str) -> None:
        # Field cleaners run in field order, after `authentication`.
        if self.uses_oauth:
            raise ValidationError(
                f"{message} It is needed for Auth 2.0, or choose another "
                "authentication.",
                code="oauth_required",
            )

    def check_oauth_headers(self, cleaned: dict[str, Any]) -> None:
        if not self.uses_oauth:
            return
        if any(r.name.lower() == "authorization" for r in cleaned.get("headers") or []):
            self.add_error(
                "headers",
                ValidationError(
                    "Auth 2.0 sends its own Authorization: Bearer header with the "
                    "access token; remove the Authorization header, or choose No "
                    "Authentication.",
                    code="authorization_with_oauth",
                ),
            )
