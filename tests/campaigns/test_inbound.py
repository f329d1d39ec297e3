"""Inbound replies meeting the campaigns: a generic provider set up through its
screen, its inbound mapping proposed by Map automatically from Twilio's
documented inbound form, sending to a fake provider over real HTTP
(fake_provider.py). STOP and START change the opt-out list and what the next
promotional campaign sends; auto-replies go out through the one pipeline, once,
and never loop; CleverTap's replied events take the same keywords."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import inbound, sending
from campaigns.dlr.applying import apply_waiting
from campaigns.models import Campaign, InboundMessage, Message, OptOut
from providers.forms.setup import FORMS
from providers.models import Provider, Sender
from providers.sandbox.demo import form_data

from .fake_provider import SINGLE_PAYLOAD, always, campaign_to, fail, numbers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OUR_NUMBER = "+6560001234"
PROMOTIONAL = Sender.SenderType.PROMOTIONAL
Status = Message.Status
ReplyStatus = InboundMessage.ReplyStatus
PROPOSE_INBOUND = reverse("admin:providers_provider_propose_inbound_mapping")


def twilio_reply(*, from_number: str, text: str, to: str = OUR_NUMBER) -> bytes:
    """Twilio's inbound form (tests/fixtures/inbound/), from another number,
    with another text and a message sid of its own."""
    fields = dict(parse_qsl((FIXTURES / "inbound" / "twilio_inbound.txt").read_text()))
    sid = "SM" + uuid.uuid4().hex
    fields.update(
        From=from_number,
        To=to,
        Body=text,
        MessageSid=sid,
        SmsSid=sid,
        SmsMessageSid=sid,
    )
    return urlencode(fields).encode()


def reply(client, provider: Provider, *, from_number: str, text: str, **kw):
    response = client.post(
        f"/inbound/{provider.callback_token}/",
        twilio_reply(from_number=from_number, text=text, **kw),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    return response


def generic_provider(admin_client, url: str, **sender: str) -> Provider:
    """A CleverTap-style generic provider at `url`, saved through its setup
    screen with the inbound mapping Map automatically proposes for Twilio."""
    sample = (FIXTURES / "inbound" / "twilio_inbound.txt").read_text()
    proposed = admin_client.post(PROPOSE_INBOUND, {"sample": sample}).json()
    assert proposed["ok"], proposed
    initial = {
        "nickname": "Generic SMS",
        "method": "POST",
        "endpoint": url,
        "authentication": "none",
        "body_type": "json",
        "payload": SINGLE_PAYLOAD,
        "headers": [
            {"name": "Content-Type", "value": "application/json", "secret": False}
        ],
        "number_format": "e164",
        "message_id_path": "id",
        "batch_size": "1000",
        "is_active": True,
        "sender_id": OUR_NUMBER,
        "sender_type": PROMOTIONAL,
        "is_default": True,
        "inbound_sample": sample,
        **proposed["mapping"],
    }
    form = FORMS["clevertap"](form_data(initial), instance=Provider())
    assert form.is_valid(), form.errors
    provider = form.save()
    Sender.objects.filter(provider=provider).update(**sender)
    return provider


def launched(audience: list[str], name: str) -> Campaign:
    campaign = campaign_to(audience, sender_type=PROMOTIONAL, name=name)
    sending.launch(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def statuses(campaign: Campaign) -> Counter:
    return Counter(campaign.messages.values_list("status", flat=True))


def posted_to(fake_provider, since: int = 0) -> list[str]:
    return sorted(r.records[0]["to"] for r in fake_provider.requests[since:])


# --- STOP and START, and what the next campaign sends ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_stop_and_start_through_a_mapped_generic_provider_change_the_next_campaign(
    admin_client, client, fake_provider
) -> None:
    provider = generic_provider(admin_client, fake_provider.url)
    audience = numbers(3)
    first = launched(audience, "May offers")
    assert posted_to(fake_provider) == audience

    reply(client, provider, from_number=audience[1], text=" Stop ")

    assert OptOut.objects.get().to == audience[1]
    stop = InboundMessage.objects.get()
    assert (stop.keyword, stop.action, stop.note) == (
        "STOP",
        "opt_out",
        "Added to the opt-out list.",
    )
    assert stop.sender == provider.primary_sender
    assert stop.campaign == first
    assert stop.last_message_id == first.messages.get(to=audience[1]).message_id

    before = len(fake_provider.requests)
    second = launched(audience, "June offers")

    assert statuses(second) == {Status.SENT: 2, Status.SKIPPED: 1}
    assert second.messages.get(status=Status.SKIPPED).to == audience[1]
    assert posted_to(fake_provider, before) == [audience[0], audience[2]]

    reply(client, provider, from_number=audience[1], text="START")

    assert not OptOut.objects.exists()
    start = InboundMessage.objects.latest("pk")
    assert (start.keyword, start.action) == ("START", "opt_in")
    assert start.note.startswith("Taken off the opt-out list (added ")
    assert start.note.endswith("by reply STOP to +6560001234).")
    # The June message to it was skipped, so May's is the last one it got.
    assert start.campaign == first

    before = len(fake_provider.requests)
    third = launched(audience, "July offers")

    assert statuses(third) == {Status.SENT: 3}
    assert posted_to(fake_provider, before) == audience


@pytest.mark.django_db(transaction=True)
def test_start_takes_off_an_opt_out_added_by_hand(
    admin_client, client, fake_provider
) -> None:
    provider = generic_provider(admin_client, fake_provider.url)
    OptOut.objects.create(to="+6591000009", source="admin")

    reply(client, provider, from_number="6591000009", text="unstop")

    assert not OptOut.objects.exists()
    assert "by admin)" in InboundMessage.objects.get().note


# --- auto-replies ---------------------------------------------------------------------

GOODBYE = "You will get no more offers from ACME. Reply START to opt back in."
WELCOME = "Welcome back to ACME offers."


@pytest.mark.django_db(transaction=True)
def test_an_opt_out_is_answered_through_the_pipeline_once(
    admin_client, client, fake_provider
) -> None:
    provider = generic_provider(admin_client, fake_provider.url, opt_out_reply=GOODBYE)

    reply(client, provider, from_number="+6591000001", text="STOP")

    stop = InboundMessage.objects.get()
    [sent] = fake_provider.requests
    assert sent.json == {
        "from": OUR_NUMBER,
        "to": "+6591000001",
        "text": GOODBYE,
        "mid": stop.reply_message_id,
    }
    assert stop.reply_status == ReplyStatus.SENT
    assert stop.reply_text == GOODBYE
    assert stop.reply_provider_message_id == "p-" + stop.reply_message_id
    assert stop.replied_at is not None
    # A reply to the auto-reply's sender is no campaign message: it sent none.
    assert not Message.objects.exists()
    assert inbound.send_auto_reply(inbound_id=stop.pk) == ""  # never twice
    assert len(fake_provider.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_one_number_gets_at_most_the_daily_number_of_auto_replies(
    admin_client, client, fake_provider, settings
) -> None:
    settings.INBOUND_AUTO_REPLIES_PER_DAY = 1
    provider = generic_provider(
        admin_client, fake_provider.url, opt_out_reply=GOODBYE, opt_in_reply=WELCOME
    )

    reply(client, provider, from_number="+6591000001", text="STOP")
    reply(client, provider, from_number="+6591000001", text="START")
    reply(client, provider, from_number="+6591000002", text="START")

    stop, start, other = InboundMessage.objects.order_by("pk")
    assert stop.reply_status == ReplyStatus.SENT
    assert (start.reply_status, start.reply_text) == (ReplyStatus.HELD, WELCOME)
    assert start.reply_note == (
        "The number was answered once in the last 24 hours, as often as "
        "INBOUND_AUTO_REPLIES_PER_DAY allows."
    )
    assert start.action == "opt_in"  # the keyword still counts
    assert other.reply_status == ReplyStatus.SENT
    assert [r.json["to"] for r in fake_provider.requests] == [
        "+6591000001",
        "+6591000002",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_reply_from_one_of_our_own_numbers_is_never_answered(
    admin_client, client, fake_provider
) -> None:
    provider = generic_provider(admin_client, fake_provider.url, opt_out_reply=GOODBYE)

    reply(client, provider, from_number=OUR_NUMBER, text="STOP")

    held = InboundMessage.objects.get()
    assert held.reply_status == ReplyStatus.HELD
    assert held.reply_note == "The reply came from one of smsbridge's own numbers."
    assert fake_provider.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_reply_that_is_one_of_our_auto_replies_is_never_answered(
    admin_client, client, fake_provider
) -> None:
    # Another smsbridge (or ours, on another sender) says "Bye!" when it opts a
    # number out; this sender takes "bye" as a keyword and would answer it.
    provider = generic_provider(
        admin_client,
        fake_provider.url,
        opt_out_keywords="STOP, BYE",
        opt_out_reply=GOODBYE,
    )
    Sender.objects.create(provider=provider, name="Other", opt_out_reply="Bye!")

    reply(client, provider, from_number="+6591000001", text="bye")

    held = InboundMessage.objects.get()
    assert held.action == "opt_out"
    assert held.reply_status == ReplyStatus.HELD
    assert held.reply_note == "The reply is one of smsbridge's own auto-replies."
    assert fake_provider.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_auto_reply_is_recorded_and_not_retried(
    admin_client, client, fake_provider
) -> None:
    fake_provider.plan = always(fail(500))
    provider = generic_provider(admin_client, fake_provider.url, opt_out_reply=GOODBYE)

    reply(client, provider, from_number="+6591000001", text="STOP")

    failed = InboundMessage.objects.get()
    assert failed.reply_status == ReplyStatus.FAILED
    assert "500" in failed.reply_note
    assert len(fake_provider.requests) == 1
    assert OptOut.objects.get().to == "+6591000001"  # the opt-out stands


@pytest.mark.django_db
def test_an_auto_reply_the_worker_never_got_is_sent_by_the_sweeper(
    admin_client, client, fake_provider
) -> None:
    # Inside the test's transaction nothing is committed, so no task is queued:
    # as if the broker had been away.
    provider = generic_provider(admin_client, fake_provider.url, opt_out_reply=GOODBYE)
    reply(client, provider, from_number="+6591000001", text="STOP")
    waiting = InboundMessage.objects.get()
    assert waiting.reply_status == ReplyStatus.DUE

    assert inbound.send_waiting_replies() == 0  # not yet a minute old
    assert inbound.send_waiting_replies(now=timezone.now() + timedelta(minutes=2)) == 1

    waiting.refresh_from_db()
    assert waiting.reply_status == ReplyStatus.SENT
    assert [r.json["text"] for r in fake_provider.requests] == [GOODBYE]


# --- CleverTap's replied events: the same keywords ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_clevertap_reply_goes_through_the_senders_keywords(
    admin_client, client, fake_provider
) -> None:
    provider = generic_provider(
        admin_client, fake_provider.url, opt_out_keywords="ARRET", opt_in_keywords=""
    )
    campaign = launched(numbers(1), "Offres")
    message = campaign.messages.get()
    groups = json.loads((FIXTURES / "dlr" / "clevertap_replied.json").read_text())
    groups[0]["data"][0]["meta"] = message.message_id

    for text in ("STOP", "Arret"):
        groups[0]["data"][0]["incomingText"] = text
        client.post(
            f"/dlr/{provider.callback_token}/",
            json.dumps(groups),
            content_type="application/json",
        )
        apply_waiting()

    not_a_keyword, arret = InboundMessage.objects.order_by("pk")
    assert (not_a_keyword.text, not_a_keyword.action) == ("STOP", "")
    assert (arret.keyword, arret.action) == ("ARRET", "opt_out")
    assert (arret.from_number, arret.to_number) == (message.to, "5555")
    assert (arret.campaign, arret.last_message_id) == (campaign, message.message_id)
    assert arret.sender == provider.primary_sender
    assert OptOut.objects.get().source == "reply ARRET to 5555"


@pytest.mark.django_db
def test_a_clevertap_reply_to_an_unknown_message_is_still_listed(client) -> None:
    provider = Provider.objects.create(nickname="CT", endpoint="https://8.8.8.8/x")
    groups = (FIXTURES / "dlr" / "clevertap_replied.json").read_bytes()

    client.post(
        f"/dlr/{provider.callback_token}/", groups, content_type="application/json"
    )
    apply_waiting()

    listed = InboundMessage.objects.get()
    assert (listed.from_number, listed.text, listed.keyword) == ("", "STOP", "STOP")
    assert listed.action == ""
    assert (
        listed.note == "Not a number smsbridge can read: the opt-out list is as it was."
    )
    assert not OptOut.objects.exists()
