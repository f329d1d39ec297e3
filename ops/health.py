"""What /healthz reports: the database, the broker, the workers' heartbeat and
the delivery reports waiting to be applied. Each check says ok or why not, and
none raises: a database that is away is a failing check, not an error page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from campaigns.models import DeliveryReport

from . import broker, heartbeat

Result = dict[str, object]


def report(*, now: datetime | None = None) -> tuple[bool, dict[str, Result]]:
    """(all well, each check's result)."""
    now = now or timezone.now()
    checks = {"database": timed(database), "broker": timed(broker_check)}
    if checks["database"]["ok"]:
        checks["worker"] = guarded(lambda: worker(now))
        checks["delivery_reports"] = guarded(lambda: delivery_reports(now))
    else:
        away = {"ok": False, "error": "the database cannot be reached"}
        checks["worker"] = checks["delivery_reports"] = away
    return all(check["ok"] for check in checks.values()), checks


def timed(check: Callable[[], Result]) -> Result:
    started = time.monotonic()
    result = guarded(check)
    return result | {"ms": round((time.monotonic() - started) * 1000, 1)}


def guarded(check: Callable[[], Result]) -> Result:
    try:
        return check()
    except broker.Unreachable as err:
        return {"ok": False, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - a health check reports, never raises
        # The type only: a driver's message may name hosts and users.
        return {"ok": False, "error": type(err).__name__}


def database() -> Result:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def broker_check() -> Result:
    broker.check()
    return {"ok": True, "kind": broker.kind()}


def worker(now: datetime) -> Result:
    limit = settings.HEALTH_WORKER_MAX_AGE_SECONDS
    latest = heartbeat.freshest()
    if latest is None:
        return {"ok": False, "error": "no worker has ever reported", "max_age_s": limit}
    age = max(0.0, (now - latest.seen_at).total_seconds())
    result: Result = {"ok": age <= limit, "age_s": round(age, 1), "max_age_s": limit}
    if age > limit:
        result["error"] = f"no worker heartbeat for {age:.0f} s"
    return result


def delivery_reports(now: datetime) -> Result:
    limit = settings.HEALTH_DLR_MAX_AGE_SECONDS
    # Only waiting rows are read, through the partial index that holds them.
    waiting = DeliveryReport.objects.filter(state=DeliveryReport.State.WAITING)
    found = waiting.aggregate(count=Count("pk"), oldest=Min("received_at"))
    age = (now - found["oldest"]).total_seconds() if found["oldest"] else 0.0
    age = max(0.0, age)
    result: Result = {
        "ok": age <= limit,
        "waiting": found["count"],
        "oldest_s": round(age, 1),
        "max_age_s": limit,
    }
    if age > limit:
        result["error"] = f"a delivery report has waited {age:.0f} s to be applied"
    return result
