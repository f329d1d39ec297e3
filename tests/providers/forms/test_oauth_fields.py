"""The CleverTap screen's Auth 2.0 fields: errors on the field they concern, the
secret key encrypted at rest and never rendered back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from providers.forms.setup import FORMS
from providers.models import Provider
from providers.roles import SUPPORT

from ...oauth_provider import CLIENT_SECRET, TOKEN_URL
from ..formdata import as_post, error_codes, screen_data

pytestmark = pytest.mark.django_db

# The screen's own rows without its Authorization header: Auth 2.0 sends one.
ROWS = {
    "headers": [("Content-Type", "application/json", False)],
    "variables": [("subAccountId", "acme_sub", False)],
}
OAUTH = {
    "authentication": "oauth",
    "oauth_token_url": TOKEN_URL,
    "oauth_client_id": "acme",
    "oauth_client_secret": CLIENT_SECRET,
    "oauth_scope": "sms.send",
    "oauth_parameters": "audience=https://sms.example.com\nresource = sms",
    "oauth_credentials_in": "header",
}


def bound(rows=ROWS, instance=None, **fields):
    data = screen_data("clevertap", rows=rows, **{**OAUTH, **fields})
    return FORMS["clevertap"](data, instance=instance)


def saved(**fields) -> Provider:
    form = bound(**fields)
    assert form.is_valid(), form.errors
    return form.save()


def test_it_saves_an_oauth_provider() -> None:
    provider = saved()

    assert provider.authentication == "oauth"
    credentials = provider.client_credentials()
    assert credentials.token_url == TOKEN_URL
    assert credentials.client_secret == CLIENT_SECRET
    assert credentials.parameters == (
        ("audience", "https://sms.example.com"),
        ("resource", "sms"),
    )
    assert not credentials.in_body


@pytest.mark.parametrize(
    "field", ["oauth_token_url", "oauth_client_id", "oauth_client_secret"]
)
def test_it_requires_each_credential_for_oauth(field) -> None:
    form = bound(**{field: ""})

    assert not form.is_valid()
    assert error_codes(form, field) == ["oauth_required"]


def test_it_needs_no_credential_without_oauth() -> None:
    form = bound(
        authentication="none",
        oauth_token_url="",
        oauth_client_id="",
        oauth_client_secret="",
    )

    assert form.is_valid(), form.errors


BAD = {
    "not-a-url": ("oauth_token_url", "auth.example.com/token", "invalid_url"),
    "line-break-in-url": (
        "oauth_token_url",
        "https://auth.example.com/\r\ntoken",
        "line_break",
    ),
    "bad-port": ("oauth_token_url", "https://auth.example.com:99999/t", "invalid_port"),
    "id-with-tab": ("oauth_client_id", "acme\tid", "control_character"),
    "secret-with-bell": ("oauth_client_secret", "abc\x07def", "control_character"),
    "scope-with-line-break": ("oauth_scope", "a\nb", "line_break"),
    "pair-without-equals": ("oauth_parameters", "audience", "invalid_key_value"),
    "pair-replacing-grant": (
        "oauth_parameters",
        "grant_type=password",
        "invalid_key_value",
    ),
}


@pytest.mark.parametrize(("field", "value", "code"), BAD.values(), ids=BAD)
def test_it_reports_bad_oauth_input_on_its_field(field, value, code) -> None:
    form = bound(**{field: value})

    assert not form.is_valid()
    assert error_codes(form, field) == [code]


def test_the_client_url_follows_the_endpoints_address_policy(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    plain = bound(oauth_token_url="http://8.8.8.8/token")
    private = bound(oauth_token_url="https://127.0.0.1/token")

    assert error_codes(plain, "oauth_token_url") == ["not_https"]
    assert "The Client URL must use HTTPS" in plain.errors["oauth_token_url"][0]
    assert error_codes(private, "oauth_token_url") == ["private_address"]


def test_it_refuses_an_authorization_header_beside_oauth() -> None:
    rows = {**ROWS, "headers": [("Authorization", "Bearer x", False)]}

    form = bound(rows=rows)

    assert error_codes(form, "headers") == ["authorization_with_oauth"]


def test_the_secret_is_encrypted_at_rest() -> None:
    provider = saved()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT oauth_client_secret FROM providers_provider WHERE id = %s",
            [provider.pk],
        )
        (raw,) = cursor.fetchone()
    assert raw
    assert CLIENT_SECRET not in raw
    assert Provider.objects.get().oauth_client_secret == CLIENT_SECRET


def test_a_stored_secret_left_blank_is_kept() -> None:
    provider = saved()

    form = bound(instance=provider, oauth_client_secret="")

    assert form.is_valid(), form.errors
    assert form.save().oauth_client_secret == CLIENT_SECRET


def test_the_change_page_never_shows_the_secret(admin_client) -> None:
    provider = saved()
    url = reverse("admin:providers_provider_change", args=[provider.pk])

    page = admin_client.get(url).content.decode()

    assert 'name="oauth_client_secret"' in page
    assert "Stored — leave blank to keep" in page
    assert CLIENT_SECRET not in page
    assert "Auth 2.0" in page
    assert "Client URL" in page


def test_a_failed_save_keeps_the_typed_secret_unseen(admin_client) -> None:
    url = reverse("admin:providers_provider_add") + "?screen=clevertap"
    data = screen_data("clevertap", rows=ROWS, **{**OAUTH, "nickname": ""})

    failed = admin_client.post(url, as_post(data, _save="Save"))

    assert failed.status_code == 200
    page = failed.content.decode()
    assert CLIENT_SECRET not in page
    held = failed.context["adminform"].form.held_token
    data = screen_data(
        "clevertap",
        rows=ROWS,
        **{**OAUTH, "oauth_client_secret": "", "nickname": "OAuth"},
    )
    data["held_secrets"] = held
    admin_client.post(url, as_post(data, _save="Save"))
    assert Provider.objects.get().oauth_client_secret == CLIENT_SECRET


def test_the_preview_shows_a_masked_bearer(admin_client) -> None:
    data = screen_data("clevertap", rows=ROWS, **OAUTH)

    response = admin_client.post(
        reverse("admin:providers_provider_preview") + "?screen=clevertap",
        as_post(data),
    )

    preview = response.json()
    assert preview["ok"], preview
    assert ["Authorization", "Bearer ••••"] in preview["request"]["headers"]
    assert CLIENT_SECRET not in response.content.decode()


def test_support_sees_that_a_secret_is_stored_not_the_secret(staff_in, client) -> None:
    provider = saved()
    staff_in(SUPPORT)

    response = client.get(
        reverse("admin:providers_provider_change", args=[provider.pk])
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="oauth_client_secret"' not in page
    assert "Secret key" in page
    assert CLIENT_SECRET not in page
    assert TOKEN_URL in page
