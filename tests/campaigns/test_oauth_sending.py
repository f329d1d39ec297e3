"""Campaigns through an OAuth provider: one token for the whole campaign, and a
failing token endpoint makes messages wait, queued, however long it fails."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from campaigns import sending
from campaigns.models import Campaign, Message
from providers.outbound.outcomes import Category

from ..oauth_provider import (
    CLIENT_SECRET,
    ENDPOINT,
    TOKEN,
    TOKEN_URL,
    oauth_provider,
    token_answer,
)
from .fake_provider import campaign_to, numbers

pytestmark = pytest.mark.django_db
Status = Message.Status


@pytest.fixture
def wire():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def launched(campaign: Campaign) -> Campaign:
    sending.launch(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def statuses(campaign: Campaign) -> Counter:
    return Counter(campaign.messages.values_list("status", flat=True))


def calls_to(wire, url: str) -> list:
    return [c for c in wire.calls if c.request.url == url]


def test_a_campaign_fetches_one_token_for_all_its_messages(wire, settings) -> None:
    settings.SEND_CONCURRENCY = 4
    wire.post(TOKEN_URL, json=token_answer(expires_in=3600))
    wire.post(ENDPOINT, json={"id": "p-1"})
    oauth_provider()
    campaign = launched(campaign_to(numbers(25)))

    sending.process_chunk(campaign_id=campaign.pk, now=timezone.now())

    assert statuses(campaign) == {Status.SENT: 25}
    assert len(calls_to(wire, TOKEN_URL)) == 1
    sent = calls_to(wire, ENDPOINT)
    assert len(sent) == 25
    assert {c.request.headers["Authorization"] for c in sent} == {f"Bearer {TOKEN}"}


def test_a_failing_token_endpoint_keeps_messages_queued_for_retry(
    wire, settings
) -> None:
    settings.SEND_MAX_ATTEMPTS = 2
    wire.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    oauth_provider()
    campaign = launched(campaign_to(numbers(3)))
    now = timezone.now()
    wait = timedelta(seconds=settings.SEND_TOKEN_RETRY_SECONDS)

    # More rounds than SEND_MAX_ATTEMPTS: none of them counts as an attempt.
    for _ in range(4):
        assert sending.process_chunk(campaign_id=campaign.pk, now=now) == 3
        assert statuses(campaign) == {Status.QUEUED: 3}
        now += wait
        # Past the failure hold, so the endpoint is asked again each round.
        cache.clear()

    for message in campaign.messages.all():
        assert message.attempts == 0
        assert message.failure_category == Category.TOKEN
        assert "refused the client credentials (invalid_client)" in (
            message.failure_reason
        )
        assert CLIENT_SECRET not in message.failure_reason
    assert calls_to(wire, ENDPOINT) == []

    # Credentials fixed at the token endpoint: the waiting messages go out.
    wire.replace(responses.POST, TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={"id": "p-1"})
    sending.process_chunk(campaign_id=campaign.pk, now=now)

    assert statuses(campaign) == {Status.SENT: 3}
    campaign.refresh_from_db()
    assert campaign.messages.filter(attempts=1).count() == 3


def test_a_token_failure_waits_the_token_retry_delay(wire, settings) -> None:
    settings.SEND_TOKEN_RETRY_SECONDS = 120
    wire.post(TOKEN_URL, status=503)
    oauth_provider()
    campaign = launched(campaign_to(numbers(1)))
    now = timezone.now()

    sending.process_chunk(campaign_id=campaign.pk, now=now)

    message = campaign.messages.get()
    assert message.status == Status.QUEUED
    assert message.next_attempt_at == now + timedelta(seconds=120)
    early = now + timedelta(seconds=119)
    assert sending.process_chunk(campaign_id=campaign.pk, now=early) == 0
