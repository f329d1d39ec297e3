"""providers.forms.setup: every bad configuration gets a specific error on its field."""

from __future__ import annotations

import json

import pytest

from providers.forms.setup import FORMS, ClevertapProviderForm, MoengageProviderForm
from providers.models import Provider, Sender
from providers.outbound.rendering import Message

from ..bad_inputs import BAD_INPUTS, ONE_RECORD, SEED_PAYLOAD, BadInput
from ..formdata import (
    API_KEY,
    CLEVERTAP_PAYLOAD,
    HEADER_SECRET,
    ROWS,
    error_codes,
    screen_data,
    values,
)

pytestmark = pytest.mark.django_db

PUBLIC_ENDPOINT = "https://8.8.8.8/api/v1/subaccounts/{subAccountId}/messages"


def bound(screen: str = "clevertap", *, instance=None, rows=None, **fields):
    return FORMS[screen](screen_data(screen, rows=rows, **fields), instance=instance)


def saved(screen: str = "clevertap", **fields) -> Provider:
    form = bound(screen, **fields)
    assert form.is_valid(), form.errors
    return form.save()


# --- valid submissions -------------------------------------------------------------


@pytest.mark.parametrize("screen", ["clevertap", "moengage"])
def test_it_accepts_a_complete_blank_screen_submission(screen) -> None:
    form = bound(screen)

    assert form.is_valid(), form.errors
    request = form.compiled.render([Message(to="+6591234567", body="Hi")])
    assert json.loads(request.body)["destination"] == "+6591234567"
    assert request.header("Authorization") == f"Bearer {API_KEY}"


def test_it_saves_rows_sender_and_screen() -> None:
    provider = saved("moengage", is_default="on")

    assert provider.setup_screen == Provider.SetupScreen.MOENGAGE
    assert values(provider.variables) == {"subAccountId": "acme_sub", "apiKey": API_KEY}
    assert [(h.name, h.secret) for h in provider.headers.all()] == [
        ("Content-Type", False),
        ("Authorization", False),
    ]
    sender = provider.senders.get()
    assert (sender.name, sender.sender_id, sender.sender_type, sender.is_default) == (
        "8x8 SMS",
        "ACME",
        "transactional",
        True,
    )


def test_it_names_the_clevertap_sender_after_the_provider() -> None:
    provider = saved("clevertap", nickname="Acme_SMS")

    assert provider.senders.get().name == "Acme_SMS"


def test_it_accepts_template_id_in_place_of_body() -> None:
    payload = json.dumps(
        {"source": "{sender_id}", "destination": "$$To", "template": "$$TemplateID"}
    )

    assert bound(payload=payload).is_valid()


def test_it_accepts_a_public_ip_endpoint_with_the_guard_on(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    form = bound(endpoint=PUBLIC_ENDPOINT)

    assert form.is_valid(), form.errors


def test_it_accepts_a_url_with_double_slashes_inside_a_json_string() -> None:
    payload = json.dumps(
        {
            "destination": "$$To",
            "text": "$$Body",
            "source": "{sender_id}",
            "callback": "https://hooks.example.com/dlr",
        }
    )

    assert bound(payload=payload).is_valid()


# --- bad input, one error on the field it concerns ---------------------------------


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_it_reports_bad_input_on_its_field_with_a_code(case: BadInput) -> None:
    form = bound(case.screen, rows=case.rows, **case.fields)

    assert not form.is_valid()
    assert case.code in error_codes(form, case.field), form.errors
    if case.says:
        assert any(case.says in message for message in form.errors[case.field])


def test_it_refuses_a_nickname_taken_in_another_letter_case() -> None:
    saved(nickname="8x8_SMS")

    form = bound(nickname="8X8_sms")

    assert error_codes(form, "nickname") == ["duplicate_nickname"]
    assert "8x8_SMS" in form.errors["nickname"][0]


def test_it_lets_a_provider_keep_its_own_nickname_on_edit() -> None:
    provider = saved(nickname="8x8_SMS")

    form = bound(instance=provider, nickname="8X8_SMS")

    assert form.is_valid(), form.errors


def test_it_refuses_plain_http_when_private_endpoints_are_off(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    form = bound(endpoint=PUBLIC_ENDPOINT.replace("https://", "http://"))

    assert error_codes(form, "endpoint") == ["not_https"]
    assert "https://" in form.errors["endpoint"][0]


def test_it_allows_plain_http_when_private_endpoints_are_on(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = True

    form = bound(endpoint="http://127.0.0.1:9000/{subAccountId}/messages")

    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.5",
        "192.168.1.20",
        "172.16.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address the guard must refuse
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fd00::1]",
        "localhost",
        "127.1",
        "2130706433",
    ],
)
def test_it_refuses_endpoints_on_private_addresses_with_the_guard_on(
    settings, host
) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    form = bound(endpoint=f"https://{host}/api/{{subAccountId}}/messages")

    assert error_codes(form, "endpoint") == ["private_address"]


