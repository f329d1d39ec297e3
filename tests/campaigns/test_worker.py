"""A campaign sent by a real Celery worker process, not eager tasks.

The worker and a setup process share a migrated SQLite file (conftest.file_db)
and a real redis-server as broker; the provider is the local fake. Countdowns and
ETAs are real here, so retries happen by themselves.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

from .conftest import BASE_DIR, CELERY, FileDb
from .fake_provider import fail, rate_limited, script

SETUP = """
import os
from campaigns import sending
from tests.campaigns.fake_provider import campaign_to, connect, numbers

connect(os.environ["FAKE_URL"])
campaign = campaign_to(numbers(40))
sending.launch(campaign=campaign)
print(campaign.pk)
"""
DEADLINE_SECONDS = 45


def pending(db: FileDb, campaign_id: int) -> int:
    [(count,)] = db.rows(
        "SELECT count(*) FROM campaigns_message WHERE campaign_id = ? "
        "AND status IN ('queued', 'sending')",
        (campaign_id,),
    )
    return count


def start_worker(db: FileDb, log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - the project's celery and fixed arguments
        [str(CELERY), "-A", "config", "worker", "--pool=threads", "--concurrency=2"]
        + ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        + ["--loglevel=INFO"],
        cwd=BASE_DIR,
        env=db.env(**env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


def test_a_real_worker_sends_every_message_exactly_once(
    fake_provider, file_db, redis_server, tmp_path
) -> None:
    import redis

    broker = f"{redis_server}/1"
    redis.Redis.from_url(broker).flushdb()
    fake_provider.plan = script(fail(503), rate_limited(0.5))
    env = {
        "CELERY_BROKER_URL": broker,
        "SEND_CHUNK_SIZE": "10",
        "SEND_CONCURRENCY": "4",
        "SEND_RETRY_BASE_SECONDS": "0.3",
    }
    campaign_id = int(file_db.run(SETUP, FAKE_URL=fake_provider.url, **env))
    log = tmp_path / "worker.log"

    worker = start_worker(file_db, log, env)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while pending(file_db, campaign_id) and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        stop(worker)

    assert pending(file_db, campaign_id) == 0, log.read_text()[-3000:]
    messages = dict(
        file_db.rows(
            "SELECT message_id, status FROM campaigns_message WHERE campaign_id = ?",
            (campaign_id,),
        )
    )
    [(campaign_status,)] = file_db.rows(
        "SELECT status FROM campaigns_campaign WHERE id = ?", (campaign_id,)
    )
    ids = Counter(messages.keys())
    accepted = Counter(fake_provider.accepted_ids())
    refused = [r.ids[0] for r in fake_provider.requests if r.answer.status != 200]
    assert len(messages) == 40
    assert set(messages.values()) == {"sent"}
    assert campaign_status == "completed"
    assert accepted == ids  # every message, once
    assert len(refused) == 2
    # The refused ones were posted again later, with the same ids; nothing else was.
    assert Counter(fake_provider.posted_ids()) == ids + Counter(refused)
