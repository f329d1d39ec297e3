from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from campaigns import throttle
from campaigns.models import ApiToken
from providers.models import Provider
from tests import servers

from .fake_provider import FakeProvider

BASE_DIR = Path(__file__).resolve().parents[2]
# What the subprocesses' SQLite needs to be shared by several processes: WAL so
# readers never block the writer, IMMEDIATE so a transaction takes the write lock
# up front (waiting for it) instead of failing when it upgrades.
SQLITE_OPTIONS = urlencode(
    {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=OFF",
    }
)
PRELUDE = "import django\ndjango.setup()\n"
CELERY = Path(sys.executable).with_name("celery")


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@dataclass(frozen=True)
class QueuedTask:
    name: str
    args: list
    eta: datetime | None


@pytest.fixture
def broker_queue() -> Iterator[Callable[[], list[QueuedTask]]]:
    """Celery publishing to an in-memory broker instead of running tasks eagerly.

    For code that schedules work for later: eager mode would run it at once (and
    a task that reschedules itself would recurse). Yields a function that takes
    the queued tasks off the queue.
    """
    from config.celery import app

    names = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {name: app.conf[name] for name in names}

    def use(**conf: object) -> None:
        app.conf.update(conf)
        # Connections are pooled per broker URL; let the next publish make new ones.
        app._pool = None
        app.amqp._producer_pool = None

    def drain() -> list[QueuedTask]:
        found = []
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue(app.conf.task_default_queue)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                eta = message.headers.get("eta")
                found.append(
                    QueuedTask(
                        name=message.headers["task"],
                        args=message.payload[0],
                        eta=datetime.fromisoformat(eta) if eta else None,
                    )
                )
                message.ack()
            queue.close()
        return found

    use(task_always_eager=False, broker_url="memory://", broker_transport_options={})
    drain()  # the memory broker is per process; start from an empty queue
    try:
        yield drain
    finally:
        use(**saved)


# --- a real Redis and a real PostgreSQL (tests/servers.py) ------------------------


@contextmanager
def or_skip(server) -> Iterator[str]:
    try:
        with server as started:
            yield started.url
    except servers.NotInstalled as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free port; its base URL, without a db number."""
    with or_skip(servers.redis_server()) as url:
        yield url


@pytest.fixture
def redis_url(redis_server, settings) -> Iterator[str]:
    """An empty Redis database that throttle.acquire uses as the broker's."""
    import redis

    url = f"{redis_server}/0"
    redis.Redis.from_url(url).flushdb()
    settings.CELERY_BROKER_URL = url
    throttle.schedule.cache_clear()
    yield url
    throttle.schedule.cache_clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a free port; its URL for DATABASE_URL."""
    with or_skip(servers.postgres_server()) as url:
        yield url


# --- a file database shared with other processes -------------------------------------


@dataclass(frozen=True)
class FileDb:
    """A migrated SQLite file, and Django processes that use it."""

    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}?{SQLITE_OPTIONS}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # Tasks queued by setup scripts go nowhere unless a test says otherwise.
            "CELERY_BROKER_URL": "memory://",
            **extra,
        }

    def command(self, code: str) -> list[str]:
        return [sys.executable, "-c", PRELUDE + textwrap.dedent(code)]

    def popen(self, code: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and code
            self.command(code),
            cwd=BASE_DIR,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, code: str, *, timeout: float = 60, **env: str) -> str:
        """Run Django code in a new process; its stdout, or the test fails."""
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            self.command(code),
            cwd=BASE_DIR,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            pytest.fail(f"the Django process failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def celery(self, log: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
        """A Celery process (worker, beat) on this database, its output in `log`,
        in a process group of its own (so a test can tell nothing of it is left)."""
        return subprocess.Popen(  # noqa: S603 - the project's celery and fixed arguments
            [str(CELERY), "-A", "config", *args, "--loglevel=INFO"],
            cwd=BASE_DIR,
            env=self.env(**env),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    template = FileDb(path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=template.env(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def file_db(migrated_sqlite, tmp_path) -> FileDb:
    """A fresh copy of a migrated database, for one test's processes."""
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return FileDb(path)


@pytest.fixture
def provider(db) -> Provider:
    """A provider for delivery-report tests; nothing is sent to it."""
    return Provider.objects.create(nickname="8x8 SMS", endpoint="https://8.8.8.8/x")


# --- the event API ---------------------------------------------------------------

EVENTS = "/api/v1/events"


@pytest.fixture
def token() -> str:
    api_token = ApiToken(name="app-backend")
    plain = api_token.issue()
    api_token.save()
    return plain


@pytest.fixture
def post(client, token, django_capture_on_commit_callbacks):
    def send(
        body: Any,
        *,
        auth: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                EVENTS,
                data=raw if raw is not None else json.dumps(body),
                content_type="application/json",
                headers={"Authorization": auth or f"Bearer {token}", **(headers or {})},
            )

    return send