def test_it_checks_the_host_after_filling_in_variables(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    form = bound(
        endpoint="https://{baseUrl}/sms",
        rows={
            "variables": [
                *ROWS["clevertap"]["variables"],
                ("baseUrl", "10.1.2.3", False),
            ]
        },
    )

    assert error_codes(form, "endpoint") == ["private_address"]


def test_it_refuses_credentials_in_the_endpoint() -> None:
    form = bound(endpoint="https://user:pw@sms.example.com/{subAccountId}")

    assert error_codes(form, "endpoint") == ["credentials_in_url"]


def test_it_refuses_a_variable_named_like_a_builtin() -> None:
    form = bound(
        rows={"variables": [*ROWS["clevertap"]["variables"], ("sender_id", "X", False)]}
    )

    assert error_codes(form, "variables") == ["reserved_name"]


def test_it_refuses_the_same_header_twice_in_any_case() -> None:
    form = bound(
        rows={
            "headers": [
                ("Content-Type", "application/json", False),
                ("content-type", "text/plain", False),
            ]
        }
    )

    assert error_codes(form, "headers") == ["duplicate_name"]


def test_it_refuses_a_payload_on_post_left_empty() -> None:
    assert error_codes(bound(payload=""), "payload") == ["required"]


def test_it_refuses_per_message_placeholders_outside_the_batch_record() -> None:
    payload = json.dumps(
        {"to": "$$To", "msgs": [{"text": "$$Body", "source": "{sender_id}"}]}
    )

    form = bound(batch_enabled="on", batch_key="msgs", payload=payload)

    assert "per_message_outside_record" in error_codes(form, "payload")


def test_it_takes_a_blank_batch_key_from_the_payloads_one_array() -> None:
    provider = saved(batch_enabled="on", batch_key="", payload=ONE_RECORD)

    assert provider.batch_key == "msgs"


def test_it_repeats_the_record_of_a_batch_key_taken_from_the_payload() -> None:
    form = bound(batch_enabled="on", batch_key="", payload=ONE_RECORD)

    assert form.is_valid(), form.errors
    request = form.compiled.render(
        [Message(to="+1", body="a"), Message(to="+2", body="b")]
    )
    assert [r["destination"] for r in json.loads(request.body)["msgs"]] == ["+1", "+2"]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(CLEVERTAP_PAYLOAD, id="no-array"),
        pytest.param(
            json.dumps({"msgs": [{"text": "$$Body"}], "to": ["$$To"]}), id="two-arrays"
        ),
        pytest.param(
            json.dumps({"msgs": [{"text": "$$Body"}, {"text": "$$Body"}]}),
            id="two-records",
        ),
        pytest.param(json.dumps({"msgs": ["$$To"]}), id="not-an-object"),
        pytest.param(SEED_PAYLOAD, id="not-json-yet"),
    ],
)
def test_it_asks_for_the_batch_key_when_the_payload_does_not_say(payload) -> None:
    form = bound(batch_enabled="on", batch_key="", payload=payload)

    assert "batch_key_required" in error_codes(form, "batch_key")


def test_it_keeps_a_batch_key_given_even_when_another_array_would_do() -> None:
    payload = json.dumps({"msgs": [{"text": "$$Body", "destination": "$$To"}]})

    form = bound(batch_enabled="on", batch_key="messages", payload=payload)

    assert "batch_key_missing" in error_codes(form, "batch_key")


