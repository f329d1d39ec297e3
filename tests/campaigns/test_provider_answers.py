"""Every preset's provider, replayed from its documented answers
(tests/fixtures/answers/<preset>/): each message ends in the state the answer
gives it, in a Send Test SMS and in a campaign, through the one outbound
pipeline. HTTP is mocked at the wire with `responses`.

A fixture's body names our messages "MID-0", "MID-1", …; the replay puts the
real message ids of the request in their place, as a provider echoing them would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses

from campaigns import actions, sending
from campaigns.dlr import tracking
from campaigns.models import Message
from providers import presets
from providers.dlr import parse
from providers.forms.setup import FORMS
from providers.message_templates import MessageTemplate
from providers.models import Provider
from providers.outbound.outcomes import TRANSIENT, Category
from providers.outbound.spec import custom_placeholders, saved_secrets
from providers.send_test_sms import send_test_sms
from tests.providers.formdata import preset_data

from .fake_provider import campaign_to, numbers

ANSWERS = Path(__file__).resolve().parents[1] / "fixtures" / "answers"
FILES = sorted(ANSWERS.glob("*/*.json"))
Status = Message.Status
SENDER_IDS = {"twilio": "+15005550006", "plivo": "+14155550100", "exotel": "ACMEIN"}


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def answer_file(path: Path) -> dict:
    return json.loads(path.read_text())


def preset_provider(slug: str) -> Provider:
    """A provider made from the preset through its setup screen."""
    preset = presets.BY_SLUG[slug]
    data = preset_data(preset)
    data["sender_id"] = SENDER_IDS.get(slug, "ACME")
    data["is_default"] = "on"
    form = FORMS[preset.screen](data, instance=Provider())
    assert form.is_valid(), form.errors
    return form.save()


def dlt_template(provider: Provider) -> MessageTemplate | None:
    """For a preset whose request names a DLT template (Exotel): one for the
    replayed text, registered for the provider's sender."""
    if not custom_placeholders(provider).template:
        return None
    return MessageTemplate.objects.create(
        name="Replayed",
        template_id="1107161234567890123",
        text="Replayed",
        sender=provider.primary_sender,
        entity_id="1101234567890123456",
    )


def replay(
    wire: responses.RequestsMock, answer: dict, message_ids, *, provider: Provider
) -> None:
    """Answer the next request with the fixture, our ids put in."""
    # Read now: the callback may run on a sending thread, outside this test's
    # transaction.
    secret = secret_of(provider) if answer.get("echoes_secret") else ""

    def reply(request):
        body = json.dumps(answer["body"]) if "body" in answer else ""
        for index, message_id in enumerate(message_ids()):
            body = body.replace(f'"MID-{index}"', json.dumps(message_id))
        if answer.get("echoes_secret"):
            # As a provider that quotes the key it was sent back in its error.
            body = body.replace(answer["echoes_secret"], secret)
        return answer["status"], answer.get("headers", {}), body

    wire.add_callback(responses.POST, re.compile(r"https://.*"), callback=reply)


def secret_of(provider: Provider) -> str:
    (secret,) = saved_secrets(provider)
    return secret


def expected_ids(answer: dict, message_ids: list[str]) -> list[str]:
    names = {f"MID-{i}": message_id for i, message_id in enumerate(message_ids)}
    return [names.get(i, i) for i in answer.get("expect_ids", [])]


@pytest.fixture
def wire(settings):
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = True
    with responses.RequestsMock() as mock:
        yield mock


def test_every_preset_has_answers_to_replay() -> None:
    slugs = {path.parent.name for path in FILES}

    assert slugs == set(presets.BY_SLUG)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [p for p in FILES if answer_file(p)["messages"] == 1],
    ids=fixture_id,
)
def test_a_test_send_ends_as_the_answer_says(wire, path) -> None:
    answer = answer_file(path)
    provider = preset_provider(path.parent.name)
    latest = provider.test_sends.order_by("-pk").values_list("message_id", flat=True)
    replay(wire, answer, lambda: [latest.first()], provider=provider)

    template = dlt_template(provider)
    test = send_test_sms(
        provider=provider,
        sender=None,
        to="+6591234567",
        text="Replayed",
        placeholders=template.placeholders("Replayed", variables_format="json")
        if template
        else None,
    )

    assert test.category == answer["expect"][0]
    if answer.get("expect_ids"):
        assert [test.provider_message_id] == expected_ids(answer, [test.message_id])
    if test.category != Category.ACCEPTED:
        assert not test.succeeded
        assert test.diagnosis
    if answer.get("echoes_secret"):
        assert secret_of(provider) not in test.diagnosis + test.response_excerpt
        # Masked to its last four characters, as everywhere else.
        assert "••••" + secret_of(provider)[-4:] in test.response_excerpt


@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=fixture_id)
def test_a_campaign_ends_as_the_answer_says(wire, path) -> None:
    answer = answer_file(path)
    provider = preset_provider(path.parent.name)
    campaign = campaign_to(numbers(answer["messages"]), message="Replayed")
    campaign.template = dlt_template(provider)
    campaign.save()
    sending.launch(campaign=campaign)
    messages = campaign.messages.order_by("pk")
    ids = list(messages.values_list("message_id", flat=True))
    replay(wire, answer, lambda: ids, provider=provider)

    sending.process_chunk(campaign_id=campaign.pk)

    ended = list(messages.values_list("status", "failure_category"))
    assert [state(c) for c in answer["expect"]] == ended
    assert len(wire.calls) == 1  # one request carried them all
    if answer.get("expect_ids"):
        found = list(messages.values_list("provider_message_id", flat=True))
        assert found == expected_ids(answer, ids)


def state(category: str) -> tuple[str, str]:
    """The (status, failure category) a message ends in after one answer."""
    if category == Category.ACCEPTED:
        return Status.SENT, ""
    if category in TRANSIENT:
        return Status.QUEUED, category  # tried again later
    return Status.FAILED, category


def clevertap_report(event: str, message_id: str) -> list:
    """A CleverTap-format delivery report, as 8x8's partner endpoint posts it."""
    item = {
        "ts": 1733400000,
        "meta": message_id,
        "code": "15" if event == "failed" else "",
    }
    return [{"event": event, "data": [item]}]


@pytest.mark.django_db
def test_delivery_reports_settle_an_unconfirmed_batch_and_retry_leaves_it(
    wire,
) -> None:
    path = ANSWERS / "8x8-clevertap" / "partly_rejected.json"
    provider = preset_provider("8x8-clevertap")
    campaign = campaign_to(numbers(3), message="Replayed")
    sending.launch(campaign=campaign)
    messages = campaign.messages.order_by("pk")
    ids = list(messages.values_list("message_id", flat=True))
    replay(wire, answer_file(path), lambda: ids, provider=provider)
    sending.process_chunk(campaign_id=campaign.pk)

    for event, message_id in (("delivered", ids[0]), ("failed", ids[1])):
        _, updates = parse(clevertap_report(event, message_id))
        tracking.apply_updates(provider=provider, updates=updates)
    retried = actions.retry_failed(campaign=campaign)

    assert list(messages.values_list("status", "failure_category")) == [
        (Status.DELIVERED, ""),
        (Status.FAILED, "undelivered"),
        (Status.FAILED, "unconfirmed"),
    ]
    assert retried == 0  # any of them may have reached its recipient
    assert len(wire.calls) == 1
