"""campaigns.throttle: one send schedule per provider, in this process, in a file
or in Redis.

The Redis tests run a real redis-server (see conftest.py), the file tests real
processes, and both time real sleeps; their bounds are generous, as they check
behaviour rather than speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from campaigns import throttle

from .conftest import BASE_DIR


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


# --- shared through a file ----------------------------------------------------------


def test_a_file_schedule_spaces_reservations_by_their_cost(tmp_path) -> None:
    schedule = throttle.FileSchedule(tmp_path / "rate")

    waits = [schedule.reserve(7, 0.5) for _ in range(3)]

    assert waits[0] == 0
    assert waits[1] == pytest.approx(0.5, abs=0.05)
    assert waits[2] == pytest.approx(1.0, abs=0.05)


def test_a_file_schedule_keeps_providers_apart(tmp_path) -> None:
    schedule = throttle.FileSchedule(tmp_path)
    schedule.reserve(1, 30)

    assert schedule.reserve(2, 30) == 0


def test_a_file_schedule_forgets_time_that_has_passed(tmp_path) -> None:
    schedule = throttle.FileSchedule(tmp_path)
    schedule.reserve(1, 0.05)
    time.sleep(0.1)

    assert schedule.reserve(1, 0.05) == 0


def test_a_file_schedule_is_shared_by_every_schedule_on_the_folder(tmp_path) -> None:
    one, other = throttle.FileSchedule(tmp_path), throttle.FileSchedule(tmp_path)
    one.reserve(5, 2.0)

    assert other.reserve(5, 2.0) == pytest.approx(2.0, abs=0.2)


def test_a_file_schedule_moves_back_with_a_clock_set_back(
    tmp_path, monkeypatch
) -> None:
    schedule = throttle.FileSchedule(tmp_path)
    now = 1_000_000.0
    monkeypatch.setattr(throttle.time, "time", lambda: now)
    schedule.reserve(3, 10.0)

    now -= 3600  # an hour back; 10 s booked must not become an hour and 10 s
    wait = schedule.reserve(3, 1.0)

    assert wait == pytest.approx(10.0)


def test_a_damaged_file_schedule_starts_afresh(tmp_path) -> None:
    (tmp_path / "4").write_text("12")  # a write cut short

    assert throttle.FileSchedule(tmp_path).reserve(4, 1.0) == 0


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("filesystem://", throttle.FileSchedule),
        ("amqp://guest@localhost//", throttle.FileSchedule),
        ("memory://", throttle.LocalSchedule),
        ("memory://localhost/", throttle.LocalSchedule),
        ("redis://127.0.0.1:6379/0", throttle.RedisSchedule),
        ("rediss://127.0.0.1:6379/0", throttle.RedisSchedule),
    ],
)
def test_the_broker_decides_where_the_schedule_is_kept(settings, url, kind) -> None:
    settings.SEND_RATE_DIR = "/nonexistent/rate"  # chosen, never written
    throttle.schedule.cache_clear()

    assert isinstance(throttle.schedule(url), kind)
    throttle.schedule.cache_clear()


def test_acquire_keeps_the_file_schedule_under_send_rate_dir(
    settings, tmp_path
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.SEND_RATE_DIR = str(tmp_path / "rate")
    throttle.schedule.cache_clear()

    throttle.acquire(provider_id=11, count=1, per_second=10)

    assert (tmp_path / "rate" / "11").is_file()
    throttle.schedule.cache_clear()


# Waits for "go" on stdin so that every process is past Django's start-up, then
# prints the wall-clock time of each turn it was granted.
GRANTS = """
import json, sys, time
import django
django.setup()
from campaigns import throttle
print("ready", flush=True)
sys.stdin.readline()
grants = []
for _ in range({turns}):
    throttle.acquire(provider_id=42, count=1, per_second={rate})
    grants.append(time.time())
print(json.dumps(grants), flush=True)
"""


def granted(*, processes: int, turns: int, rate: int, env: dict[str, str]) -> list:
    """Every grant of `processes` processes started together, in time order."""
    script = textwrap.dedent(GRANTS).format(turns=turns, rate=rate)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", script],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout.readline() == "ready\n"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=30)[0] for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert [child.returncode for child in children] == [0] * processes
    return sorted(t for output in outputs for t in json.loads(output))


def test_worker_processes_on_one_machine_share_one_schedule(tmp_path) -> None:
    rate = 20
    grants = granted(
        processes=3,
        turns=10,
        rate=rate,
        env={"CELERY_BROKER_URL": "filesystem://", "SEND_RATE_DIR": str(tmp_path)},
    )

    # A second holds `rate` turns, give or take the one booked on its far edge and
    # one woken late. Three schedules of their own would put all 30 turns into
    # half a second.
    busiest = max(sum(start <= t < start + 1 for t in grants) for start in grants)
    assert busiest <= rate + 2
    # 30 turns at 20 a second: the last one starts 1.45 s after the first.
    assert grants[-1] - grants[0] >= (len(grants) - 1) / rate - 0.1


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
