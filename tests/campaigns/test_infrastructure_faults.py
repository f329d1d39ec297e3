"""What the worker, beat and sender do when the parts around them fail: a
database the worker cannot reach, a broker that is away, a second beat. Each is
said plainly in the log; nothing is lost and nothing is sent twice."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from campaigns import sending, tasks
from campaigns.models import Message
from tests.servers import free_port

from .fake_provider import campaign_to, connect, numbers
from .test_worker import stop


def filesystem_broker(folder: Path) -> dict[str, str]:
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_DIR": str(folder)}


def wait_for_line(log: Path, text: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in log.read_text():
            return True
        time.sleep(0.1)
    return False


def test_a_worker_that_cannot_reach_its_database_says_so(file_db, tmp_path) -> None:
    log = tmp_path / "worker.log"
    env = {
        **filesystem_broker(tmp_path / "broker"),
        "DATABASE_URL": f"postgres://smsbridge@127.0.0.1:{free_port()}/smsbridge",
    }
    worker = file_db.celery(log, env, "worker", "--pool=threads")
    try:
        said = wait_for_line(log, "smsbridge cannot reach its postgresql database")
    finally:
        stop(worker)

    assert said, log.read_text()[-3000:]
    assert "127.0.0.1/smsbridge" in log.read_text()


@pytest.mark.parametrize("broker", ["filesystem", "redis"])
def test_a_second_beat_says_so_and_stops(broker, file_db, tmp_path, request) -> None:
    if broker == "redis":
        url = f"{request.getfixturevalue('redis_server')}/2"
        import redis

        redis.Redis.from_url(url).flushdb()
        env = {"CELERY_BROKER_URL": url}
    else:
        env = filesystem_broker(tmp_path / "broker")
    first_log, second_log = tmp_path / "beat-1.log", tmp_path / "beat-2.log"
    first = file_db.celery(first_log, env, "beat", "-s", str(tmp_path / "s1"))
    second = None
    try:
        assert wait_for_line(first_log, "beat: Starting"), first_log.read_text()
        second = file_db.celery(second_log, env, "beat", "-s", str(tmp_path / "s2"))
        code = second.wait(timeout=20)
        first_still_runs = first.poll() is None
    finally:
        for process in (first, second):
            if process is not None:
                stop(process)

    assert code == 1
    assert "Another beat is already running" in second_log.read_text()
    assert first_still_runs


@pytest.fixture
def broker_away(settings):
    """Celery publishing to a Redis that is not there."""
    from config.celery import app

    saved = {name: app.conf[name] for name in ("task_always_eager", "broker_url")}
    app.conf.update(
        task_always_eager=False, broker_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db
def test_a_launch_with_the_broker_away_keeps_every_message_queued(
    broker_away, caplog, django_capture_on_commit_callbacks
) -> None:
    connect("http://127.0.0.1:9/send")
    campaign = campaign_to(numbers(5))

    with (
        caplog.at_level(logging.ERROR, logger="campaigns.tasks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        queued = sending.launch(campaign=campaign)

    assert queued == 5
    assert campaign.messages.filter(status=Message.Status.QUEUED).count() == 5
    assert f"campaign {campaign.pk} waits in the database" in caplog.text
    assert tasks.wake(campaign.pk) is False
