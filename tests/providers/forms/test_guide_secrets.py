"""Keys on the setup screens: typed in the clear they are refused with a fix, and
typed into a save that fails they are kept for the next submit, never shown."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.urls import reverse

from providers.forms import held_secrets
from providers.forms.setup import FORMS
from providers.models import Provider

from ..formdata import (
    API_KEY,
    BASIC_PASSWORD,
    GUIDE_HEADERS,
    GUIDE_PAYLOAD,
    TYPED_KEY,
    as_post,
    error_codes,
    held_token,
    screen_data,
    values,
)

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:providers_provider_add") + "?screen=clevertap"
PREVIEW_URL = reverse("admin:providers_provider_preview") + "?screen=clevertap"
NO_KEY_VARIABLES = [("subAccountId", "acme_sub", False)]
JSON_TYPE = ("Content-Type", "application/json", False)


def post(client, url: str = ADD_URL, **fields):
    return client.post(url, as_post(screen_data("clevertap", **fields), _save="Save"))


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def fixes_on(html: str, element: str = "credential-fixes") -> list[dict]:
    start = html.index(f'id="{element}"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])


# --- keys typed in the clear ---------------------------------------------------------


def row(field: str, name: str, value: str) -> tuple:
    return (field, {field: [(name, value, False)]}, {})


def payload(text: str, body_type: str = "json") -> tuple:
    return ("payload", {}, {"payload": text, "body_type": body_type})


CLEAR_KEYS = {
    "x-api-key-header": row("headers", "X-API-Key", TYPED_KEY),
    "app-authorization": row("headers", "Authorization", f"App {TYPED_KEY}"),
    "basic-authorization": row("headers", "Authorization", f"Basic {TYPED_KEY}"),
    "api_key-parameter": row("url_parameters", "api_key", TYPED_KEY),
    "token-parameter": row("url_parameters", "token", TYPED_KEY),
    "json-password-field": payload(
        json.dumps({"to": "$$To", "text": "$$Body", "password": TYPED_KEY})
    ),
    "form-apikey-field": payload(f"to=$$To\ntext=$$Body\napikey={TYPED_KEY}", "form"),
}


@pytest.mark.parametrize(
    ("field", "rows", "fields"), CLEAR_KEYS.values(), ids=CLEAR_KEYS
)
def test_it_refuses_a_key_typed_in_the_clear(field, rows, fields) -> None:
    screen = "moengage" if field == "url_parameters" else "clevertap"
    form = FORMS[screen](screen_data(screen, rows=rows, **fields))

    assert not form.is_valid()
    assert error_codes(form, field) == ["literal_credential"]
    assert "Move it to a secret variable" in form.errors[field][0]
    assert TYPED_KEY not in form.errors[field][0]


@pytest.mark.parametrize(
    "rows",
    [
        {"headers": [("Authorization", f"Bearer {TYPED_KEY}", True)]},
        {"headers": [("Authorization", "Bearer {apiKey}", False)]},
        {"headers": [("X-Api-Key", "{apiKey}", False)]},
        {"headers": [("X-Request-Source", "smsbridge-campaigns", False)]},
        {"headers": [("Authorization", "Bearer", False)]},
    ],
)
def test_it_accepts_placeholders_secrets_and_ordinary_headers(rows) -> None:
    form = FORMS["clevertap"](screen_data("clevertap", rows=rows))

    assert form.is_valid(), form.errors


def test_it_proposes_a_secret_variable_and_never_shows_the_typed_key(
    admin_client,
) -> None:
    headers = [("Authorization", f"Bearer {TYPED_KEY}", False), JSON_TYPE]

    html = page_of(
        post(admin_client, rows={"headers": headers, "variables": NO_KEY_VARIABLES})
    )

    assert TYPED_KEY not in html
    assert fixes_on(html) == [
        {
            "field": "headers",
            "name": "Authorization",
            "variable": "apiKey",
            "template": "Bearer {apiKey}",
        }
    ]
    assert "Move it to a secret variable" in html
    assert held_secrets.NOTE in unescape(html)


def test_a_refused_key_does_not_blank_the_header_on_later_pages(admin_client) -> None:
    headers = [("Authorization", f"Bearer {TYPED_KEY}", False), JSON_TYPE]
    page_of(
        post(admin_client, rows={"headers": headers, "variables": NO_KEY_VARIABLES})
    )

    html = page_of(post(admin_client, nickname=""))

    assert 'value="Bearer {apiKey}"' in html


def test_the_moved_key_is_saved_as_a_secret_variable_without_retyping(
    admin_client,
) -> None:
    headers = [("Authorization", f"Bearer {TYPED_KEY}", False), JSON_TYPE]
    refused = page_of(
        post(admin_client, rows={"headers": headers, "variables": NO_KEY_VARIABLES})
    )

    # What "Move it to a secret variable" leaves in the form.
    response = post(
        admin_client,
        held_secrets=held_token(refused),
        rows={
            "headers": [("Authorization", "Bearer {apiKey}", False), JSON_TYPE],
            "variables": [*NO_KEY_VARIABLES, ("apiKey", "", True)],
        },
    )

    assert response.status_code == 302
    provider = Provider.objects.get()
    assert values(provider.variables)["apiKey"] == TYPED_KEY
    assert provider.variables.get(name="apiKey").secret
    assert values(provider.headers)["Authorization"] == "Bearer {apiKey}"


def test_a_key_in_the_payload_is_replaced_by_its_variable_on_the_page(
    admin_client,
) -> None:
    payload = json.dumps(
        {"to": "$$To", "text": "$$Body", "source": "{sender_id}", "token": TYPED_KEY}
    )

    html = page_of(post(admin_client, payload=payload))

    assert TYPED_KEY not in html
    assert "&quot;token&quot;: &quot;{apiToken}&quot;" in html


def test_a_key_in_a_guide_payload_stays_out_of_the_one_click_fix(
    admin_client,
) -> None:
    # Unparseable until its comment goes, so no check has seen the key yet.
    pasted = (
        '{"to": "$$To", "text": "$$Body", "source": "{sender_id}",\n'
        f' "password": "{TYPED_KEY}" // your 8x8 password\n}}'
    )
    data = screen_data("clevertap", payload=pasted)

    answer = admin_client.post(PREVIEW_URL, as_post(data)).json()
    html = page_of(post(admin_client, payload=pasted))

    fix = answer["guide_fix"]
    assert fix == fixes_on(html, "guide-fix")
    assert TYPED_KEY not in json.dumps(fix)
    assert '"password": "{password}"\n}' in fix["fields"]["payload"]
    assert {"name": "password", "secret": True} in fix["variables"]


# --- secrets kept across a failed save -----------------------------------------------


def test_a_failed_save_keeps_typed_secrets_without_showing_them(admin_client) -> None:
    failed = post(
        admin_client,
        nickname="",
        authentication="basic",
        basic_username="{subAccountId}",
        basic_password=BASIC_PASSWORD,
        dlr_credentials="dlr-user:dlr-pass-typed-0001",
    )
    html = page_of(failed)
    assert "nickname" in failed.context["adminform"].form.errors
    for secret in (API_KEY, BASIC_PASSWORD, "dlr-pass-typed-0001"):
        assert secret not in html
    assert held_secrets.NOTE in unescape(html)

    response = post(
        admin_client,
        held_secrets=held_token(html),
        authentication="basic",
        basic_username="{subAccountId}",
        basic_password="",
        rows={"variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)]},
    )

    assert response.status_code == 302
    provider = Provider.objects.get()
    assert values(provider.variables)["apiKey"] == API_KEY
    assert provider.basic_password == BASIC_PASSWORD
    assert provider.dlr_credentials == "dlr-user:dlr-pass-typed-0001"


def test_without_the_held_values_a_blank_secret_is_still_required(
    admin_client,
) -> None:
    page_of(post(admin_client, nickname=""))

    response = post(
        admin_client,
        rows={"variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)]},
    )

    assert error_codes(response.context["adminform"].form, "variables") == [
        "missing_value"
    ]


def test_held_values_are_ignored_on_another_provider(admin_client) -> None:
    other = Provider.objects.create(
        nickname="Other", endpoint="https://sms.example/send", payload="{}"
    )
    token = held_secrets.seal(
        held_secrets.Held(rows={"variables": {"apiKey": "not-for-you"}}),
        provider_pk=other.pk,
    )

    response = post(
        admin_client,
        held_secrets=token,
        rows={"variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)]},
    )

    assert "missing_value" in error_codes(
        response.context["adminform"].form, "variables"
    )


def test_a_forged_held_token_is_ignored() -> None:
    assert not held_secrets.unseal("not-a-token", provider_pk=None)


# --- preview and pages ---------------------------------------------------------------


def test_the_preview_lists_the_problems_and_the_fix(admin_client) -> None:
    data = screen_data(
        "clevertap",
        rows={
            "headers": [("Authorization", f"Bearer {TYPED_KEY}", False)],
            "variables": NO_KEY_VARIABLES,
        },
    )

    answer = admin_client.post(PREVIEW_URL, as_post(data)).json()

    assert answer["ok"] is False
    assert "Move it to a secret variable" in answer["errors"]["Headers"][0]
    assert answer["fixes"][0]["template"] == "Bearer {apiKey}"
    assert TYPED_KEY not in json.dumps(answer)


def test_the_preview_offers_to_use_smsbridges_placeholders(admin_client) -> None:
    data = screen_data(
        "clevertap",
        payload=GUIDE_PAYLOAD,
        rows={"headers": GUIDE_HEADERS, "variables": NO_KEY_VARIABLES},
    )

    answer = admin_client.post(PREVIEW_URL, as_post(data)).json()

    fix = answer["guide_fix"]
    assert fix["label"] == "Use smsbridge's placeholders"
    assert '"source": "{sender_id}"' in fix["fields"]["payload"]
    assert fix["variables"] == [{"name": "apiKey", "secret": True}]


def test_the_preview_shows_the_content_type_it_adds(admin_client) -> None:
    data = screen_data(
        "clevertap", rows={"headers": [("Authorization", "Bearer {apiKey}", False)]}
    )

    answer = admin_client.post(PREVIEW_URL, as_post(data)).json()

    assert ["Content-Type", "application/json"] in answer["request"]["headers"]


def test_a_blank_add_form_starts_without_errors(admin_client) -> None:
    html = page_of(admin_client.get(ADD_URL))

    assert 'class="errorlist' not in html
    assert 'class="errornote' not in html
    assert "Fill in the endpoint and payload to see the request." in html


def test_the_sender_form_holds_a_sender_id_to_its_providers_limits(
    admin_client,
) -> None:
    provider = Provider.objects.create(
        nickname="8x8",
        endpoint="https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages",
        payload="{}",
    )
    data = {
        "provider": provider.pk,
        "name": "Long",
        "sender_id": "ACME Notifications",
        "sender_type": "transactional",
        "time_zone": "UTC",
    }

    response = admin_client.post(reverse("admin:providers_sender_add"), data)

    form = response.context["adminform"].form
    assert error_codes(form, "sender_id") == ["sender_id_refused"] * 2
    assert "8x8" in form.errors["sender_id"][0]
