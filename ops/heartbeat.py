"""A Celery worker says it is alive: a thread of its main process writes the
time to its WorkerHeartbeat row every HEALTH_HEARTBEAT_SECONDS, started when
the worker is ready (config/celery.py), as the delivery-report applier is.

It proves the worker process runs and reaches the database. The web process
checks the broker itself (ops/health.py), and a worker that runs but takes no
work shows as a growing task queue and delivery-report backlog (/metrics).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)
# Rows of workers gone this long (renamed, or containers replaced) are removed.
FORGET_AFTER = timedelta(days=1)


def beat(name: str, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if not WorkerHeartbeat.objects.filter(name=name).update(seen_at=now):
        WorkerHeartbeat.objects.bulk_create(
            [WorkerHeartbeat(name=name, seen_at=now)], ignore_conflicts=True
        )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()


def freshest() -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.order_by("-seen_at").first()


class Heartbeat(threading.Thread):
    """beat() on a daemon thread until stop(); a failure (the database away)
    is logged once, and the next beats go on trying."""

    def __init__(self, name: str) -> None:
        super().__init__(name="smsbridge-heartbeat", daemon=True)
        self.worker = name
        self.stopping = threading.Event()

    def run(self) -> None:
        failing = False
        try:
            while True:
                try:
                    beat(self.worker)
                    failing = False
                except Exception:
                    if not failing:
                        logger.exception("The worker heartbeat could not be written")
                    failing = True
                    close_old_connections()
                if self.stopping.wait(settings.HEALTH_HEARTBEAT_SECONDS):
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()
