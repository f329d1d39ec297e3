"""Inbound replies arriving at /inbound/<token>/ and at the callback URL: the
providers' own payloads (tests/fixtures/inbound/) kept and acted on, delivery
reports left to the delivery-report path, and every bad reply answered with a
clear 4xx and logged, never a 500. On SQLite and PostgreSQL (conftest.py)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from campaigns.dlr.applying import apply_waiting
from campaigns.models import DeliveryReport, InboundMessage, OptOut
from providers.models import Provider, Sender

from ..fake_provider import accepted_test_send
from ..untrusted_bodies import BODIES, CONTENT_TYPES, FUZZ

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FORM = "application/x-www-form-urlencoded"
TWILIO_SID = "SM3f9b2c7e1a4d4e8f9c0b6a2d5e7f1c38"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def eight_by_eight(**payload: str) -> bytes:
    """8x8's documented inbound body, with some of its payload replaced."""
    body = json.loads(raw("inbound/8x8_inbound.json"))
    body["payload"].update(payload)
    return json.dumps(body).encode()


def inbound_url(provider: Provider) -> str:
    return f"/inbound/{provider.callback_token}/"


def callback_url(provider: Provider) -> str:
    return f"/dlr/{provider.callback_token}/"


@pytest.fixture
def twilio(provider) -> Provider:
    """A provider whose replies are Twilio's form, as Map automatically maps it,
    and whose delivery reports are Twilio's status callbacks."""
    provider.inbound_from_path = "From"
    provider.inbound_to_path = "To"
    provider.inbound_text_path = "Body"
    provider.inbound_id_path = "MessageSid"
    provider.dlr_provider_id_path = "MessageSid"
    provider.dlr_status_path = "MessageStatus"
    provider.dlr_status_values = {"delivered": "delivered"}
    provider.save()
    return provider


def refused_and_logged(response, *, status: int = 400) -> DeliveryReport:
    assert response.status_code == status
    assert response.json()["status"] == "fail"
    stored = DeliveryReport.objects.get()
    assert stored.state == DeliveryReport.State.REFUSED
    assert stored.response_status == status
    assert stored.format == "inbound"
    assert stored.result == response.json()["error"]
    assert not InboundMessage.objects.exists()
    return stored


# --- the providers' own payloads ------------------------------------------------------


def test_8x8s_inbound_webhook_is_kept_without_a_mapping(client, provider) -> None:
    response = client.post(
        inbound_url(provider),
        eight_by_eight(body="STOP"),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "processed": 1,
        "unprocessed": [],
        "duplicates": 0,
    }
    reply = InboundMessage.objects.get()
    assert (reply.provider, reply.from_number, reply.to_number) == (
        provider,
        "+6581968289",
        "+4534735477",
    )
    assert (reply.text, reply.keyword, reply.action) == ("STOP", "STOP", "opt_out")
    assert reply.provider_message_id == "9e09ac86-bd74-5465-851d-1eb5a5fdbb9a"
    assert reply.sent_at.isoformat() == "2016-01-01T14:34:56.017000+00:00"
    assert json.loads(reply.body)["eventType"] == "inbound_message_received"
    assert OptOut.objects.get().to == "+6581968289"


