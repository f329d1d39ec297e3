from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import beat_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smsbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
logger = logging.getLogger("smsbridge")


@worker_ready.connect
def check_database(**kwargs) -> None:
    """Say at start-up, in one line, when the database cannot be reached: every
    task would fail until it can (messages wait, queued, meanwhile)."""
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as error:  # noqa: BLE001 - reported, the worker keeps trying
        where = connection.settings_dict
        logger.critical(
            "smsbridge cannot reach its %s database %s%s: %s. Nothing is sent "
            "until it can; messages wait, queued.",
            connection.vendor,
            where.get("HOST") or "",
            f"/{where.get('NAME')}" if where.get("HOST") else where.get("NAME"),
            error,
        )
    finally:
        connection.close()


@beat_init.connect
def only_one_beat(**kwargs) -> None:
    from .single_beat import take

    holder = take()
    if holder:
        logger.critical(
            "Another beat is already running (%s); this one stops. Run exactly "
            "one `celery -A config beat`.",
            holder,
        )
        logging.shutdown()
        os._exit(1)


@worker_ready.connect
def apply_delivery_reports(**kwargs) -> None:
    """The worker applies the delivery reports that the callback URL stored, on
    a thread of its main process: looking every DLR_APPLY_EVERY_SECONDS costs
    one indexed query, where a task would cost a trip through the broker."""
    from campaigns.dlr.applying import Applier

    Applier().start()
