"""Delivery reports of messages India's DLT platform blocked (CleverTap's codes
906-909 and 919, or a reason naming DLT) fail with a category and diagnosis of
their own, are never retried, and count as having reached the provider."""

from __future__ import annotations

import json

import pytest
import responses

from campaigns import actions, counts, sending
from campaigns.dlr.tracking import apply_updates
from campaigns.models import Message
from campaigns.stats import campaign_stats
from providers import dlt_failures
from providers.admin.send_test_sms import headline
from providers.dlr import StatusUpdate
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category
from providers.send_test_sms import send_test_sms

from .fake_provider import campaign_to, connect, numbers
from .test_provider_answers import ANSWERS, preset_provider, replay

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"


@pytest.mark.parametrize(
    ("code", "description", "expected"),
    [
        (
            "908",
            "Template blocked by DLT",
            "Blocked by DLT, code 908 (Template blocked by DLT): the template is "
            "blocked or the text does not match it: send the registered text with "
            "only its {#var#} parts changed, under its template ID.",
        ),
        (
            "907",
            "",
            "Blocked by DLT, code 907: the principal entity (PE ID) is not "
            "registered or is blocked: check the entity ID the sender belongs to.",
        ),
        (
            "",
            "REJECTED_DLT_HEADER_NOT_REGISTERED",
            "Blocked by DLT: REJECTED_DLT_HEADER_NOT_REGISTERED. Check the sender "
            "ID, PE ID and template ID registered on the DLT platform.",
        ),
        ("900", "Multiple delivery attempts failed (SPLIT/BOLT)", ""),
        (
            "42",
            "Rejected by DLT scrubbing",
            "Blocked by DLT: Rejected by DLT scrubbing. Check the sender ID, PE ID "
            "and template ID registered on the DLT platform.",
        ),
        ("914", "Undelivered", ""),
    ],
)
def test_a_dlt_refusal_is_told_from_other_failures(code, description, expected) -> None:
    assert dlt_failures.diagnosis(code, description) == expected


def sent_campaign(size: int, on_commit):
    sender = connect(ENDPOINT)
    campaign = campaign_to(numbers(size))
    with responses.RequestsMock() as wire, on_commit(execute=True):
        wire.post(ENDPOINT, json={"id": "p-1"})
        sending.launch(campaign=campaign)
    return sender, campaign


def report(sender, message: Message, code: str, description: str) -> None:
    update = StatusUpdate(
        message_id=message.message_id,
        state="failed",
        error_code=code,
        description=description,
    )
    apply_updates(provider=sender.provider, updates=[update])


def test_a_message_blocked_by_dlt_fails_as_such_and_is_not_retried(
    django_capture_on_commit_callbacks,
) -> None:
    sender, campaign = sent_campaign(2, django_capture_on_commit_callbacks)
    blocked, undelivered = campaign.messages.order_by("pk")

    report(sender, blocked, "908", "Template blocked by DLT")
    report(sender, undelivered, "914", "Undelivered")

    blocked.refresh_from_db()
    assert (blocked.status, blocked.failure_category) == ("failed", "dlt")
    assert blocked.failure_reason.startswith("Blocked by DLT, code 908")
    assert blocked.delivery_error_code == "908"
    assert blocked.get_failure_category_display() == "Blocked by DLT (India)"
    counters = counts.read([campaign.pk])[campaign.pk]
    assert counters[counts.key(Message.Status.FAILED, "dlt")] == 1
    assert not actions.retryable(campaign).exists()
    assert actions.retry_failed(campaign=campaign) == 0
    # Both reached the provider, neither was delivered.
    assert campaign_stats(campaign)["delivery_rate"] == 0.0
    shown = {f["failure_category"]: f for f in campaign_stats(campaign)["failures"]}
    assert shown["dlt"]["failure_label"] == "Blocked by DLT (India)"
    assert shown["dlt"]["failure_reason"] == blocked.failure_reason
    assert shown["undelivered"]["failure_reason"] == "Undelivered"


def test_send_test_sms_names_a_dlt_refusal_in_its_headline() -> None:
    test = SentTest(
        category=Category.ACCEPTED,
        delivery_state="failed",
        delivery_error_code="906",
        delivery_description="Blocked by DLT",
    )

    shown = headline(test)

    assert not shown.ok
    assert shown.text == (
        "Accepted — Blocked by DLT, code 906 (Blocked by DLT): check that the sender "
        "ID (header), its PE ID and the template are registered and approved on the "
        "DLT platform."
    )


def test_a_send_the_provider_refuses_for_dlt_fails_as_blocked_by_dlt(
    settings,
) -> None:
    # Infobip's documented rejection, with a reason that names DLT (synthetic:
    # Infobip documents no DLT-specific text).
    answer = json.loads((ANSWERS / "infobip" / "rejected.json").read_text())
    status = answer["body"]["messages"][0]["status"]
    status["description"] = "Blocked by DLT: template not registered"
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = True
    provider = preset_provider("infobip")
    latest = provider.test_sends.order_by("-pk").values_list("message_id", flat=True)

    with responses.RequestsMock() as wire:
        replay(wire, answer, lambda: [latest.first()], provider=provider)
        test = send_test_sms(
            provider=provider, sender=None, to="+6591234567", text="Hi"
        )

    assert test.category == Category.DLT
    assert test.diagnosis.endswith(
        "refused the message: Blocked by DLT: messages.0.status.groupName is "
        "'REJECTED' (Blocked by DLT: template not registered). Check the sender "
        "ID, PE ID and template ID registered on the DLT platform."
    )
    assert headline(test).text.startswith("Rejected by the provider: Blocked by DLT")
