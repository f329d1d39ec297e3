"""Scale-out: README's "One machine, then many", run for real.

PostgreSQL (a database of the test's own), a Redis broker, two Celery worker
processes (the default prefork pool, two children each) and one beat, all
started as README starts them. Two campaigns are launched in one commit, one
through a batching provider and one a message per request, on a fake provider
that fails a fifth of its requests (5xx and 429). With 100-message chunks, four
tasks per campaign and the sweeper every two seconds, many claims contend for
the same rows.

It proves that every message ends sent or (out of attempts) failed, that the
provider accepted each message exactly once and was sent each one exactly as
many times as attempts were recorded, that both campaigns complete, that no
claim was taken back from a live worker, and that PostgreSQL met no deadlock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import BASE_DIR, PRELUDE
from .conftest import CELERY as CELERY_PATH
from .fake_provider import ACCEPT, FakeProvider, fail, flaky, rate_limited, script

CELERY = str(CELERY_PATH)
SEND = {
    "SEND_CONCURRENCY": "4",
    "SEND_RETRY_BASE_SECONDS": "0.3",
    "SEND_CHUNK_SIZE": "100",
    "SEND_MAX_ATTEMPTS": "5",
    # The sweeper's reclaims and wake-ups then run beside the workers' claims.
    "SEND_SWEEP_SECONDS": "2",
}
BATCHED, SINGLE = 1500, 1000
DEADLINE_SECONDS = 90
# A send_chunk task that claimed at least one message (the worker banner lists
# the task's name too).
SENT_SOME = re.compile(r"send_chunk\[[-0-9a-f]+\] succeeded in [0-9.e-]+s: [1-9]")
SETUP = """
import json, os
from django.db import transaction
from campaigns import sending
from tests.campaigns.fake_provider import campaign_to, connect, numbers

url = os.environ["FAKE_URL"]
batched = campaign_to(numbers(1500), name="Batched")
batched.sender = connect(url, batch_size=50, nickname="Fake batch")
batched.save()
single = campaign_to(numbers(1000, start=1500), name="One per request")
single.sender = connect(url, nickname="Fake single")
single.save()
# Both campaigns' tasks go to the broker on this one commit.
with transaction.atomic():
    sending.launch(campaign=batched)
    sending.launch(campaign=single)
print(json.dumps({"batched": batched.pk, "single": single.pk}))
"""


@dataclass(frozen=True)
class Postgres:
    """A migrated database of this test's own on the throwaway server."""

    server: str
    name: str

    @property
    def url(self) -> str:
        return self.server.rsplit("/", 1)[0] + "/" + self.name

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **extra,
        }

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture
def postgres(postgres_server) -> Iterator[Postgres]:
    import psycopg

    database = Postgres(postgres_server, f"scale_out_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database.name}")
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=database.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield database
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")


@pytest.fixture
def broker(redis_server) -> str:
    import redis

    url = f"{redis_server}/2"
    redis.Redis.from_url(url).flushdb()  # beat's lock and stale tasks included
    return url


class Processes:
    """The worker and beat processes, each logging to its own file."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> None:
        with (self.folder / f"{name}.log").open("w") as log:
            self.running[name] = subprocess.Popen(  # noqa: S603 - celery, fixed args
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=log
            )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def tails(self) -> str:
        return "".join(
            f"\n--- {name}.log (tail) ---\n{self.log(name)[-2500:]}"
            for name in self.running
        )

    def check_alive(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, f"{name} exited early{self.tails()}"

    def wait_for(self, name: str, text: str, *, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.log(name):
            self.check_alive()
            assert time.monotonic() < deadline, f"{name}: no {text!r}{self.tails()}"
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def worker_command(node: str) -> list[str]:
    """README's "One machine, then many", word for word."""
    return [
        *(CELERY, "-A", "config", "worker", "--concurrency", "2"),
        *("--loglevel", "INFO", "-n", f"{node}@%h"),
    ]


def beat_command(schedule: Path) -> list[str]:
    """README's, with the schedule file in the test's folder."""
    return [CELERY, "-A", "config", "beat", "--loglevel", "INFO", "-s", str(schedule)]