def test_8x8s_inbound_webhook_on_the_callback_url_is_a_reply_not_a_report(
    client, provider
) -> None:
    response = client.post(
        callback_url(provider),
        raw("inbound/8x8_inbound.json"),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["processed"] == 1
    assert InboundMessage.objects.get().text == "Test MO message"
    assert not DeliveryReport.objects.exists()
    assert not OptOut.objects.exists()  # "Test MO message" is no keyword


def test_one_callback_url_takes_twilios_replies_and_its_status_callbacks(
    client, twilio
) -> None:
    sent = accepted_test_send(
        twilio, "4b1d7e0c9a2f4e6b8d3c5a7f1e9b2d40", "SM5d0f8a3c1e7b4926a8c0d4e2f6b1a937"
    )

    reply = client.post(
        callback_url(twilio), raw("inbound/twilio_inbound.txt"), content_type=FORM
    )
    report = client.post(
        callback_url(twilio), raw("dlr/twilio_delivered.txt"), content_type=FORM
    )
    apply_waiting()

    assert reply.status_code == report.status_code == 200
    stored = InboundMessage.objects.get()
    assert (stored.from_number, stored.text) == ("+6591000000", "STOP")
    assert stored.provider_message_id == TWILIO_SID
    assert DeliveryReport.objects.get().format == "mapped"
    sent.refresh_from_db()
    assert sent.delivery_state == "delivered"


def test_a_report_that_echoes_the_number_and_text_is_still_a_report(
    client, provider
) -> None:
    # Kannel-style reports carry the message's sender and text as well as
    # its status: the status the report mapping knows decides.
    provider.inbound_from_path = "from"
    provider.inbound_text_path = "text"
    provider.dlr_id_path = "reference"
    provider.dlr_status_path = "status"
    provider.dlr_status_values = {"DELIVRD": "delivered"}
    provider.save()
    sent = accepted_test_send(provider, "c4e8a1f6d3b94072a5e1c9d8b6f0a2e3")
    report = {"reference": sent.message_id, "status": "DELIVRD", "from": "ACME"}
    reply = {"from": "+6591000001", "text": "STOP", "status": "received"}

    for body in ({**report, "text": "Your code is 1234"}, reply):
        response = client.post(
            callback_url(provider), json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
    apply_waiting()

    sent.refresh_from_db()
    assert sent.delivery_state == "delivered"
    assert InboundMessage.objects.get().text == "STOP"
    assert DeliveryReport.objects.get().format == "mapped"


def test_a_reply_the_provider_sends_again_is_kept_once(client, twilio) -> None:
    first = client.post(
        inbound_url(twilio), raw("inbound/twilio_inbound.txt"), content_type=FORM
    )
    again = client.post(
        inbound_url(twilio), raw("inbound/twilio_inbound.txt"), content_type=FORM
    )

    assert first.json()["processed"] == 1
    assert again.status_code == 200
    assert (again.json()["processed"], again.json()["duplicates"]) == (0, 1)
    assert InboundMessage.objects.count() == 1
    assert OptOut.objects.count() == 1


def test_a_get_reply_is_read_from_its_query_string(client, twilio) -> None:
    query = raw("inbound/twilio_inbound.txt").decode()

    response = client.get(f"{inbound_url(twilio)}?{query}")

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "STOP"


def test_every_reply_of_an_infobip_callback_is_kept(client, provider) -> None:
    provider.inbound_from_path = "results.0.from"
    provider.inbound_to_path = "results.0.to"
    provider.inbound_text_path = "results.0.text"
    provider.inbound_id_path = "results.0.messageId"
    provider.save()

    response = client.post(
        inbound_url(provider),
        raw("inbound/infobip_inbound.json"),
        content_type="application/json",
    )

    assert response.json()["processed"] == 2
    replies = InboundMessage.objects.order_by("pk")
    assert [(r.from_number, r.action) for r in replies] == [
        ("+6591000002", "opt_out"),
        ("+6591000003", ""),
    ]
    assert list(OptOut.objects.values_list("to", flat=True)) == ["+6591000002"]


def test_a_reply_from_a_number_never_messaged_is_still_listed(client, twilio) -> None:
    body = raw("inbound/twilio_inbound.txt").replace(b"Body=STOP", b"Body=Who+is+this")

    client.post(inbound_url(twilio), body, content_type=FORM)

    reply = InboundMessage.objects.get()
    assert (reply.from_number, reply.text) == ("+6591000000", "Who is this")
    assert (reply.campaign, reply.last_message_id, reply.action) == (None, "", "")


def test_a_reply_is_kept_against_the_sender_whose_number_it_was_sent_to(
    client, twilio
) -> None:
    Sender.objects.create(provider=twilio, name="Shop", sender_id="ACME")
    virtual = Sender.objects.create(
        provider=twilio, name="Offers", sender_id="+65 6000 1234"
    )

    client.post(
        inbound_url(twilio), raw("inbound/twilio_inbound.txt"), content_type=FORM
    )

    reply = InboundMessage.objects.get()
    assert reply.sender == virtual
    assert OptOut.objects.get().source == "reply STOP to +6560001234"


def test_a_nul_in_a_reply_is_dropped_so_postgresql_keeps_it(client, twilio) -> None:
    body = raw("inbound/twilio_inbound.txt").replace(b"Body=STOP", b"Body=ST%00OP")

    response = client.post(inbound_url(twilio), body, content_type=FORM)

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "STOP"


# --- bad replies: a clear 4xx, logged, never a 500 ------------------------------------


def test_a_reply_to_a_provider_without_an_inbound_mapping_is_refused(
    client, provider, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="campaigns.dlr.views"):
        response = client.post(
            inbound_url(provider), raw("inbound/twilio_inbound.txt"), content_type=FORM
        )

    stored = refused_and_logged(response)
    assert stored.result.startswith("Unrecognised reply: it is not 8x8's inbound")
    assert "Body=STOP" in stored.body
    assert "Refused an inbound reply" in caplog.text


def test_a_delivery_report_at_the_inbound_url_is_refused(client, twilio) -> None:
    response = client.post(
        inbound_url(twilio), raw("dlr/twilio_delivered.txt"), content_type=FORM
    )

    stored = refused_and_logged(response)
    assert (
        stored.result
        == "Not a reply: no sender's number at “From” or no text at “Body”."
    )


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b'{"From": {"n": 1}, "Body": "STOP"}',
            "application/json",
            "should hold the sender's number",
        ),
        (
            b'{"From": " ", "Body": "STOP"}',
            "application/json",
            "No sender's number at “From”.",
        ),
        (
            b'{"From": "+6591000000", "Body": "STOP"',
            "application/json",
            "not valid JSON",
        ),
        (b"", FORM, "The callback is empty."),
        (b"\xff\xfe", "text/plain", "Unsupported content type"),
    ],
)
def test_an_unreadable_reply_is_refused_with_its_reason(
    client, twilio, body: bytes, content_type: str, reason: str
) -> None:
    response = client.post(inbound_url(twilio), body, content_type=content_type)

    assert reason in refused_and_logged(response).result


