"""A provider's inbound replies in its setup screens: Map automatically from a
pasted reply (the providers' documented payloads, tests/fixtures/inbound/),
the mapping's own checks, and the inbound URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from providers.forms.setup import FORMS
from providers.models import Provider

from ..formdata import screen_data

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROPOSE = reverse("admin:providers_provider_propose_inbound_mapping")


def proposed(admin_client, sample: str) -> dict:
    response = admin_client.post(PROPOSE, {"sample": sample})
    assert response.status_code == 200
    return response.json()


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_it_maps_twilios_inbound_form(admin_client) -> None:
    answer = proposed(admin_client, fixture("inbound/twilio_inbound.txt"))

    assert answer == {
        "ok": True,
        "format": "mapped",
        "mapping": {
            "inbound_from_path": "From",
            "inbound_to_path": "To",
            "inbound_text_path": "Body",
            "inbound_time_path": "",
            "inbound_id_path": "MessageSid",
        },
        "sample": {"from": "+6591000000", "text": "STOP"},
        "replies": 1,
    }


def test_it_maps_infobips_list_of_replies(admin_client) -> None:
    answer = proposed(admin_client, fixture("inbound/infobip_inbound.json"))

    assert answer["mapping"]["inbound_from_path"] == "results.0.from"
    assert answer["mapping"]["inbound_time_path"] == "results.0.receivedAt"
    assert (answer["sample"]["text"], answer["replies"]) == ("QUIT", 2)


def test_it_says_8x8s_inbound_format_needs_no_mapping(admin_client) -> None:
    answer = proposed(admin_client, fixture("inbound/8x8_inbound.json"))

    assert (answer["ok"], answer["format"], answer["mapping"]) == (True, "8x8", None)
    assert "8x8's own inbound format" in answer["note"]


def test_it_says_clevertap_replies_come_on_the_callback_url(admin_client) -> None:
    answer = proposed(admin_client, fixture("dlr/clevertap_replied.json"))

    assert (answer["format"], answer["mapping"]) == ("clevertap", None)
    assert "“replied” events on the callback URL" in answer["note"]


@pytest.mark.parametrize(
    ("sample", "error"),
    [
        ("", "Paste a sample reply first."),
        ("  ", "Paste a sample reply first."),
        ("&&", "The sample is neither JSON nor a form/query string."),
        ("[" * 40 + "]" * 40, "The sample is refused: "),
        (
            fixture("dlr/twilio_delivered.txt"),  # a status callback: no text
            "No sender's number or text was recognised in the sample",
        ),
        ('{"from": null, "text": null}', "No sender's number or text was recognised"),
        ('{"from": true, "text": "STOP"}', "The sample is refused: “from” should"),
    ],
)
def test_a_sample_it_cannot_map_says_why(admin_client, sample: str, error: str) -> None:
    answer = proposed(admin_client, sample)

    assert answer["ok"] is False
    assert answer["error"].startswith(error)


def test_it_only_proposes_on_post(admin_client) -> None:
    assert admin_client.get(PROPOSE).status_code == 405


def test_a_user_who_may_not_change_providers_may_not_propose(client) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user(username="viewer", is_staff=True))

    assert client.post(PROPOSE, {"sample": "From=1&Body=2"}).status_code == 403


# --- the mapping on the setup screens -------------------------------------------------


@pytest.mark.parametrize("screen", ["clevertap", "moengage"])
def test_both_screens_save_the_inbound_mapping(screen: str) -> None:
    data = screen_data(
        screen,
        inbound_from_path="From",
        inbound_to_path="To",
        inbound_text_path="Body",
        inbound_id_path="MessageSid",
        inbound_sample="From=%2B6591000000&Body=STOP",
    )

    form = FORMS[screen](data, instance=Provider())

    assert form.is_valid(), form.errors
    provider = form.save()
    mapping = provider.inbound_mapping()
    assert (mapping.from_path, mapping.text_path, mapping.id_path) == (
        "From",
        "Body",
        "MessageSid",
    )
    assert provider.inbound_sample == "From=%2B6591000000&Body=STOP"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"inbound_from_path": "From"}, "inbound_text_path"),
        ({"inbound_text_path": "Body"}, "inbound_from_path"),
        ({"inbound_id_path": "MessageSid"}, "inbound_from_path"),
    ],
)
def test_a_mapping_needs_both_the_number_and_the_text(
    fields: dict, missing: str
) -> None:
    form = FORMS["clevertap"](screen_data("clevertap", **fields), instance=Provider())

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()[missing]] == [
        "inbound_field_required"
    ]


def test_the_change_page_shows_the_inbound_url_and_the_mapping(admin_client) -> None:
    provider = Provider.objects.create(nickname="Generic", endpoint="https://8.8.8.8/x")

    page = admin_client.get(
        reverse("admin:providers_provider_change", args=[provider.pk])
    ).content.decode()

    assert provider.inbound_url in page
    assert f"/inbound/{provider.callback_token}/" in provider.inbound_url
    assert "Inbound replies" in page
    assert 'name="inbound_sample"' in page
    assert 'id="propose-inbound-mapping-url"' in page