def setup_campaigns(env: dict[str, str]) -> dict[str, int]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PRELUDE + SETUP],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def unfinished(db: Postgres) -> int:
    [(messages,)] = db.rows(
        "SELECT count(*) FROM campaigns_message WHERE status IN ('queued', 'sending')"
    )
    [(campaigns,)] = db.rows(
        "SELECT count(*) FROM campaigns_campaign WHERE status <> 'completed'"
    )
    return messages + campaigns


def wait_until_disconnected(db: Postgres, *, seconds: float = 10) -> None:
    """Backends flush their statistics (deadlocks included) as they exit."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        [(backends,)] = db.rows(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (db.name,),
        )
        if not backends:
            return
        time.sleep(0.1)
    pytest.fail("the workers' database connections outlived them")


def test_two_workers_and_beat_on_postgres_send_each_message_exactly_once(
    postgres, broker, tmp_path
) -> None:
    fake = FakeProvider(
        flaky(seed=7, rate=0.2, failures=(fail(500), fail(503), rate_limited(0.5)))
    )
    env = postgres.env(CELERY_BROKER_URL=broker, **SEND)
    processes = Processes(env, tmp_path)
    with ExitStack() as stack:
        stack.enter_context(fake)
        stack.callback(processes.stop)
        for node in ("w1", "w2"):
            processes.start(node, worker_command(node))
        processes.start("beat", beat_command(tmp_path / "beat-schedule"))
        for node in ("w1", "w2"):
            processes.wait_for(node, " ready.", seconds=30)
        processes.wait_for("beat", "beat: Starting", seconds=30)

        started = time.monotonic()
        campaigns = setup_campaigns({**env, "FAKE_URL": fake.url})
        deadline = started + DEADLINE_SECONDS
        while unfinished(postgres) and time.monotonic() < deadline:
            processes.check_alive()
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        print(f"\nlaunch to last message recorded: {elapsed:.1f} s")
        left = unfinished(postgres)
        assert not left, f"{left} messages or campaigns unfinished{processes.tails()}"
    logs = {name: processes.log(name) for name in processes.running}
    tails = processes.tails()

    rows = postgres.rows(
        "SELECT campaign_id, message_id, status, attempts, failure_category, "
        "maybe_sent, provider_message_id FROM campaigns_message"
    )
    per_campaign = Counter(row[0] for row in rows)
    assert per_campaign == {campaigns["batched"]: BATCHED, campaigns["single"]: SINGLE}
    statuses = Counter(row[2] for row in rows)
    assert statuses["sent"] + statuses["failed"] == len(rows), statuses

    accepted = Counter(fake.accepted_ids())
    posted = Counter(fake.posted_ids())
    assert max(accepted.values()) == 1, accepted.most_common(3)
    for _, message_id, status, attempts, category, maybe_sent, provider_id in rows:
        # No claim was taken back from a worker that was alive all along.
        assert not maybe_sent, message_id
        # Every attempt made was recorded, and every one recorded was made.
        assert posted[message_id] == attempts, (message_id, status, attempts)
        if status == "sent":
            assert accepted[message_id] == 1, message_id
            assert provider_id == f"p-{message_id}"
        else:  # failed only after every attempt was refused
            assert accepted[message_id] == 0, message_id
            assert (attempts, category) in {(5, "server_error"), (5, "rate_limited")}
    assert set(accepted) == {row[1] for row in rows if row[2] == "sent"}

    for name, log in logs.items():
        assert "Traceback" not in log, f"{name} logged a traceback{tails}"
        assert "deadlock detected" not in log, f"{name}: deadlock{tails}"
    for node in ("w1", "w2"):
        assert SENT_SOME.search(logs[node]), f"{node} sent nothing{tails}"
    assert "Sending due task sweep" in logs["beat"], tails

    wait_until_disconnected(postgres)
    [(deadlocks,)] = postgres.rows(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (postgres.name,)
    )
    assert deadlocks == 0
    assert elapsed < 60, f"took {elapsed:.1f} s"
    print(f"statuses {dict(statuses)}, requests {len(fake.requests)}")


ROUTED = 1200
HALF_WAY = 600
ROUTE_SETUP = """
import json, os
from campaigns import sending
from providers.models import Sender
from providers.routes import Route, RouteStep
from tests.campaigns.fake_provider import campaign_to, connect, numbers

