"""Every secret input of the setup screens is write-only: a value typed into it
never comes back in the page, whatever is wrong with the submission, and a save
that fails still keeps it (sealed) for the next submit."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from providers.forms import held_secrets
from providers.forms.setup import FORMS
from providers.models import Provider

from ..formdata import ROWS, as_post, screen_data

pytestmark = pytest.mark.django_db

# Quotes, a slash and a plus: escaped differently by HTML, JSON and URLs.
CANARY = 'cnry-typed-"9Kd/4+zR"-0c1e'
DLR_LINE = f"dlr-user:{CANARY}"


def clear_forms(secret: str) -> set[str]:
    return {secret, html.escape(secret), html.escape(secret, quote=False)}


def with_row(screen: str, field: str, row: tuple[str, str, bool]) -> dict:
    return {field: [*ROWS[screen].get(field, []), row]}


SECRET_INPUTS = {
    "basic-password": (
        "clevertap",
        {"authentication": "basic", "basic_username": "acme", "basic_password": CANARY},
        None,
    ),
    "oauth-secret-key": (
        "clevertap",
        {
            "authentication": "oauth",
            "oauth_token_url": "https://auth.example.com/oauth/token",
            "oauth_client_id": "acme",
            "oauth_client_secret": CANARY,
        },
        None,
    ),
    "callback-credentials": ("clevertap", {"dlr_credentials": DLR_LINE}, None),
    "callback-credentials-moengage": ("moengage", {"dlr_credentials": DLR_LINE}, None),
    "secret-variable": (
        "clevertap",
        {},
        {"variables": [("subAccountId", "acme_sub", False), ("apiKey", CANARY, True)]},
    ),
    "secret-header": (
        "clevertap",
        {},
        with_row("clevertap", "headers", ("X-Token", CANARY, True)),
    ),
    "secret-url-parameter": (
        "moengage",
        {},
        with_row("moengage", "url_parameters", ("signature", CANARY, True)),
    ),
}


def post(client, url: str, screen: str, rows, **fields):
    data = screen_data(screen, rows=rows, **fields)
    return client.post(url, as_post(data, _save="Save"))


def assert_not_shown(response) -> str:
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    for spelling in clear_forms(CANARY):
        assert spelling not in page
    return page


@pytest.mark.parametrize(
    ("screen", "fields", "rows"), SECRET_INPUTS.values(), ids=SECRET_INPUTS
)
def test_a_secret_typed_into_a_failed_new_provider_is_not_shown_but_kept(
    admin_client, screen, fields, rows
) -> None:
    url = reverse("admin:providers_provider_add") + f"?screen={screen}"
    response = post(admin_client, url, screen, rows, nickname="", **fields)

    page = assert_not_shown(response)

    assert held_secrets.NOTE in html.unescape(page)


@pytest.mark.parametrize(
    ("screen", "fields", "rows"), SECRET_INPUTS.values(), ids=SECRET_INPUTS
)
def test_a_secret_typed_into_a_failed_edit_is_not_shown(
    admin_client, screen, fields, rows
) -> None:
    form = FORMS[screen](screen_data(screen))
    assert form.is_valid(), form.errors
    provider = form.save()
    url = reverse("admin:providers_provider_change", args=[provider.pk])

    assert_not_shown(post(admin_client, url, screen, rows, nickname="", **fields))

    assert Provider.objects.get().nickname == provider.nickname


def test_callback_credentials_refused_on_their_own_line_are_not_shown(
    admin_client,
) -> None:
    url = reverse("admin:providers_provider_add") + "?screen=clevertap"

    response = post(
        admin_client, url, "clevertap", None, dlr_credentials=f"{DLR_LINE}\nno-colon"
    )

    assert_not_shown(response)
    form = response.context["adminform"].form
    assert [e.code for e in form.errors.as_data()["dlr_credentials"]] == [
        "invalid_credentials"
    ]


def test_a_secret_header_value_refused_for_a_line_break_is_not_shown(
    admin_client,
) -> None:
    url = reverse("admin:providers_provider_add") + "?screen=clevertap"
    rows = with_row("clevertap", "headers", ("X-Token", f"{CANARY}\nX-Other: 1", True))

    response = post(admin_client, url, "clevertap", rows)

    assert_not_shown(response)
    assert "headers" in response.context["adminform"].form.errors


def test_typed_callback_credentials_are_not_rendered_even_by_a_valid_form() -> None:
    # A page can be drawn from a form that validated, when something after
    # validation fails; the widget itself must not carry the value back.
    form = FORMS["clevertap"](screen_data("clevertap", dlr_credentials=DLR_LINE))
    assert form.is_valid(), form.errors

    rendered = str(form["dlr_credentials"])

    assert CANARY not in html.unescape(rendered)
