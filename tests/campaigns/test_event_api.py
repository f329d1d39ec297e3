"""The event API: POST /api/v1/events and GET /api/v1/messages/<id>.

Events go through the real workflow: Celery runs eagerly in tests, so the
on-commit wake-up sends at once, and the provider is mocked at the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.utils import timezone

from campaigns.events import MissingProperties, UnknownEvent, trigger_event
from campaigns.models import ApiToken, Campaign, Message, OptOut
from campaigns.sending import launch
from providers.models import Provider, Sender

from .conftest import EVENTS

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"
NUMBER = "+6591234567"


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(ENDPOINT, json={"id": "prov-1"})
        yield mock


@pytest.fixture
def provider() -> Provider:
    return Provider.objects.create(
        nickname="Example SMS",
        endpoint=ENDPOINT,
        payload='{"to": "$$To", "text": "$$Body", "id": "$$MessageID"}',
        message_id_path="id",
    )


@pytest.fixture
def sender(provider) -> Sender:
    return Sender.objects.create(
        provider=provider,
        name="OTP",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        is_default=True,
    )


def event_campaign(**fields: Any) -> Campaign:
    return Campaign.objects.create(
        **{
            "name": "OTP",
            "kind": Campaign.Kind.EVENT,
            "event_name": "otp_requested",
            "sender_type": Sender.SenderType.TRANSACTIONAL,
            "message": "Your code is $$code",
            "status": Campaign.Status.SENDING,
            **fields,
        }
    )


@pytest.fixture
def campaign(sender) -> Campaign:
    return event_campaign()


OTP = {"event": "otp_requested", "to": NUMBER, "properties": {"code": "123456"}}


# --- POST /api/v1/events: success -------------------------------------------------


def test_it_sends_an_event_message_and_answers_202(post, campaign, wire) -> None:
    response = post(OTP)

    message = Message.objects.get()
    assert response.status_code == 202
    assert response.json() == {
        "messages": [{"id": message.message_id, "campaign": "OTP", "status": "queued"}]
    }
    assert wire.calls[0].request.body == (
        b'{"to":"+6591234567","text":"Your code is 123456","id":"'
        + message.message_id.encode()
        + b'"}'
    )
    assert message.status == Message.Status.SENT
    assert message.provider_message_id == "prov-1"
    assert message.sender.name == "OTP"


def test_it_sends_one_message_per_matching_campaign(post, campaign, wire) -> None:
    event_campaign(name="OTP audit copy", message="Code $$code sent to $$To")

    response = post(OTP)

    ids = [m["id"] for m in response.json()["messages"]]
    bodies = sorted(json.loads(call.request.body)["text"] for call in wire.calls)
    assert response.status_code == 202
    assert len(set(ids)) == 2
    assert bodies == [f"Code 123456 sent to {NUMBER}", "Your code is 123456"]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_it_skips_an_opted_out_number_on_a_promotional_campaign(
    post, provider, wire
) -> None:
    Sender.objects.create(
        provider=provider,
        name="Deals",
        sender_type=Sender.SenderType.PROMOTIONAL,
        is_default=True,
    )
    event_campaign(
        name="Welcome deal",
        event_name="signed_up",
        sender_type=Sender.SenderType.PROMOTIONAL,
        message="Welcome! 10% off",
    )
    OptOut.objects.create(to=NUMBER)

    response = post({"event": "signed_up", "to": NUMBER})

    message = Message.objects.get()
    assert response.status_code == 202
    assert response.json()["messages"][0]["status"] == "skipped"
    assert (message.status, message.failure_category) == ("skipped", "opted_out")
    assert len(wire.calls) == 0


def test_it_still_sends_transactional_messages_to_opted_out_numbers(
    post, campaign, wire
) -> None:
    OptOut.objects.create(to=NUMBER)

    post(OTP)

    assert Message.objects.get().status == Message.Status.SENT
    assert len(wire.calls) == 1


def test_it_reads_a_national_number_with_a_country(post, campaign, wire) -> None:
    response = post({**OTP, "to": "9123 4567", "country": "sg"})

    assert response.status_code == 202
    assert Message.objects.get().to == NUMBER


def test_it_records_when_the_token_was_last_used(post, campaign, wire) -> None:
    post(OTP)

    used = ApiToken.objects.get().last_used_at
    assert used is not None
    assert timezone.now() - used < timedelta(seconds=5)


def test_it_sends_for_a_campaign_once_it_is_launched(
    post, sender, wire, django_capture_on_commit_callbacks
) -> None:
    draft = event_campaign(status=Campaign.Status.DRAFT)
    assert post(OTP).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        queued = launch(campaign=draft)
    response = post(OTP)

    draft.refresh_from_db()
    assert (queued, draft.status) == (0, Campaign.Status.SENDING)
    assert response.status_code == 202
    assert Message.objects.get().status == Message.Status.SENT


def test_it_ignores_campaigns_that_are_not_sending(post, sender, wire) -> None:
    event_campaign(status=Campaign.Status.DRAFT)
    event_campaign(status=Campaign.Status.CANCELLED)

    response = post(OTP)

    assert response.status_code == 404
    assert not Message.objects.exists()


# --- POST /api/v1/events: refusals -------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ("", "Send an API token as “Authorization: Bearer <token>”."),
        ("Basic dXNlcjpwYXNz", "Send an API token as “Authorization: Bearer <token>”."),
        ("Bearer sb_not-a-token", "The API token is unknown or deactivated."),
    ],
)
def test_it_refuses_a_missing_or_wrong_token(post, campaign, auth, reason) -> None:
    response = post(OTP, auth=auth or " ")

    assert response.status_code == 401
    assert response.json() == {"error": reason}
    assert response["WWW-Authenticate"] == 'Bearer realm="smsbridge"'
    assert not Message.objects.exists()


def test_it_refuses_a_deactivated_token(post, campaign, token) -> None:
    ApiToken.objects.update(is_active=False)

    response = post(OTP)

    assert response.status_code == 401
    assert response.json() == {"error": "The API token is unknown or deactivated."}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "The body is not valid JSON: "),
        (b"", "The body is not valid JSON: "),
        (b"\xff\xfe\x00", "Byte 3 of the body cannot be read; send UTF-8 JSON."),
        (b'{"event": "otp\xff"}', "Byte 15 of the body cannot be read"),
        (b"[" * 60_000, "The body is not accepted: The JSON nests more than 32"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "The body is not accepted: The JSON nests"),
        (b'{"event": NaN}', "The body is not valid JSON: NaN is not a JSON value."),
        (b'"otp_requested"', "The body must be a JSON object."),
        (b"null", "The body must be a JSON object."),
        (b'["otp_requested"]', "The body must be a JSON object."),
    ],
)
def test_it_refuses_a_body_that_is_not_a_json_object(
    post, campaign, raw, reason
) -> None:
    response = post(None, raw=raw)

    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"to": NUMBER},
            {"error": "“event” is required and must be a string.", "field": "event"},
        ),
        (
            {"event": "otp_requested"},
            {"error": "“to” is required and must be a string.", "field": "to"},
        ),
        (
            {"event": 7, "to": NUMBER},
            {"error": "“event” is required and must be a string.", "field": "event"},
        ),
        (
            {**OTP, "properties": ["123456"]},
            {"error": "“properties” must be a JSON object.", "field": "properties"},
        ),
        (
            {**OTP, "properties": {"code": {"value": 1}}},
            {
                "error": "The property “code” must be a string or a number.",
                "field": "properties",
            },
        ),
        (
            {**OTP, "properties": {"code": "12\x0034"}},
            {
                "error": "“properties” must not contain NUL characters.",
                "field": "properties",
            },
        ),
        (
            {**OTP, "country": 65},
            {"error": "“country” must be a string.", "field": "country"},
        ),
    ],
)
def test_it_refuses_a_malformed_event(post, campaign, body, error) -> None:
    response = post(body)

    assert response.status_code == 400
    assert response.json() == error
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {**OTP, "to": "91234567"},
            {
                "error": "“91234567” has no country code; write it in international "
                "format with a leading + (e.g. +6591234567).",
                "field": "to",
            },
        ),
        (
            {**OTP, "to": "+65 1234"},
            {
                "error": "+65 1234 is not a valid mobile number for +65; check the "
                "digits and the country code.",
                "field": "to",
            },
        ),
        (
            {**OTP, "to": "+hello"},
            {
                "error": "“+hello” is not a phone number: The string supplied did "
                "not seem to be a phone number.",
                "field": "to",
            },
        ),
        (
            {**OTP, "to": "91234567", "country": "XX"},
            {
                "error": "“XX” is not a country code; use a two-letter ISO code "
                "such as SG.",
                "field": "country",
            },
        ),
    ],
)
def test_it_refuses_a_bad_number_with_422(post, campaign, body, error) -> None:
    response = post(body)

    assert response.status_code == 422
    assert response.json() == error
    assert not Message.objects.exists()


def test_it_lists_the_missing_properties(post, campaign, wire) -> None:
    event_campaign(name="Audit", message="$$code for $$user_name in $$app")

    response = post({**OTP, "properties": {"code": "1"}})

    assert response.status_code == 422
    assert response.json() == {
        "error": "The event “otp_requested” lacks properties the message uses: "
        "app, user_name.",
        "missing": ["app", "user_name"],
    }
    assert not Message.objects.exists()
    assert len(wire.calls) == 0


def test_a_property_making_the_message_too_long_is_refused_with_422(
    post, campaign, wire, settings
) -> None:
    # 5,000 characters: 33 GSM-7 segments, far over the default limit of 10.
    response = post({**OTP, "properties": {"code": "1" * 5000}})

    assert response.status_code == 422
    assert response.json() == {
        "error": "The campaign “OTP”: This message is 33 segments long (GSM-7 · "
        "5013 characters · 33 segments); the maximum is 10. Shorten it.",
        "campaign": "OTP",
        "segments": 33,
        "limit": settings.SMS_MAX_SEGMENTS,
    }
    assert not Message.objects.exists()
    assert len(wire.calls) == 0


def test_one_campaign_over_the_limit_queues_nothing_for_the_others(
    post, campaign, wire, settings
) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    event_campaign(name="Long copy", message="Your code is $$code. " + "x" * 150)

    response = post(OTP)

    assert response.status_code == 422
    assert response.json()["campaign"] == "Long copy"
    assert response.json()["segments"] == 2
    assert not Message.objects.exists()


def test_it_answers_404_for_an_event_no_campaign_listens_to(post, campaign) -> None:
    response = post({**OTP, "event": "password_reset"})

    assert response.status_code == 404
    assert response.json() == {
        "error": "No active campaign is triggered by the event “password_reset”; "
        "launch an event-triggered campaign with this event name first."
    }


def test_it_answers_409_when_the_campaign_has_no_sender(post) -> None:
    event_campaign()

    response = post(OTP)

    assert response.status_code == 409
    assert response.json() == {
        "error": "The campaign “OTP” cannot send: there is no default transactional "
        "sender; choose a sender or mark one as default.",
        "campaign": "OTP",
    }


def test_it_refuses_a_body_over_64_kib_and_sends_nothing(post, campaign) -> None:
    response = post({**OTP, "properties": {"code": "1", "pad": "x" * 65_536}})

    assert response.status_code == 413
    assert response.json() == {"error": "The body is larger than 65,536 bytes."}
    assert not Message.objects.exists()


@pytest.mark.parametrize("value", [1e308 * 10, -1e309])
def test_it_refuses_an_infinite_property(post, campaign, value) -> None:
    response = post({**OTP, "properties": {"code": value}})

    assert response.status_code == 400
    assert response.json()["error"] == (
        "The body is not valid JSON: Infinity is not a JSON value."
        if value > 0
        else "The body is not valid JSON: -Infinity is not a JSON value."
    )
    assert not Message.objects.exists()


def test_it_refuses_a_body_larger_than_django_accepts(post, campaign, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = post({**OTP, "properties": {"code": "1" * 200}})

    assert response.status_code == 413
    assert response.json() == {"error": "The body is larger than 100 bytes."}


def test_it_answers_409_when_the_provider_is_archived(post, campaign, provider) -> None:
    Provider.objects.update(is_active=False)

    response = post(OTP)

    assert response.status_code == 409
    assert response.json()["error"] == (
        "The campaign “OTP” cannot send: the provider Example SMS is archived "
        "(inactive)."
    )


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_refuses_other_methods_on_events(client, token, method) -> None:
    response = getattr(client, method)(
        EVENTS, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405
    assert response.json() == {"error": "Use POST for this URL.", "allowed": ["POST"]}
    assert response["Allow"] == "POST"


def test_it_needs_no_csrf_token(token, campaign, wire) -> None:
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        EVENTS,
        data=OTP,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 202


# --- GET /api/v1/messages/<id> ------------------------------------------------------


def test_it_reports_a_messages_status(client, post, token, campaign, wire) -> None:
    message_id = post(OTP).json()["messages"][0]["id"]
    sent_at = Message.objects.get().sent_at

    response = client.get(
        f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "id": message_id,
        "to": NUMBER,
        "status": "sent",
        "campaign": "OTP",
        "provider": str(Message.objects.get().sender.provider),
        "provider_message_id": "prov-1",
        "failure_category": "",
        "failure_reason": "",
        "sent_at": sent_at.isoformat(),
        "delivered_at": None,
        "delivery_error_code": "",
    }


def test_it_answers_404_for_an_unknown_message(client, token) -> None:
    response = client.get(
        "/api/v1/messages/0123abc", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 404
    assert response.json() == {"error": "No message has the id “0123abc”."}


@pytest.mark.parametrize("message_id", ["%00abc", "a" * 65])
def test_it_answers_404_for_an_impossible_message_id(client, token, message_id) -> None:
    response = client.get(
        f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 404


def test_it_needs_a_token_to_read_a_message(client, token) -> None:
    response = client.get("/api/v1/messages/0123abc")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="smsbridge"'


def test_it_refuses_to_post_to_a_message(client, token) -> None:
    response = client.post(
        "/api/v1/messages/0123abc", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405
    assert response["Allow"] == "GET"


# --- campaigns.events.trigger_event -------------------------------------------------


def test_it_raises_unknown_event_without_an_active_campaign(sender) -> None:
    with pytest.raises(UnknownEvent) as caught:
        trigger_event(event="otp_requested", to=NUMBER, properties={})

    assert caught.value.event == "otp_requested"


def test_it_raises_missing_properties_with_their_names(campaign) -> None:
    with pytest.raises(MissingProperties) as caught:
        trigger_event(event="otp_requested", to=NUMBER, properties={"codes": "1"})

    assert caught.value.missing == ["code"]


def test_it_queues_until_the_transaction_commits(
    campaign, wire, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        [message] = trigger_event(
            event="otp_requested", to=NUMBER, properties={"code": 42}
        )

    assert message.status == Message.Status.QUEUED
    assert message.body == "Your code is 42"
    assert len(callbacks) == 1
    assert len(wire.calls) == 0
