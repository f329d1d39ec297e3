"""Idempotency-Key on POST /api/v1/events, and the scopes of API tokens.

A client that retries after a timeout must send one SMS, not two: the same key
and body answer the first answer again and send nothing; the same key with
another body is refused; concurrent duplicates send once.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns import idempotency
from campaigns.models import ApiToken, IdempotencyKey, Message

from . import test_event_api as event_api
from .conftest import EVENTS

OTP, event_campaign = event_api.OTP, event_api.event_campaign
# The event API's fixtures: its provider mocked at the wire, sender, campaign.
wire, provider, sender, campaign = (
    event_api.wire,
    event_api.provider,
    event_api.sender,
    event_api.campaign,
)
KEY = "order-1234-otp"


@pytest.fixture
def keyed(post):
    def send(body, key=KEY, **kwargs):
        return post(body, **kwargs, headers={"Idempotency-Key": key})

    return send


@pytest.mark.django_db
def test_the_same_key_and_body_answer_the_first_answer_and_send_nothing_more(
    keyed, campaign, wire
) -> None:
    first = keyed(OTP)
    again = keyed(dict(reversed(OTP.items())))  # same body, keys in another order

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Message.objects.count() == 1
    assert len(wire.calls) == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(keyed, campaign, wire) -> None:
    keyed(OTP)
    other = keyed({**OTP, "to": "+6591234568"})

    assert other.status_code == 409
    assert "used with another body" in other.json()["error"]
    assert other.json()["field"] == "Idempotency-Key"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_each_request_sends(post, campaign, wire) -> None:
    post(OTP)
    post(OTP)
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_keys_belong_to_their_token(keyed, campaign, wire) -> None:
    other = ApiToken(name="other-app")
    other_token = other.issue()
    other.save()

    keyed(OTP)
    second = keyed(OTP, auth=f"Bearer {other_token}")

    assert second.status_code == 202
    assert "Idempotent-Replayed" not in second
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_request_keeps_no_key_so_a_retry_after_the_fix_sends(
    keyed, sender, wire
) -> None:
    refused = keyed(OTP)  # no campaign is triggered by the event yet
    assert refused.status_code == 404
    event_campaign()

    retried = keyed(OTP)

    assert retried.status_code == 202
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_forgotten_after_a_day(keyed, campaign, wire, settings) -> None:
    keyed(OTP)
    IdempotencyKey.objects.update(
        created_at=timezone.now()
        - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, seconds=1)
    )

    again = keyed(OTP)

    assert "Idempotent-Replayed" not in again
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_request_still_being_answered_is_not_answered_twice(
    keyed, campaign, wire, token
) -> None:
    # The first request recorded its key and has not answered yet.
    IdempotencyKey.objects.create(
        token=ApiToken.find(token),
        key=KEY,
        fingerprint=idempotency.fingerprint(OTP),
        created_at=timezone.now(),
    )

    busy = keyed(OTP)

    assert busy.status_code == 409
    assert "still being answered" in busy.json()["error"]
    assert Message.objects.count() == 0

    # One that died before answering is taken over after a minute.
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    taken_over = keyed(OTP)
    assert taken_over.status_code == 202
    assert Message.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad", ["", "has space", "x" * 256, "naïve", "tab\there"], ids=repr
)
def test_a_key_that_is_not_printable_ascii_is_refused(keyed, campaign, wire, bad):
    response = keyed(OTP, key=bad)
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_from_two_threads_send_once(campaign, wire) -> None:
    api_token = ApiToken(name="app")
    token = api_token.issue()
    api_token.save()
    barrier = threading.Barrier(2)
    answers: list[tuple[int, bool]] = []

    def send() -> None:
        client = Client()
        barrier.wait()
        response = client.post(
            EVENTS,
            data=json.dumps(OTP),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": KEY},
        )
        answers.append((response.status_code, "Idempotent-Replayed" in response))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert Message.objects.count() == 1
    statuses = sorted(status for status, _ in answers)
    # The other was either told to retry (409) or given the first answer.
    assert statuses in ([202, 202], [202, 409])
    assert len(wire.calls) == 1


# --- scopes ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_without_the_send_scope_cannot_send(post, campaign, wire, token):
    ApiToken.objects.update(can_send=False)

    response = post(OTP)

    assert response.status_code == 403
    assert response.json() == {"error": "This API token may not send events."}
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_a_token_without_the_read_scope_cannot_read(
    post, client, campaign, wire, token
):
    message_id = post(OTP).json()["messages"][0]["id"]
    ApiToken.objects.update(can_read=False)

    response = client.get(
        f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert response.json() == {"error": "This API token may not read messages."}
