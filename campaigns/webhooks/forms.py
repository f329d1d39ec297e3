"""The webhook form: one per API token (or one for every token), at an HTTPS URL
on a public address, as provider endpoints must be."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from providers.validators import validate_endpoint_url

from .models import WebhookEndpoint

WHAT = "The webhook URL"


def validate_webhook_url(url: str) -> None:
    try:
        validate_endpoint_url(url, what=WHAT)
    except ValidationError as err:
        if getattr(err, "code", None) != "private_address":
            raise
        # The same check, in a webhook's words rather than a provider's.
        raise ValidationError(
            "%(host)s is a loopback, private, link-local or reserved address "
            "(%(address)s); a webhook must be reachable on the public internet.",
            code="private_address",
            params=err.params,
        ) from err


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["token", "url", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token"].empty_label = "Every API token"

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        validate_webhook_url(url)
        return url

    def clean_token(self):
        token = self.cleaned_data["token"]
        others = WebhookEndpoint.objects.exclude(pk=self.instance.pk)
        if others.filter(token=token).exists():
            whose = f"the API token {token}" if token else "every API token"
            raise ValidationError(
                "There already is a webhook for %(whose)s; change that one, or "
                "choose another token.",
                code="webhook_exists",
                params={"whose": whose},
            )
        return token
