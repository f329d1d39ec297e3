"""Inbound replies forwarded by the status webhooks: a STOP from a number an
API token's event messaged reaches that token's webhook and the one of every
token, signed as status events are, and matches the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings
from jsonschema import validate
from openapi_core import OpenAPI

from campaigns.models import InboundMessage, Message, OptOut, WebhookDelivery

from .conftest import NUMBER, OTP, hooked

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "inbound"
pytestmark = pytest.mark.django_db


def eight_by_eight_reply(*, source: str, body: str) -> bytes:
    """8x8's documented inbound webhook, from `source`."""
    data = json.loads((FIXTURES / "8x8_inbound.json").read_text())
    data["payload"] |= {"source": source, "body": body, "umid": f"mo-{body}"}
    return json.dumps(data).encode()


def replied(client, provider, body: bytes, capture):
    with capture(execute=True):
        return client.post(
            f"/inbound/{provider.callback_token}/",
            data=body,
            content_type="application/json",
        )


@override_settings(PUBLIC_BASE_URL="http://testserver")
def test_a_stop_reply_reaches_the_token_webhook_and_the_global_one_signed(
    client,
    post,
    api_token,
    campaign,
    provider,
    wire,
    django_capture_on_commit_callbacks,
) -> None:
    with hooked(api_token) as (_, mine), hooked(None) as (_, everyone):
        post(OTP)
        message = Message.objects.get()
        answer = replied(
            client,
            provider,
            eight_by_eight_reply(source=NUMBER, body=" stop "),
            django_capture_on_commit_callbacks,
        )

    assert answer.status_code == 200, answer.content
    assert OptOut.objects.filter(to=NUMBER).exists()
    inbound = InboundMessage.objects.get()
    for receiver in (mine, everyone):
        assert receiver.refused == []
        replies = [e for e in receiver.events if e["type"] == "message.reply"]
        assert len(replies) == 1
        event = replies[0]
        assert event["reply"] == {
            "id": inbound.pk,
            "from": NUMBER,
            "to": inbound.to_number,
            "text": " stop ",
            "received_at": inbound.received_at.isoformat(),
            "provider": "Example SMS",
            "campaign": "OTP",
            "in_reply_to": message.message_id,
            "keyword": "STOP",
            "action": "opt_out",
        }
    document = client.get("/api/v1/openapi.json").json()
    OpenAPI.from_dict(document)  # the contract, replies' webhook included, is valid
    validate(event, document["components"]["schemas"]["ReplyEvent"])
    assert set(WebhookDelivery.objects.filter(reply=inbound).values_list("status")) == {
        ("delivered",)
    }


def test_a_reply_from_a_number_no_token_messaged_reaches_only_the_global_webhook(
    client, api_token, provider, django_capture_on_commit_callbacks
) -> None:
    with hooked(api_token) as (_, mine), hooked(None) as (_, everyone):
        replied(
            client,
            provider,
            eight_by_eight_reply(source="+6590000001", body="hello"),
            django_capture_on_commit_callbacks,
        )

    assert [e["type"] for e in mine.events] == []
    assert [e["reply"]["text"] for e in everyone.events] == ["hello"]
    assert everyone.events[0]["reply"]["in_reply_to"] is None


def test_no_webhook_no_delivery(client, provider, django_capture_on_commit_callbacks):
    replied(
        client,
        provider,
        eight_by_eight_reply(source="+6590000001", body="hello"),
        django_capture_on_commit_callbacks,
    )
    assert InboundMessage.objects.count() == 1
    assert not WebhookDelivery.objects.exists()
