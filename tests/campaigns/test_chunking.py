from __future__ import annotations

import threading
import time

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


def test_single_messages_go_out_concurrently_and_come_back_in_order(settings) -> None:
    settings.SEND_CONCURRENCY = 4
    messages = list(range(40))
    running, most = 0, 0
    lock = threading.Lock()

    def send(group):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01 * (group[0] % 3))  # finish out of order
        with lock:
            running -= 1
        return f"outcome {group[0]}"

    outcomes = sending.send_each(messages, send)

    assert outcomes == [f"outcome {n}" for n in messages]
    assert 1 < most <= 4


def test_a_send_that_raises_is_raised_to_the_chunk(settings) -> None:
    def send(group):
        if group[0] == 7:
            raise RuntimeError("renderer bug")
        return "ok"

    with pytest.raises(RuntimeError, match="renderer bug"):
        sending.send_each(list(range(20)), send)
