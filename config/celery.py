from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    task_postrun,
    task_prerun,
    worker_ready,
)

from . import logs

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


@worker_ready.connect
def keep_heartbeat(sender, **kwargs) -> None:
    """The worker's heartbeat, which /healthz reads (ops/heartbeat.py), under
    its node name (-n w1@%h)."""
    from ops.heartbeat import Heartbeat

    Heartbeat(sender.hostname).start()


@after_setup_logger.connect
@after_setup_task_logger.connect
def json_logs(logger=None, **kwargs) -> None:
    """Celery sets up its own handlers (the worker's and beat's log); with
    LOG_FORMAT=json they write what Django's do."""
    from django.conf import settings

    if logger is not None and settings.LOG_FORMAT == "json":
        logs.to_json(logger)


_task_context: dict[str, list] = {}


@task_prerun.connect
def bind_task(task_id=None, task=None, **kwargs) -> None:
    """Every line a task logs names it and its id."""
    _task_context[task_id] = logs.bind(task=task.name, task_id=task_id)


@task_postrun.connect
def unbind_task(task_id=None, **kwargs) -> None:
    tokens = _task_context.pop(task_id, None)
    if tokens:
        logs.unbind(tokens)
