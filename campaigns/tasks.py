"""Celery tasks: each fetches by id and calls the workflow (sending.py, and
webhooks/delivering.py for status webhooks)."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def send_chunk(campaign_id: int) -> int:
    from .sending import work

    return work(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def start_campaign(campaign_id: int) -> int:
    from .sending import start

    return start(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def sweep() -> int:
    from .sending import sweep as run
    from .webhooks.delivering import send_overdue

    send_overdue()
    return run()


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> str | None:
    from .webhooks.delivering import deliver

    return deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def purge() -> None:
    from .retention import purge as run

    purged = run()
    logger.info("purged %s", purged)


def wake(campaign_id: int, **options) -> bool:
    """Queue a send_chunk task (apply_async's options); False if the broker
    cannot be reached. Nothing is lost then: the messages wait in the database
    and the sweeper wakes their campaign once the broker is back."""
    return publish(send_chunk, campaign_id, **options)


def deliver_soon(delivery_ids: list[int], **options) -> None:
    """Queue a deliver_webhook task per delivery (apply_async's options). If
    the broker cannot be reached they wait in the database, and the sweeper
    queues them once it is back."""
    for delivery_id in delivery_ids:
        if not publish(
            deliver_webhook, delivery_id, what="webhook delivery", **options
        ):
            return  # each would wait for the broker in vain


def publish(task, object_id: int, *, what: str = "campaign", **options) -> bool:
    try:
        task.apply_async((object_id,), **options)
    except OperationalError as error:
        logger.error(
            "The task broker cannot be reached (%s): %s %s waits in the "
            "database until the sweeper wakes it.",
            error,
            what,
            object_id,
        )
        return False
    return True
