"""providers.presets: each preset plus credentials makes a valid, sendable request."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from providers import presets
from providers.forms.setup import FORMS
from providers.outbound.rendering import Message

from .formdata import BASIC_PASSWORD, preset_data

pytestmark = pytest.mark.django_db

PRESETS = [pytest.param(preset, id=preset.slug) for preset in presets.PRESETS]
# With a DLT template id, which DLT presets (Exotel) cannot send without.
FIRST = Message(
    to="+6591234567", body="Hello there", message_id="m-1", template_id="1107001"
)
SECOND = Message(
    to="+447700900123", body="Second", message_id="m-2", template_id="1107001"
)


def compiled(preset: presets.Preset):
    form = FORMS[preset.screen](preset_data(preset))
    assert form.is_valid(), form.errors
    return form.compiled


def leaves(node) -> list[str]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in leaves(value)]
    return [node]


def test_it_gives_every_preset_a_unique_slug_and_a_known_screen() -> None:
    slugs = [preset.slug for preset in presets.PRESETS]

    assert len(set(slugs)) == len(slugs)
    assert {preset.screen for preset in presets.PRESETS} <= set(FORMS)
    assert presets.BY_SLUG.keys() == set(slugs)


@pytest.mark.parametrize(
    ("slug", "nickname"),
    [
        ("8x8-clevertap", "8x8 SMS"),
        ("8x8-moengage", "8x8 SMS"),
        ("twilio", "Twilio"),
        ("vonage", "Vonage"),
        ("infobip", "Infobip"),
        ("plivo", "Plivo"),
        ("sinch", "Sinch"),
    ],
)
def test_it_suggests_the_nickname_a_provider_goes_by(slug, nickname) -> None:
    assert presets.BY_SLUG[slug].initial()["nickname"] == nickname


def test_it_keeps_a_free_nickname_as_it_is() -> None:
    assert presets.free_nickname("Twilio", taken={"vonage"}) == "Twilio"


def test_it_numbers_a_nickname_taken_in_any_letter_case() -> None:
    taken = {"8x8 sms", "8x8 sms 2"}

    assert presets.free_nickname("8x8 SMS", taken=taken) == "8x8 SMS 3"


@pytest.mark.parametrize("preset", PRESETS)
def test_it_leaves_only_credentials_for_the_user_to_fill(preset) -> None:
    blank = [
        row.name for row in (*preset.headers, *preset.url_parameters) if not row.value
    ]

    assert blank == []
    assert all(row.hint for row in preset.variables if not row.value)


@pytest.mark.parametrize("preset", PRESETS)
def test_it_renders_each_preset_as_an_https_request_to_the_number(preset) -> None:
    request = compiled(preset).render([FIRST])

    number = "+6591234567" if preset.number_format == "e164" else "6591234567"
    assert request.method == preset.method
    assert urlsplit(request.url).scheme == "https"
    assert "{" not in request.url
    if preset.body_type == "json":
        document = json.loads(request.body)
        assert number in leaves(document)
        assert "Hello there" in leaves(document)
    else:
        fields = dict(parse_qsl(request.body.decode()))
        assert number in fields.values()
        assert "Hello there" in fields.values()


@pytest.mark.parametrize(
    "preset", [p for p in PRESETS if p.values[0].batch_key], ids=lambda p: p.slug
)
def test_it_repeats_the_batch_record_once_per_message(preset) -> None:
    request = compiled(preset).render([FIRST, SECOND])

    records = json.loads(request.body)[preset.batch_key]
    assert len(records) == 2
    assert "m-1" in leaves(records[0])
    assert "m-2" in leaves(records[1])


@pytest.mark.parametrize(
    "preset",
    [p for p in PRESETS if p.values[0].authentication == "basic"],
    ids=lambda p: p.slug,
)
def test_it_sends_basic_credentials_for_basic_presets(preset) -> None:
    request = compiled(preset).render([FIRST])

    scheme, _, encoded = request.header("Authorization").partition(" ")
    username, _, password = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic"
    assert password == BASIC_PASSWORD
    assert username
    assert "{" not in username


@pytest.mark.parametrize("preset", PRESETS)
def test_it_sends_the_callback_url_where_the_provider_expects_it(
    settings, preset
) -> None:
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    body = compiled(preset).render([FIRST]).body.decode()
    uses_callback = "{callback_url}" in preset.payload_text

    assert ("sms.example.com" in body) is uses_callback
