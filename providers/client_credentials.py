"""A provider's OAuth 2.0 client-credentials settings (CleverTap's "Auth 2.0":
client URL, client ID, secret key and key-value pairs), as an abstract model
that Provider inherits, so that models.py stays about the request itself."""

from __future__ import annotations

from django.db import models

from .fields import EncryptedTextField
from .outbound.oauth import ClientCredentials, parse_parameters


class ClientCredentialsSettings(models.Model):
    class CredentialsIn(models.TextChoices):
        HEADER = "header", "HTTP Basic header (client_id:client_secret)"
        BODY = "body", "Request body (client_id and client_secret fields)"

    oauth_token_url = models.CharField(
        "token URL",
        max_length=2000,
        blank=True,
        help_text="For OAuth 2.0: where smsbridge asks for an access token, "
        "beginning with https://, e.g. https://auth.example.com/oauth/token.",
    )
    oauth_client_id = models.CharField(
        "client ID", max_length=500, blank=True, help_text="For OAuth 2.0."
    )
    oauth_client_secret = EncryptedTextField(
        "client secret",
        blank=True,
        help_text="For OAuth 2.0. Stored encrypted; never shown again.",
    )
    oauth_scope = models.CharField(
        "scope",
        max_length=1000,
        blank=True,
        help_text="Optional: the scope to ask for, e.g. sms.send; blank for none.",
    )
    oauth_parameters = models.TextField(
        "token request fields",
        blank=True,
        help_text="Optional fields sent with the token request, one key=value per "
        "line, e.g. audience=https://api.example.com.",
    )
    oauth_credentials_in = models.CharField(
        "send client credentials in",
        max_length=10,
        choices=CredentialsIn,
        default=CredentialsIn.HEADER,
        help_text="Most token endpoints take them in the Basic header (RFC 6749 "
        "§2.3.1); some want them as form fields instead.",
    )

    class Meta:
        abstract = True

    def client_credentials(self) -> ClientCredentials | None:
        """What the token request needs; None unless the provider uses OAuth."""
        if self.authentication != "oauth":
            return None
        return ClientCredentials(
            token_url=self.oauth_token_url.strip(),
            client_id=self.oauth_client_id.strip(),
            client_secret=self.oauth_client_secret,
            scope=self.oauth_scope.strip(),
            parameters=tuple(parse_parameters(self.oauth_parameters)),
            in_body=self.oauth_credentials_in == self.CredentialsIn.BODY,
        )
