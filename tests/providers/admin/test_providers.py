"""providers.admin: the setup screens, presets, preview and sender changelist."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from django.urls import reverse

from providers import presets
from providers.forms.setup import FORMS
from providers.models import Provider, Sender
from providers.sandbox.demo import form_data

from ..bad_inputs import (
    BAD_INPUTS,
    BASIC_WITHOUT_PASSWORD,
    CONTROL_CHARACTER_INPUTS,
    ENDPOINT_INPUTS,
    BadInput,
)
from ..formdata import (
    API_KEY,
    BASIC_PASSWORD,
    HEADER_SECRET,
    TEST_NUMBER,
    as_post,
    error_codes,
    preset_data,
    screen_data,
    values,
)

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:providers_provider_add")
PREVIEW_URL = reverse("admin:providers_provider_preview")
CHANGELIST_URL = reverse("admin:providers_provider_changelist")
SENDERS_URL = reverse("admin:providers_sender_changelist")

CLEVERTAP_LABELS = [
    "Nickname",
    "Request Type",
    "HTTP Endpoint",
    "Authentication",
    "Parameters",
    "Batch",
    "Key name",
    "Number of records per batch",
    "Headers",
    "Provider variables",
    "Sender ID / Virtual Number",
    "Sender type",
    "Mark as default",
]
MOENGAGE_LABELS = [
    "Service provider name",
    "Sender name",
    "Sender type",
    "Sender ID / Virtual Number",
    "Mark as default",
    "API URL",
    "Method",
    "URL Parameters",
    "Headers",
    "Body type",
    "Body",
]


def post_new(client, screen: str = "clevertap", **fields):
    return client.post(
        f"{ADD_URL}?screen={screen}",
        as_post(screen_data(screen, **fields), _save="Save"),
    )


def create(client, screen: str = "clevertap", **fields) -> Provider:
    response = post_new(client, screen, **fields)
    assert response.status_code == 302, form_errors(response)
    return Provider.objects.get(nickname=screen_data(screen, **fields)["nickname"])


def form_errors(response) -> object:
    context = response.context
    return context["adminform"].form.errors if context else response.content[:500]


def missing_labels(html: str, labels: list[str]) -> list[str]:
    return [label for label in labels if f">{label}" not in html]


def secrets_in(text: str) -> list[str]:
    return [s for s in (API_KEY, HEADER_SECRET, BASIC_PASSWORD) if s in text]


def number_in(body: str, body_type: str) -> bool:
    """Whether the JSON or form body carries the test number as a whole value."""
    if body_type == "json":
        found = re.findall(r'"\+?(\d+)"', json.dumps(json.loads(body)))
    else:
        found = [value.lstrip("+") for _, value in parse_qsl(body)]
    return TEST_NUMBER in found


# --- lists and screens -------------------------------------------------------------


def test_it_lists_providers_on_the_changelist(admin_client) -> None:
    create(admin_client, nickname="Alpha_SMS")
    create(admin_client, "moengage", nickname="Beta SMS")

    response = admin_client.get(CHANGELIST_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Alpha_SMS" in html
    assert "Beta SMS" in html
    assert "sms.example.com" in html


def test_it_offers_both_screens_and_every_preset_on_the_chooser(admin_client) -> None:
    response = admin_client.get(ADD_URL)

    html = response.content.decode()
    assert response.status_code == 200
    for value, label in Provider.SetupScreen.choices:
        assert f'href="?screen={value}"' in html
        assert label in html
    for preset in presets.PRESETS:
        assert f'href="?preset={preset.slug}"' in html
        assert preset.name in html


def test_it_shows_the_chooser_again_for_an_unknown_preset(admin_client) -> None:
    response = admin_client.get(f"{ADD_URL}?preset=nope")

    assert response.status_code == 200
    assert "That preset does not exist" in response.content.decode()


@pytest.mark.parametrize(
    ("screen", "labels"),
    [("clevertap", CLEVERTAP_LABELS), ("moengage", MOENGAGE_LABELS)],
)
def test_it_renders_each_blank_screen_with_the_guide_labels(
    admin_client, screen, labels
) -> None:
    response = admin_client.get(f"{ADD_URL}?screen={screen}")

    assert response.status_code == 200
    assert missing_labels(response.content.decode(), labels) == []


def test_it_reopens_a_moengage_provider_in_the_moengage_screen(admin_client) -> None:
    provider = create(admin_client, "moengage")

    response = admin_client.get(
        reverse("admin:providers_provider_change", args=[provider.pk])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert missing_labels(html, ["Service provider name", "API URL", "Body type"]) == []
    assert ">HTTP Endpoint" not in html


def test_it_reopens_a_clevertap_provider_in_the_clevertap_screen(admin_client) -> None:
    provider = create(admin_client, "clevertap")

    response = admin_client.get(
        reverse("admin:providers_provider_change", args=[provider.pk])
    )

    html = response.content.decode()
    assert missing_labels(html, ["Nickname", "HTTP Endpoint", "Request Type"]) == []
    assert ">Service provider name" not in html


def test_it_never_renders_stored_secrets_on_the_change_page(admin_client) -> None:
    provider = create(
        admin_client,
        authentication="basic",
        basic_username="{subAccountId}",
        basic_password=BASIC_PASSWORD,
    )

    response = admin_client.get(
        reverse("admin:providers_provider_change", args=[provider.pk])
    )

    assert response.status_code == 200
    assert secrets_in(response.content.decode()) == []


# --- bad input through the real views ----------------------------------------------


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_it_answers_bad_input_with_the_form_and_a_field_error(
    admin_client, case: BadInput
) -> None:
    response = admin_client.post(
        f"{ADD_URL}?screen={case.screen}",
        as_post(screen_data(case.screen, rows=case.rows, **case.fields), _save="Save"),
    )

    assert response.status_code == 200
    assert case.code in error_codes(response.context["adminform"].form, case.field)
    assert not Provider.objects.exists()


def stored(provider: Provider) -> tuple:
    provider = Provider.objects.get(pk=provider.pk)
    return (
        provider.endpoint,
        provider.authentication,
        provider.basic_password,
        values(provider.headers),
        values(provider.url_parameters),
        values(provider.variables),
    )


@pytest.mark.parametrize(
    "case", [*ENDPOINT_INPUTS, *CONTROL_CHARACTER_INPUTS, BASIC_WITHOUT_PASSWORD]
)
def test_a_refused_edit_leaves_the_stored_provider_as_it_was(
    admin_client, case: BadInput
) -> None:
    provider = create(admin_client, case.screen)
    before = stored(provider)

    response = admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]),
        as_post(screen_data(case.screen, rows=case.rows, **case.fields), _save="Save"),
    )

    assert response.status_code == 200
    assert case.code in error_codes(response.context["adminform"].form, case.field)
    assert stored(provider) == before


def test_switching_to_basic_authentication_without_a_password_is_refused(
    admin_client,
) -> None:
    provider = create(admin_client)

    response = admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]),
        as_post(
            screen_data("clevertap", authentication="basic", basic_username="acme"),
            _save="Save",
        ),
    )

    form = response.context["adminform"].form
    assert error_codes(form, "basic_password") == ["basic_password_required"]
    provider.refresh_from_db()
    assert provider.authentication == Provider.Authentication.NONE


def test_it_answers_a_duplicate_nickname_on_the_nickname_field(admin_client) -> None:
    create(admin_client, nickname="8x8_SMS")

    response = post_new(admin_client, nickname="8X8_SMS")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error_codes(form, "nickname") == ["duplicate_nickname"]
    assert Provider.objects.count() == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "[::1]", "localhost"])
def test_it_answers_a_private_endpoint_with_an_endpoint_error(
    admin_client, settings, host
) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False

    response = post_new(admin_client, endpoint=f"https://{host}/{{subAccountId}}")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error_codes(form, "endpoint") == ["private_address"]


# --- editing -----------------------------------------------------------------------


def test_it_keeps_stored_secrets_left_blank_on_edit(admin_client) -> None:
    provider = create(admin_client)
    data = screen_data(
        "clevertap",
        nickname="8x8_SMS_renamed",
        rows={
            "variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)],
            "headers": [("X-Api-Secret", "", True)],
        },
    )

    response = admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]),
        as_post(data, _save="Save"),
    )

    assert response.status_code == 302, form_errors(response)
    provider.refresh_from_db()
    assert provider.nickname == "8x8_SMS_renamed"
    assert values(provider.variables)["apiKey"] == API_KEY
    assert values(provider.headers) == {"X-Api-Secret": HEADER_SECRET}


def test_an_edit_with_a_payload_nested_too_deep_keeps_the_stored_one(
    admin_client,
) -> None:
    provider = create(admin_client)
    stored = provider.payload
    data = screen_data("clevertap", payload="[" * 100_000 + "]" * 100_000)

    response = admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]),
        as_post(data, _save="Save"),
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error_codes(form, "payload") == ["too_deep"]
    provider.refresh_from_db()
    assert provider.payload == stored


# --- presets -----------------------------------------------------------------------

PRESET_SLUGS = [preset.slug for preset in presets.PRESETS]


@pytest.mark.parametrize("slug", PRESET_SLUGS)
def test_it_prefills_the_screen_from_a_preset(admin_client, slug) -> None:
    preset = presets.BY_SLUG[slug]

    response = admin_client.get(f"{ADD_URL}?preset={slug}")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{preset.endpoint}"' in html
    assert response.context["adminform"].form.initial["preset"] == slug


@pytest.mark.parametrize(
    ("slug", "nickname"),
    [("8x8-clevertap", "8x8 SMS"), ("8x8-moengage", "8x8 SMS"), ("twilio", "Twilio")],
)
def test_it_names_a_new_provider_as_its_preset_suggests(
    admin_client, slug, nickname
) -> None:
    response = admin_client.get(f"{ADD_URL}?preset={slug}")

    assert response.context["adminform"].form.initial["nickname"] == nickname


def test_it_numbers_a_preset_nickname_already_taken(admin_client) -> None:
    create(admin_client, nickname="8x8 sms")
    create(admin_client, nickname="8X8 SMS 2")

    response = admin_client.get(f"{ADD_URL}?preset=8x8-clevertap")

    assert response.context["adminform"].form.initial["nickname"] == "8x8 SMS 3"


def test_it_leaves_the_nickname_blank_on_a_screen_without_preset(admin_client) -> None:
    response = admin_client.get(f"{ADD_URL}?screen=clevertap")

    assert not response.context["adminform"].form.initial.get("nickname")


@pytest.mark.parametrize("slug", PRESET_SLUGS)
def test_it_saves_a_preset_once_the_credentials_are_filled_in(
    admin_client, slug
) -> None:
    preset = presets.BY_SLUG[slug]

    response = admin_client.post(
        f"{ADD_URL}?preset={slug}", as_post(preset_data(preset), _save="Save")
    )

    assert response.status_code == 302, form_errors(response)
    provider = Provider.objects.get()
    assert (provider.preset, provider.setup_screen) == (slug, preset.screen)
    assert provider.senders.get().sender_id == "ACME"
    assert {r.name for r in provider.variables.all()} == {
        r.name for r in preset.variables
    }


@pytest.mark.parametrize("slug", PRESET_SLUGS)
def test_it_previews_a_preset_as_an_https_request_to_the_test_number(
    admin_client, slug
) -> None:
    preset = presets.BY_SLUG[slug]

    response = admin_client.post(
        f"{PREVIEW_URL}?preset={slug}", as_post(preset_data(preset))
    )

    data = response.json()
    assert data["ok"], data
    assert data["errors"] == {}
    request = data["request"]
    assert request["method"] == preset.method
    assert request["url"].startswith("https://")
    assert number_in(request["body"], preset.body_type)
    assert secrets_in(response.content.decode()) == []


@pytest.mark.parametrize("slug", PRESET_SLUGS)
def test_it_previews_a_saved_preset_with_its_stored_secrets_masked(
    admin_client, slug
) -> None:
    preset = presets.BY_SLUG[slug]
    admin_client.post(
        f"{ADD_URL}?preset={slug}", as_post(preset_data(preset), _save="Save")
    )
    provider = Provider.objects.get()
    data = preset_data(preset)
    for kind in ("variables", "headers"):
        secret_flags = data.getlist(f"{kind}-secret")
        data.setlist(
            f"{kind}-value",
            [
                "" if flag == "1" else value
                for value, flag in zip(
                    data.getlist(f"{kind}-value"), secret_flags, strict=True
                )
            ],
        )
    data["basic_password"] = ""

    response = admin_client.post(
        reverse("admin:providers_provider_preview_existing", args=[provider.pk]),
        as_post(data),
    )

    assert response.json()["ok"], response.json()
    assert secrets_in(response.content.decode()) == []


def test_it_masks_every_kind_of_secret_in_the_preview(admin_client) -> None:
    data = screen_data(
        "moengage",
        rows={
            "headers": [
                ("Authorization", "Bearer {apiKey}", False),
                ("X-Api-Secret", HEADER_SECRET, True),
            ],
            "url_parameters": [("token", "{apiKey}", False)],
        },
        payload=json.dumps(
            {
                "to": "Moesms_destination",
                "text": "Moesms_message",
                "key": "{apiKey}",
                "from": "{sender_id}",
            }
        ),
    )

    response = admin_client.post(f"{PREVIEW_URL}?screen=moengage", as_post(data))

    body = response.content.decode()
    assert response.json()["ok"]
    assert secrets_in(body) == []
    assert API_KEY[-4:] in body


def test_it_masks_the_basic_password_and_its_encoding_in_the_preview(
    admin_client,
) -> None:
    data = screen_data(
        "clevertap",
        authentication="basic",
        basic_username="user",
        basic_password=BASIC_PASSWORD,
    )

    response = admin_client.post(f"{PREVIEW_URL}?screen=clevertap", as_post(data))

    encoded = base64.b64encode(f"user:{BASIC_PASSWORD}".encode()).decode()
    assert response.json()["ok"]
    assert BASIC_PASSWORD not in response.content.decode()
    assert encoded not in response.content.decode()


def test_it_previews_errors_by_field_label_without_a_request(admin_client) -> None:
    data = screen_data("clevertap", payload='{"to": $$To}')

    data = admin_client.post(f"{PREVIEW_URL}?screen=clevertap", as_post(data)).json()

    assert data["ok"] is False
    assert "Put placeholders and values inside double quotes" in " ".join(
        data["errors"]["Payload"]
    )


def test_it_refuses_a_preview_by_get(admin_client) -> None:
    assert admin_client.get(PREVIEW_URL).status_code == 405


# --- sender changelist -------------------------------------------------------------


def changelist_post(senders: list[Sender], marked: set[str]) -> dict[str, str]:
    data = {
        "form-TOTAL_FORMS": str(len(senders)),
        "form-INITIAL_FORMS": str(len(senders)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, sender in enumerate(senders):
        data[f"form-{index}-id"] = str(sender.pk)
        if sender.name in marked:
            data[f"form-{index}-is_default"] = "on"
    return data


@pytest.fixture
def senders(db) -> list[Sender]:
    owner = Provider.objects.create(
        nickname="Owner", endpoint="https://sms.example.com/"
    )
    rows = [
        ("Alpha", Sender.SenderType.PROMOTIONAL, True),
        ("Bravo", Sender.SenderType.PROMOTIONAL, False),
        ("Charlie", Sender.SenderType.TRANSACTIONAL, False),
    ]
    return [
        Sender.objects.create(provider=owner, name=n, sender_type=t, is_default=d)
        for n, t, d in rows
    ]


def defaults() -> set[str]:
    return set(Sender.objects.filter(is_default=True).values_list("name", flat=True))


def test_it_refuses_a_second_default_of_one_type_in_the_sender_changelist(
    admin_client, senders
) -> None:
    response = admin_client.post(
        SENDERS_URL, changelist_post(senders, {"Alpha", "Bravo"})
    )

    assert response.status_code == 200
    formset = response.context["cl"].formset
    codes = [code for form in formset.forms for code in error_codes(form, "is_default")]
    assert codes == ["second_default"]
    assert defaults() == {"Alpha"}


def test_it_moves_the_default_in_the_sender_changelist(admin_client, senders) -> None:
    response = admin_client.post(
        SENDERS_URL, changelist_post(senders, {"Bravo", "Charlie"})
    )

    assert response.status_code == 302
    assert defaults() == {"Bravo", "Charlie"}


def test_it_lets_each_type_have_a_default_in_the_sender_changelist(
    admin_client, senders
) -> None:
    response = admin_client.post(
        SENDERS_URL, changelist_post(senders, {"Alpha", "Charlie"})
    )

    assert response.status_code == 302
    assert defaults() == {"Alpha", "Charlie"}


@pytest.mark.parametrize("provider", ["abc", "1.5", "-", "9" * 30, "99999"])
def test_a_sender_saved_with_a_provider_no_one_could_choose_gets_the_choice_error(
    admin_client, senders, provider
) -> None:
    alpha = senders[0]
    data = {"provider": provider, "name": "Renamed", "sender_type": "promotional"}

    response = admin_client.post(
        reverse("admin:providers_sender_change", args=[alpha.pk]), data
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error_codes(form, "provider") == ["invalid_choice"]
    alpha.refresh_from_db()
    assert (alpha.name, alpha.provider_id) == ("Alpha", senders[1].provider_id)


# --- Map automatically, for formats read without a mapping ----------------------------

PROPOSE_URL = reverse("admin:providers_provider_propose_mapping")
DLR_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dlr"


def proposed(admin_client, name: str, **settings: str) -> dict:
    sample = (DLR_FIXTURES / name).read_text()
    return admin_client.post(PROPOSE_URL, {"sample": sample, **settings}).json()


def test_map_automatically_says_which_8x8_fields_find_the_message(
    admin_client,
) -> None:
    answer = proposed(admin_client, "8x8_delivered.json")

    assert answer["ok"] is True
    assert answer["format"] == "8x8"
    assert answer["mapping"] is None
    assert "8x8 reports carry umid (8x8's id) and clientMessageId" in answer["note"]


def test_map_automatically_warns_when_the_provider_captures_neither_id(
    admin_client,
) -> None:
    answer = proposed(
        admin_client,
        "8x8_delivered.json",
        payload='{"source": "{sender_id}", "text": "Moesms_message"}',
        message_id_path="",
    )

    assert "Warning: this provider captures neither" in answer["note"]


def test_map_automatically_is_content_with_a_message_id_path(admin_client) -> None:
    answer = proposed(
        admin_client,
        "8x8_delivered.json",
        payload='{"text": "Moesms_message"}',
        message_id_path="umid",
    )

    assert "Warning" not in answer["note"]
    assert "read from its answers at umid" in answer["note"]


def test_map_automatically_checks_a_clevertap_payload_sends_our_id(
    admin_client,
) -> None:
    answer = proposed(
        admin_client, "clevertap_delivered.json", payload='{"msgs": [{"mid": "1"}]}'
    )

    assert answer["format"] == "clevertap"
    assert "meta" in answer["note"]
    assert "does not send $$MessageID" in answer["note"]


def test_map_automatically_still_proposes_a_mapping_for_other_formats(
    admin_client,
) -> None:
    answer = proposed(admin_client, "msg91_delivered.json")

    assert answer["ok"] is True
    assert answer["format"] == "mapped"
    assert answer["mapping"]["dlr_status_path"]


def test_the_moengage_palette_offers_our_message_id(admin_client) -> None:
    page = admin_client.get(f"{ADD_URL}?screen=moengage").content.decode()

    assert 'data-insert="Moesms_destination"' in page
    assert 'data-insert="$$MessageID"' in page


def test_the_moengage_screen_accepts_our_message_id_in_the_payload() -> None:
    initial = presets.BY_SLUG["8x8-moengage"].initial()
    initial["payload"] = initial["payload"].replace(
        '"text": "Moesms_message"',
        '"text": "Moesms_message", "clientMessageId": "$$MessageID"',
    )
    for row in initial["variables"]:
        row["value"] = "demo-account" if row["name"] == "subAccountId" else "k" * 20
    initial.update(
        nickname="8x8 with our id",
        sender_name="8x8 with our id",
        sender_id="ACME",
        sender_type="transactional",
        is_active=True,
    )

    form = FORMS["moengage"](form_data(initial), instance=Provider())

    assert form.is_valid(), form.errors
    assert '"clientMessageId": "$$MessageID"' in form.save().payload


@pytest.mark.parametrize("junk", ["9" * 30, "abc"])
def test_a_sender_list_save_with_an_id_no_key_could_hold_changes_nothing(
    admin_client, senders, junk
) -> None:
    data = changelist_post(senders, {"Bravo"})
    data["form-0-id"] = junk

    response = admin_client.post(SENDERS_URL, data, follow=True)

    assert response.status_code == 200
    assert defaults() == {"Alpha"}
    [shown] = [str(m) for m in response.context["messages"]]
    assert shown.startswith("Nothing was saved: the list sent back a row")


def test_a_sender_list_save_with_an_unknown_id_is_refused_on_the_row(
    admin_client, senders
) -> None:
    data = changelist_post(senders, {"Bravo"})
    data["form-0-id"] = "-1"

    response = admin_client.post(SENDERS_URL, data)

    assert response.status_code == 200
    assert defaults() == {"Alpha"}
    assert response.context["cl"].formset.forms[0].errors["id"]