def test_it_refuses_a_sender_id_with_a_line_break() -> None:
    form = bound(sender_id="ACME\r\nX")

    assert "line_break" in error_codes(form, "sender_id")


def test_it_requires_a_sender_name_on_the_moengage_screen() -> None:
    form = bound("moengage", sender_name="")

    assert error_codes(form, "sender_name") == ["required"]


# --- secrets on edit ---------------------------------------------------------------


def test_it_keeps_a_stored_secret_left_blank_on_edit() -> None:
    provider = saved()
    rows = {
        "variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)],
        "headers": [("X-Api-Secret", "", True)],
    }

    form = bound(instance=provider, rows=rows, nickname="Renamed")

    assert form.is_valid(), form.errors
    form.save()
    provider.refresh_from_db()
    assert provider.nickname == "Renamed"
    assert values(provider.variables)["apiKey"] == API_KEY
    assert provider.headers.get(name="X-Api-Secret").value == HEADER_SECRET


def test_it_replaces_a_stored_secret_when_a_new_one_is_entered() -> None:
    provider = saved()
    rows = {"variables": [("subAccountId", "acme_sub", False), ("apiKey", "new", True)]}

    form = bound(instance=provider, rows=rows)
    assert form.is_valid(), form.errors
    form.save()

    assert values(provider.variables)["apiKey"] == "new"


def test_it_never_puts_a_stored_secret_into_the_edit_form() -> None:
    provider = saved(
        authentication="basic", basic_username="{subAccountId}", basic_password="pw-1"
    )

    html = ClevertapProviderForm(instance=provider).as_p()

    assert API_KEY not in html
    assert HEADER_SECRET not in html
    assert "pw-1" not in html
    assert "stored — leave blank to keep" in html


def test_a_stored_secret_with_a_control_character_is_refused_when_kept() -> None:
    provider = saved()
    provider.variables.filter(name="apiKey").update(value="sk\x00live")

    form = bound(
        instance=provider,
        rows={"variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)]},
    )

    assert not form.is_valid()
    assert error_codes(form, "variables") == ["control_character"]
    assert (
        "Variable 2 (apiKey): The value contains a NUL character"
        in (form.errors["variables"][0])
    )


def test_it_keeps_the_basic_password_left_blank_on_edit() -> None:
    provider = saved(
        authentication="basic",
        basic_username="{subAccountId}",
        basic_password="pw-123456",
    )

    form = bound(
        instance=provider,
        authentication="basic",
        basic_username="{subAccountId}",
        basic_password="",
    )
    assert form.is_valid(), form.errors
    form.save()

    provider.refresh_from_db()
    assert provider.basic_password == "pw-123456"


# --- senders saved through the setup screen ----------------------------------------


def test_it_makes_the_new_sender_the_default_of_its_type_only() -> None:
    first = saved(nickname="First", is_default="on")
    promotional = saved(
        nickname="Promo", is_default="on", sender_type="promotional"
    ).senders.get()

    saved(nickname="Second", is_default="on")

    assert not first.senders.get().is_default
    assert Sender.objects.get(pk=promotional.pk).is_default


def test_it_edits_the_existing_sender_in_place() -> None:
    provider = saved("moengage")
    sender_pk = provider.senders.get().pk

    form = bound("moengage", instance=provider, sender_id="NEWID")
    assert form.is_valid(), form.errors
    form.save()

    assert list(provider.senders.values_list("pk", "sender_id")) == [
        (sender_pk, "NEWID")
    ]


def test_it_leaves_authentication_and_batch_off_the_moengage_screen() -> None:
    form = MoengageProviderForm()

    assert not {"authentication", "basic_password", "batch_enabled"} & set(form.fields)
    assert "url_parameters" not in ClevertapProviderForm().fields


def test_an_endpoint_error_never_shows_a_secret_part_of_the_host(settings) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    form = bound(
        endpoint="https://{tenantHost}/sms",
        rows={
            "variables": [
                *ROWS["clevertap"]["variables"],
                ("tenantHost", "secret-tenant-0042.localhost", True),
            ]
        },
    )

    assert error_codes(form, "endpoint") in (["private_address"], ["unresolvable_host"])
    assert "secret-tenant-0042" not in " ".join(form.errors["endpoint"])
