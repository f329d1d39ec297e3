from __future__ import annotations

import threading
import time

import pytest

from campaigns import sending
from campaigns.inflight import as_they_return

from .fake_provider import campaign_to, connect, numbers


@pytest.mark.django_db
def test_a_chunk_of_single_messages_is_the_configured_size(settings) -> None:
    settings.SEND_CHUNK_SIZE = 300
    connect("http://127.0.0.1:9/send")
    assert sending.chunk_size(campaign_to(numbers(1))) == 300


@pytest.mark.django_db
def test_a_batch_provider_claims_a_few_batches_at_a_time() -> None:
    connect("http://127.0.0.1:9/send", batch_size=250)
    assert sending.chunk_size(campaign_to(numbers(1))) == 250 * 4


@pytest.mark.django_db
def test_a_rate_limited_chunk_holds_a_few_seconds_of_sending() -> None:
    # At 2 messages a second a 1,000-message chunk would hold a worker slot for
    # over 8 minutes; other campaigns' tasks would wait behind it.
    sender = connect("http://127.0.0.1:9/send", batch_size=1000)
    sender.provider.rate_limit = 2
    sender.provider.save()
    assert sending.chunk_size(campaign_to(numbers(1))) == 2 * sending.TURN_SECONDS


def collect(groups, send, **options) -> list:
    options = {"threads": 4, "unrecorded": 8, "tick": 0.05, **options}
    return [
        pair for answers in as_they_return(groups, send, **options) for pair in answers
    ]


def test_requests_go_out_concurrently_and_every_answer_comes_back_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def send(group):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01 * (group % 3))  # finish out of order
        with lock:
            running -= 1
        return f"outcome {group}"

    pairs = collect(list(range(40)), send)

    assert sorted(pairs) == sorted((n, f"outcome {n}") for n in range(40))
    assert 1 < most <= 4


def test_no_more_requests_start_than_may_go_unrecorded() -> None:
    """While the caller is still writing down answers, at most `unrecorded`
    requests have gone out since what it last recorded: the crash bound."""
    started = []
    answers = as_they_return(
        list(range(50)), started.append, threads=4, unrecorded=6, tick=0.05
    )

    first = next(answers)
    time.sleep(0.2)  # the caller "records" slowly; the threads must wait
    assert len(first) <= 6
    assert len(started) == 6

    recorded = len(first)
    for batch in answers:
        recorded += len(batch)
        assert len(started) - recorded <= 6
    assert sorted(started) == list(range(50))


def test_the_caller_hears_from_a_silent_send_every_tick() -> None:
    answers = as_they_return(
        [1], lambda group: time.sleep(0.3), threads=1, unrecorded=2, tick=0.05
    )

    assert next(answers) == []  # a chance to renew the claim's lease
    assert [pair for batch in answers for pair in batch] == [(1, None)]


def test_a_send_that_raises_is_raised_to_the_chunk() -> None:
    def send(group):
        if group == 7:
            raise RuntimeError("renderer bug")
        return "ok"

    with pytest.raises(RuntimeError, match="renderer bug"):
        collect(list(range(20)), send)
