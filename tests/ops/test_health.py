"""GET /healthz: 200 when the database, the broker, a worker and the delivery
reports are well, 503 with the failing check otherwise, never a 500."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import DeliveryReport
from ops import heartbeat
from tests import servers
from tests.campaigns.conftest import BASE_DIR, PRELUDE

pytestmark = pytest.mark.django_db


def health(client, **headers) -> tuple[int, dict]:
    response = client.get("/healthz", headers=headers)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def failing(body: dict) -> set[str]:
    return {name for name, check in body["checks"].items() if not check["ok"]}


@pytest.fixture
def worker_alive() -> None:
    heartbeat.beat("w1@test")


def test_it_answers_200_when_everything_is_well(
    client, filesystem_broker, worker_alive
) -> None:
    status, body = health(client)

    assert status == 200
    assert body["status"] == "ok"
    assert failing(body) == set()
    assert body["checks"]["broker"]["kind"] == "filesystem"
    assert body["checks"]["delivery_reports"]["waiting"] == 0
    assert body["checks"]["worker"]["age_s"] < 5


def test_it_answers_503_when_a_broker_folder_is_missing(
    client, filesystem_broker, worker_alive
) -> None:
    shutil.rmtree(filesystem_broker / "queue")

    status, body = health(client)

    assert status == 503
    assert body["status"] == "failing"
    assert failing(body) == {"broker"}
    assert (
        body["checks"]["broker"]["error"] == "the broker folder queue/ does not exist"
    )


def test_it_answers_503_once_the_redis_broker_stops(
    client, settings, worker_alive
) -> None:
    settings.HEALTH_TIMEOUT_SECONDS = 0.5
    with servers.redis_server() as redis:
        settings.CELERY_BROKER_URL = f"{redis.url}/0"
        assert health(client)[0] == 200

    status, body = health(client)

    assert status == 503
    assert failing(body) == {"broker"}
    assert body["checks"]["broker"]["error"].startswith(
        "Redis did not answer within 0.5 s"
    )
    assert "redis://" not in json.dumps(body)  # a URL may hold a password


def test_it_answers_503_when_the_worker_heartbeat_is_stale(
    client, settings, filesystem_broker
) -> None:
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 60
    heartbeat.beat("w1@test", now=timezone.now() - timedelta(seconds=90))

    status, body = health(client)

    assert status == 503
    assert failing(body) == {"worker"}
    assert body["checks"]["worker"]["error"] == "no worker heartbeat for 90 s"

    heartbeat.beat("w2@test")  # another worker, alive
    assert health(client)[0] == 200


def test_it_answers_503_when_no_worker_ever_reported(client, filesystem_broker) -> None:
    status, body = health(client)

    assert status == 503
    assert body["checks"]["worker"]["error"] == "no worker has ever reported"


def test_it_answers_503_when_a_delivery_report_waits_too_long(
    client, settings, filesystem_broker, worker_alive, provider
) -> None:
    settings.HEALTH_DLR_MAX_AGE_SECONDS = 120
    now = timezone.now()
    for seconds in (10, 150):
        DeliveryReport.objects.create(
            provider=provider,
            received_at=now - timedelta(seconds=seconds),
            method="POST",
            response_status=200,
            result="Waiting",
        )

    status, body = health(client)

    assert status == 503
    assert failing(body) == {"delivery_reports"}
    reports = body["checks"]["delivery_reports"]
    assert reports["waiting"] == 2
    assert 150 <= reports["oldest_s"] < 160

    DeliveryReport.objects.filter(received_at__lt=now - timedelta(seconds=100)).update(
        state=DeliveryReport.State.APPLIED
    )
    assert health(client)[0] == 200


def test_load_balancers_ask_by_address_over_http(
    client, settings, filesystem_broker, worker_alive
) -> None:
    settings.ALLOWED_HOSTS = ["sms.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    status, _ = health(client, Host="10.0.0.5")

    assert status == 200
    # Any other page asked that way is refused by the host check.
    assert client.get("/admin/login/", headers={"Host": "10.0.0.5"}).status_code == 400


def test_a_database_that_is_down_is_a_503_not_an_error_page() -> None:
    """A process whose PostgreSQL does not answer (nothing listens on its port)."""
    code = PRELUDE + (
        "from django.test import Client\n"
        "answer = Client().get('/healthz')\n"
        "print(answer.status_code)\n"
        "print(answer.content.decode())\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://smsbridge@127.0.0.1:{servers.free_port()}/none",
        "CELERY_BROKER_URL": "memory://",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, body = done.stdout.split("\n", 1)

    assert status == "503"
    checks = json.loads(body)["checks"]
    assert checks["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": checks["database"]["ms"],
    }
    assert checks["broker"]["ok"] is True
    assert checks["worker"]["error"] == "the database cannot be reached"
    assert "Traceback" not in done.stderr
