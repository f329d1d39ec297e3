from __future__ import annotations

import pytest

from campaigns import sending

from .fake_provider import campaign_to, connect, numbers


@pytest.mark.django_db
def test_a_chunk_of_single_messages_is_the_configured_size(settings) -> None:
    settings.SEND_CHUNK_SIZE = 300
    connect("http://127.0.0.1:9/send")
    assert sending.chunk_size(campaign_to(numbers(1))) == 300


@pytest.mark.django_db
def test_a_batch_provider_sends_one_batch_per_chunk() -> None:
    connect("http://127.0.0.1:9/send", batch_size=250)
    assert sending.chunk_size(campaign_to(numbers(1))) == 250


@pytest.mark.django_db
def test_a_rate_limited_chunk_is_sent_well_within_the_claim_timeout(settings) -> None:
    # At 2 messages a second, 1,000 messages would take 500 s: past a 300 s
    # claim timeout they would be reclaimed and sent a second time.
    settings.SEND_CLAIM_TIMEOUT = 300
    sender = connect("http://127.0.0.1:9/send", batch_size=1000)
    sender.provider.rate_limit = 2
    sender.provider.save()
    assert sending.chunk_size(campaign_to(numbers(1))) == 300
