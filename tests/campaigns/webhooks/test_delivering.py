"""Status webhooks end to end: events through the API, messages sent (the
provider mocked at the wire), reports applied, and each change posted to a
receiver on 127.0.0.1 that checks the signature as README documents it."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise

import jsonschema
import pytest
from django.utils import timezone
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from campaigns.dlr.tracking import apply_updates
from campaigns.models import ApiToken, Message, WebhookDelivery, WebhookEndpoint
from campaigns.webhooks import delivering
from campaigns.webhooks.delivering import deliver
from providers.dlr import DeliveryState, StatusUpdate
from providers.outbound import transport
from tests.providers.network import connects_recorded, listening, name_server

from .conftest import NUMBER, OTP, hooked, new_endpoint
from .receiver import receiving

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status
DELIVER = "campaigns.tasks.deliver_webhook"
SIGNATURE = re.compile(r"t=(\d+),v1=([0-9a-f]{64})")


def delivered_report(provider, message: Message, capture) -> None:
    with capture(execute=True):
        update = StatusUpdate(
            message_id=message.message_id, state=DeliveryState.DELIVERED
        )
        apply_updates(provider=provider, updates=[update])


def retries(queued) -> list:
    return [task for task in queued if task.name == DELIVER]


# --- what a receiver hears ------------------------------------------------------------


def test_a_token_webhook_hears_queued_sent_and_delivered_signed(
    post, api_token, campaign, provider, wire, django_capture_on_commit_callbacks
) -> None:
    with hooked(api_token) as (endpoint, receiver):
        response = post(OTP)
        message = Message.objects.get()
        delivered_report(provider, message, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert receiver.refused == []
    told = [e["message"] for e in receiver.events]
    assert [(m["previous_status"], m["status"]) for m in told] == [
        (None, "queued"),
        ("queued", "sent"),
        ("sent", "delivered"),
    ]
    ids = [e["id"] for e in receiver.events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    message.refresh_from_db()
    sent = receiver.events[1]
    assert sent == {
        "type": "message.status",
        "id": ids[1],
        "attempt": 1,
        "occurred_at": message.sent_at.isoformat(),
        "message": {
            "id": message.message_id,
            "status": "sent",
            "previous_status": "queued",
            "to": NUMBER,
            "campaign": "OTP",
            "provider": "Example SMS",
            "provider_message_id": "prov-1",
            "attempts": 1,
            "next_attempt_at": None,
            "failure_category": "",
            "failure_reason": "",
            "delivery_error_code": "",
            "delivery_description": "",
            "sent_at": message.sent_at.isoformat(),
            "delivered_at": None,
        },
    }
    got = receiver.accepted[1]
    assert got.headers["Content-Type"] == "application/json"
    assert SIGNATURE.fullmatch(got.headers["Smsbridge-Signature"])
    assert set(
        WebhookDelivery.objects.values_list("status", "attempts", "answer_status")
    ) == {(Status.DELIVERED, 1, 200)}


def test_every_event_matches_the_webhook_in_the_openapi_document(
    post,
    client,
    api_token,
    campaign,
    provider,
    wire,
    settings,
    django_capture_on_commit_callbacks,
) -> None:
    settings.PUBLIC_BASE_URL = "http://testserver"
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    webhook = document["webhooks"]["messageStatus"]["post"]
    schema = {
        "$ref": "#/components/schemas/StatusEvent",
        "components": document["components"],
    }
    [header] = webhook["parameters"]
    with hooked(api_token) as (_, receiver):
        post(OTP)
        post({**OTP, "to": "+6591234568"})
        first, second = Message.objects.order_by("pk")
        delivered_report(provider, first, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            failed = StatusUpdate(
                message_id=second.message_id,
                state=DeliveryState.FAILED,
                error_code="15",
                description="Invalid destination",
            )
            apply_updates(provider=provider, updates=[failed])

    told = [
        (e["message"]["status"], e["message"]["delivery_error_code"])
        for e in receiver.events
    ]
    assert sorted(told) == [
        ("delivered", ""),
        ("failed", "15"),
        ("queued", ""),
        ("queued", ""),
        ("sent", ""),
        ("sent", ""),
    ]
    for got in receiver.accepted:
        OAS31Validator(schema).validate(got.event)
        assert re.fullmatch(header["schema"]["pattern"], got.headers[header["name"]])
    # The schema is strict enough to refuse an event missing a field.
    broken = {**receiver.events[0], "message": {"status": "queued"}}
    with pytest.raises(jsonschema.ValidationError):
        OAS31Validator(schema).validate(broken)


def test_the_webhook_of_every_token_hears_each_tokens_messages(
    post, client, api_token, campaign, wire
) -> None:
    other = ApiToken(name="billing")
    other_token = other.issue()
    other.save()

    with hooked(None) as (_, everyone), hooked(api_token) as (_, own):
        post(OTP)
        post(OTP, auth=f"Bearer {other_token}")

    by_token = dict(Message.objects.values_list("message_id", "api_token__name"))
    heard = {e["message"]["id"] for e in everyone.events}
    assert set(by_token.values()) == {"app-backend", "billing"}
    assert heard == set(by_token)
    assert {e["message"]["id"] for e in own.events} == {
        m for m, name in by_token.items() if name == "app-backend"
    }
    assert len(everyone.events) == 4
    assert len(own.events) == 2


def test_nothing_is_written_for_a_token_without_an_active_webhook(
    post, api_token, campaign, wire
) -> None:
    other = ApiToken(name="billing")
    other.issue()
    other.save()
    new_endpoint(other, "https://hooks.example.test/a")
    inactive, _ = new_endpoint(None, "https://hooks.example.test/b")
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(is_active=False)

    post(OTP)

    assert Message.objects.get().status == Message.Status.SENT
    assert not WebhookDelivery.objects.exists()


def test_an_idempotent_event_remembers_its_token_too(
    post, api_token, campaign, wire
) -> None:
    with hooked(api_token) as (_, receiver):
        post(OTP, headers={"Idempotency-Key": "order-1"})

    assert Message.objects.get().api_token == api_token
    assert [e["message"]["status"] for e in receiver.events] == ["queued", "sent"]


# --- signatures -----------------------------------------------------------------------


def test_a_receiver_with_another_secret_refuses_it_and_it_is_tried_again(
    post, broker_queue, api_token, campaign
) -> None:
    endpoint, _ = new_endpoint(api_token)
    with receiving("whsec_not-the-one") as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        post(OTP)
        [delivery] = WebhookDelivery.objects.all()

        status = deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert status == Status.PENDING
    assert len(receiver.refused) == 1
    assert receiver.verified == []
    assert (delivery.answer_status, delivery.attempts) == (401, 1)
    assert delivery.error == "Answered 401; only a 2xx answer is a delivery."


def test_both_secrets_sign_during_a_rotation_then_only_the_new_one(
    post, broker_queue, api_token, campaign
) -> None:
    endpoint, old = new_endpoint(api_token, "https://hooks.example.test/x")
    new = endpoint.issue_secret(now=timezone.now())
    endpoint.save()
    post(OTP)
    [delivery] = WebhookDelivery.objects.all()

    def attempt_to(secret: str):
        with receiving(secret) as receiver:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=Status.PENDING, next_attempt_at=timezone.now()
            )
            deliver(delivery_id=delivery.pk)
        return receiver

    during = [attempt_to(old), attempt_to(new)]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_until=timezone.now() - timedelta(seconds=1)
    )
    after = [attempt_to(old), attempt_to(new)]

    assert [len(r.accepted) for r in during] == [1, 1]
    assert len(during[0].accepted[0].signatures) == 2
    assert [len(r.accepted) for r in after] == [0, 1]
    assert len(after[0].refused) == 1
    assert len(after[1].accepted[0].signatures) == 1


# --- retries --------------------------------------------------------------------------


def test_a_failing_receiver_is_tried_again_with_exponential_backoff(
    post, broker_queue, api_token, campaign
) -> None:
    with hooked(api_token, answers=[500, 503, 302]) as (_, receiver):
        post(OTP)
        [delivery] = WebhookDelivery.objects.all()
        assert [t.args for t in retries(broker_queue())] == [[delivery.pk]]
        moments = [timezone.now()]
        statuses, errors = [], []
        for _ in range(4):
            early = deliver(delivery_id=delivery.pk, now=moments[-1] - timedelta(0, 1))
            assert early is None  # not due yet: nothing is sent
            statuses.append(deliver(delivery_id=delivery.pk, now=moments[-1]))
            errors.append(WebhookDelivery.objects.get(pk=delivery.pk).error)
            scheduled = retries(broker_queue())
            if scheduled:
                [task] = scheduled
                moments.append(task.eta)

    delivery.refresh_from_db()
    assert statuses == ["pending", "pending", "pending", "delivered"]
    assert [b - a for a, b in pairwise(moments)] == [
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
    ]
    assert errors == [
        "Answered 500; only a 2xx answer is a delivery.",
        "Answered 503; only a 2xx answer is a delivery.",
        "Answered 302: redirects are not followed.",
        "",
    ]
    events = [got.event for got in receiver.verified]
    assert [e["attempt"] for e in events] == [1, 2, 3, 4]
    assert {e["id"] for e in events} == {delivery.pk}
    assert (delivery.status, delivery.attempts, delivery.answer_status) == (
        Status.DELIVERED,
        4,
        200,
    )
    assert delivery.first_attempt_at == moments[0]


def test_it_gives_up_a_day_after_the_first_attempt(
    post, broker_queue, api_token, campaign
) -> None:
    # README: 10 s, 20 s, 40 s, ..., at most an hour apart, for 24 hours.
    schedule = [0]
    while True:
        gap = min(10 * 2 ** (len(schedule) - 1), 3600)
        if schedule[-1] + gap > 24 * 3600:
            break
        schedule.append(schedule[-1] + gap)
    with hooked(api_token, answers=[500] * 100) as (_, receiver):
        post(OTP)
        [delivery] = WebhookDelivery.objects.all()
        start = now = timezone.now()
        attempts = []
        while (status := deliver(delivery_id=delivery.pk, now=now)) == "pending":
            attempts.append((now - start).total_seconds())
            now = WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at
        attempts.append((now - start).total_seconds())

    delivery.refresh_from_db()
    assert status == Status.FAILED
    assert attempts == schedule
    assert len(receiver.verified) == len(schedule)
    assert delivery.next_attempt_at is None
    assert delivery.error == (
        f"Answered 500; only a 2xx answer is a delivery. Gave up after "
        f"{len(schedule)} attempts over 24 h."
    )
    assert deliver(delivery_id=delivery.pk, now=now + timedelta(days=1)) is None


def test_send_again_posts_a_failed_delivery_with_the_same_id(
    post, broker_queue, api_token, campaign
) -> None:
    with hooked(api_token) as (_, receiver):
        post(OTP)
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.FAILED, next_attempt_at=None, attempts=30
        )
        broker_queue()

        delivering.send_again(WebhookDelivery.objects.all(), now=timezone.now())
        [task] = retries(broker_queue())
        deliver(delivery_id=task.args[0])

    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert [(e["id"], e["attempt"]) for e in receiver.events] == [(delivery.pk, 31)]


def test_a_delivery_another_task_holds_or_that_is_done_is_not_sent(
    post, broker_queue, api_token, campaign
) -> None:
    with hooked(api_token) as (_, receiver):
        post(OTP)
        delivery = WebhookDelivery.objects.get()
        held = timezone.now() + timedelta(seconds=30)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=held)

        while_held = deliver(delivery_id=delivery.pk)
        first = deliver(delivery_id=delivery.pk, now=held)
        again = deliver(delivery_id=delivery.pk, now=held)

    assert (while_held, first, again) == (None, "delivered", None)
    assert len(receiver.verified) == 1


def test_the_sweeper_queues_deliveries_whose_task_was_lost(
    post, broker_queue, api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    post(OTP)
    post({**OTP, "to": "+6591234568"})
    lost, due = WebhookDelivery.objects.order_by("pk")
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        next_attempt_at=now - timedelta(minutes=2)
    )
    WebhookDelivery.objects.filter(pk=due.pk).update(next_attempt_at=now)
    broker_queue()

    queued = delivering.send_overdue(now=now)

    assert queued == 1
    assert [t.args for t in retries(broker_queue())] == [[lost.pk]]


def test_a_deactivated_webhook_sends_nothing_more(
    post, broker_queue, api_token, campaign
) -> None:
    with hooked(api_token) as (endpoint, receiver):
        post(OTP)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

        status = deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert status == Status.FAILED
    assert receiver.verified == receiver.refused == []
    assert WebhookDelivery.objects.get().error == (
        "The webhook was deactivated before this was sent."
    )


# --- the address policy ---------------------------------------------------------------


@pytest.fixture
def guard_on(settings):
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False
    settings.SMS_CONNECT_TIMEOUT = 1
    # Connections kept alive from earlier tests were opened under another policy.
    transport.session().close()
    yield
    transport.session().close()


def test_no_delivery_reaches_a_host_that_resolves_to_a_private_address(
    guard_on, monkeypatch, post, broker_queue, api_token, campaign
) -> None:
    dns = name_server(monkeypatch)
    with listening() as listener:
        # Public when it was saved; its DNS answers a loopback address now.
        url = f"https://hooks.customer.test:{listener.port}/smsbridge"
        new_endpoint(api_token, url)
        dns.answers["hooks.customer.test"] = ["127.0.0.1"]
        post(OTP)
        [delivery] = WebhookDelivery.objects.all()
        broker_queue()
        with connects_recorded() as attempts:
            status = deliver(delivery_id=delivery.pk)
        accepted = listener.accepted()

    delivery.refresh_from_db()
    assert status == Status.FAILED
    assert attempts == []
    assert accepted == 0
    assert delivery.error == (
        "hooks.customer.test resolves to 127.0.0.1, a loopback, private or "
        "reserved address; smsbridge only sends to public addresses."
    )
    assert delivery.next_attempt_at is None
    assert delivery.answer_status is None
    assert retries(broker_queue()) == []  # refused for good, not tried again


def test_no_delivery_goes_over_plain_http_in_production_policy(
    guard_on, post, broker_queue, api_token, campaign
) -> None:
    with listening() as listener, connects_recorded() as attempts:
        new_endpoint(api_token, f"http://127.0.0.1:{listener.port}/smsbridge")
        post(OTP)
        status = deliver(delivery_id=WebhookDelivery.objects.get().pk)
        accepted = listener.accepted()

    assert status == Status.FAILED
    assert attempts == []
    assert accepted == 0
    assert WebhookDelivery.objects.get().error == (
        "The URL for 127.0.0.1 is not HTTPS; smsbridge only posts to https:// URLs."
    )