def test_an_unreadable_reply_at_the_callback_url_is_logged_as_a_reply(
    client, twilio
) -> None:
    response = client.post(
        callback_url(twilio),
        b'{"From": ["+6591000000"], "Body": "STOP"}',
        content_type="application/json",
    )

    assert "should hold the sender's number" in refused_and_logged(response).result


def test_a_reply_over_the_size_limit_is_refused_413(client, twilio, settings) -> None:
    settings.DLR_MAX_BODY_BYTES = 100

    response = client.post(
        inbound_url(twilio), raw("inbound/twilio_inbound.txt"), content_type=FORM
    )

    assert refused_and_logged(response, status=413).result == (
        "The body is larger than 100 bytes."
    )


def test_a_reply_needs_the_callback_credentials_when_there_are_some(
    client, twilio
) -> None:
    twilio.dlr_credentials = "ops:secret1"
    twilio.save()
    body = raw("inbound/twilio_inbound.txt")

    refused = client.post(inbound_url(twilio), body, content_type=FORM)
    refused_and_logged(refused, status=401)
    token = base64.b64encode(b"ops:secret1").decode()
    taken = client.post(
        inbound_url(twilio),
        body,
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Basic {token}",
    )

    assert refused["WWW-Authenticate"].startswith("Basic realm=")
    assert taken.status_code == 200
    assert InboundMessage.objects.count() == 1


def test_an_unknown_inbound_url_is_404(client, provider) -> None:
    response = client.post(
        "/inbound/not-a-token/", b"{}", content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json() == {"status": "fail", "error": "Unknown inbound URL."}


def test_the_inbound_url_rotates_with_the_callback_url(client, provider) -> None:
    old = inbound_url(provider)
    # Rotated over a day ago: the old URL's grace period is over.
    provider.rotate_callback_token(now=timezone.now() - timedelta(hours=25))
    provider.refresh_from_db()

    assert provider.inbound_url.endswith(inbound_url(provider))
    assert (
        client.post(old, eight_by_eight(), content_type="application/json").status_code
        == 404
    )
    assert (
        client.post(
            inbound_url(provider), eight_by_eight(), content_type="application/json"
        ).status_code
        == 200
    )


@FUZZ
@given(body=BODIES, content_type=st.sampled_from(CONTENT_TYPES), get=st.booleans())
def test_no_reply_gets_a_server_error_and_each_is_kept_or_logged(
    client, twilio, body: bytes, content_type: str, get: bool
) -> None:
    before = InboundMessage.objects.count() + DeliveryReport.objects.count()

    if get:
        response = client.generic(
            "GET", f"{inbound_url(twilio)}?{body.decode('latin-1')}"
        )
    else:
        response = client.post(inbound_url(twilio), body, content_type=content_type)

    assert response.status_code in (200, 400, 413)
    assert response.json()["status"] in ("success", "fail")
    after = InboundMessage.objects.count() + DeliveryReport.objects.count()
    assert after > before or response.json().get("duplicates")


def test_the_database_keeps_one_reply_per_provider_id(provider) -> None:
    # What a second process saving the same reply meanwhile runs into.
    InboundMessage.objects.create(provider=provider, provider_message_id="SM1")
    InboundMessage.objects.create(provider=provider)  # no id: never a duplicate
    InboundMessage.objects.create(provider=provider)

    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessage.objects.create(provider=provider, provider_message_id="SM1")
    assert InboundMessage.objects.count() == 3