route = Route.objects.create(name="Main, then backup")
for position, (url, nickname) in enumerate(
    [(os.environ["FIRST_URL"], "First"), (os.environ["SECOND_URL"], "Second")]
):
    sender = connect(url, nickname=nickname)
    Sender.objects.filter(pk=sender.pk).update(is_default=False)
    RouteStep.objects.create(route=route, sender=sender, position=position)
campaign = campaign_to(numbers(1200), name="Routed")
campaign.route = route
campaign.save()
sending.launch(campaign=campaign)
print(json.dumps({"campaign": campaign.pk}))
"""


def test_two_workers_hand_a_failing_providers_messages_on_exactly_once(
    postgres, broker, tmp_path
) -> None:
    """The route's first provider starts refusing half-way (503); two workers
    share its breaker through PostgreSQL and move the rest to the second."""
    first = FakeProvider(script(*[ACCEPT] * HALF_WAY, then=fail(503)))
    second = FakeProvider()
    env = postgres.env(CELERY_BROKER_URL=broker, **SEND)
    processes = Processes(env, tmp_path)
    with ExitStack() as stack:
        stack.enter_context(first)
        stack.enter_context(second)
        stack.callback(processes.stop)
        for node in ("w1", "w2"):
            processes.start(node, worker_command(node))
        processes.start("beat", beat_command(tmp_path / "beat-schedule"))
        for node in ("w1", "w2"):
            processes.wait_for(node, " ready.", seconds=30)

        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", PRELUDE + ROUTE_SETUP],
            cwd=BASE_DIR,
            env={**env, "FIRST_URL": first.url, "SECOND_URL": second.url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        while unfinished(postgres) and time.monotonic() < started + DEADLINE_SECONDS:
            processes.check_alive()
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        left = unfinished(postgres)
        assert not left, f"{left} messages or campaigns unfinished{processes.tails()}"
    tails = processes.tails()

    rows = postgres.rows(
        "SELECT m.message_id, m.status, m.hop, p.nickname FROM campaigns_message m "
        "JOIN providers_sender s ON s.id = m.sender_id "
        "JOIN providers_provider p ON p.id = s.provider_id"
    )
    assert len(rows) == ROUTED
    assert Counter(row[1] for row in rows) == {"sent": ROUTED}, tails
    took_first = Counter(first.accepted_ids())
    took_second = Counter(second.accepted_ids())
    # Each message accepted once, by one provider: none doubled, none lost.
    assert max((took_first + took_second).values()) == 1
    assert set(took_first) | set(took_second) == {row[0] for row in rows}
    assert len(took_first) == HALF_WAY
    # The second provider was sent only what the first did not take, each once.
    assert Counter(second.posted_ids()) == took_second
    for message_id, _, hop, nickname in rows:
        assert (nickname, hop) == (
            ("First", 0) if message_id in took_first else ("Second", 1)
        )
    # The shared breaker opened: the first provider was not tried for every
    # message it no longer took.
    refused = len(first.requests) - HALF_WAY
    assert refused < ROUTED - HALF_WAY, refused
    [(opened,)] = postgres.rows(
        "SELECT count(*) FROM providers_providerhealth WHERE open_until IS NOT NULL"
    )
    assert opened == 1
    # The counters per provider say the same as the providers do.
    counted = dict(
        postgres.rows(
            "SELECT p.nickname, sum(c.count) FROM campaigns_messagecount c "
            "JOIN providers_sender s ON s.id = c.sender_key "
            "JOIN providers_provider p ON p.id = s.provider_id "
            "WHERE c.status = 'sent' GROUP BY p.nickname"
        )
    )
    assert counted == {"First": HALF_WAY, "Second": ROUTED - HALF_WAY}
    for name in ("w1", "w2", "beat"):
        log = processes.log(name)
        assert "Traceback" not in log, f"{name} logged a traceback{tails}"
    wait_until_disconnected(postgres)
    [(deadlocks,)] = postgres.rows(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (postgres.name,)
    )
    assert deadlocks == 0
    print(f"\nrouted campaign: {elapsed:.1f} s, first refused {refused} requests")
