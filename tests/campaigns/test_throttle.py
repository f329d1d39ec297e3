"""campaigns.throttle: one send schedule per provider, in this process or in Redis.

The Redis tests run a real redis-server (see conftest.py) and time real sleeps;
their bounds are generous, as they check behaviour rather than speed.
"""

from __future__ import annotations

import threading
import time

import pytest

from campaigns import throttle


def test_a_local_schedule_spaces_reservations_by_their_cost() -> None:
    schedule = throttle.LocalSchedule()

    waits = [schedule.reserve(7, 0.5) for _ in range(3)]

    assert waits[0] == 0
    assert waits[1] == pytest.approx(0.5, abs=0.05)
    assert waits[2] == pytest.approx(1.0, abs=0.05)


def test_a_local_schedule_keeps_providers_apart() -> None:
    schedule = throttle.LocalSchedule()
    schedule.reserve(1, 30)

    assert schedule.reserve(2, 30) == 0


def test_a_local_schedule_forgets_time_that_has_passed() -> None:
    schedule = throttle.LocalSchedule()
    schedule.reserve(1, 0.05)
    time.sleep(0.1)

    assert schedule.reserve(1, 0.05) == 0


@pytest.mark.parametrize(("count", "per_second"), [(1000, 0), (0, 10)])
def test_acquire_never_waits_without_a_limit_or_messages(
    settings, count, per_second
) -> None:
    settings.CELERY_BROKER_URL = "memory://"
    throttle.schedule.cache_clear()
    started = time.monotonic()

    waited = [
        throttle.acquire(provider_id=1, count=count, per_second=per_second)
        for _ in range(50)
    ]

    assert waited == [0.0] * 50
    assert time.monotonic() - started < 0.5


def test_acquire_paces_the_threads_of_one_process(settings) -> None:
    settings.CELERY_BROKER_URL = "memory://"
    throttle.schedule.cache_clear()

    elapsed = paced(workers=2, messages=10, per_second=20)

    assert 0.4 <= elapsed < 2.0


def paced(*, workers: int, messages: int, per_second: int) -> float:
    """Seconds for `workers` threads to acquire `messages` turns in all."""
    each = messages // workers

    def work() -> None:
        for _ in range(each):
            throttle.acquire(provider_id=42, count=1, per_second=per_second)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return time.monotonic() - started


# --- shared through Redis -------------------------------------------------------------


def test_workers_share_one_schedule_through_redis(redis_url) -> None:
    assert isinstance(throttle.schedule(redis_url), throttle.RedisSchedule)

    elapsed = paced(workers=2, messages=20, per_second=10)

    # 20 turns at 10 a second: the last one starts 1.9 s after the first.
    assert 1.7 <= elapsed < 4.0


def test_separate_processes_see_one_redis_schedule(redis_url) -> None:
    # Two clients, as two worker processes would have.
    one, other = throttle.RedisSchedule(redis_url), throttle.RedisSchedule(redis_url)

    first = one.reserve(5, 2.0)
    second = other.reserve(5, 2.0)
    elsewhere = other.reserve(6, 2.0)

    assert first == 0
    assert second == pytest.approx(2.0, abs=0.2)
    assert elsewhere == 0


def test_a_long_reservation_is_remembered_until_it_ends(redis_url) -> None:
    # A batch of 1,000 at 10 a second books 100 s; forgetting the booking earlier
    # would let the next batch go before that time is up.
    import redis

    schedule = throttle.RedisSchedule(redis_url)
    schedule.reserve(9, 100.0)

    remembered = redis.Redis.from_url(redis_url).pttl("smsbridge:rate:9") / 1000

    assert remembered >= 99
    assert schedule.reserve(9, 1.0) == pytest.approx(100.0, abs=1.0)
