"""Celery tasks: each fetches by id and calls the workflow in sending.py (or,
for auto-replies, inbound.py; for status webhooks, webhooks/delivering.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from config.logs import bound

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def send_chunk(campaign_id: int) -> int:
    from .sending import work

    with bound(campaign_id=campaign_id):
        return work(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def start_campaign(campaign_id: int) -> int:
    from .sending import start

    with bound(campaign_id=campaign_id):
        return start(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def sweep() -> int:
    from .inbound import send_waiting_replies
    from .sending import sweep as run
    from .webhooks.delivering import send_overdue

    swept = run()
    send_waiting_replies()
    send_overdue()
    return swept


@shared_task(ignore_result=True)
def send_auto_reply(inbound_id: int) -> str:
    from .inbound import send_auto_reply as run

    return run(inbound_id=inbound_id)


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
            # A campaign's id in the log line's own field (config/logs.py).
            extra={"campaign_id": object_id} if what == "campaign" else {},
        )
        return False
    return True


def queue_auto_reply(inbound_id: int) -> bool:
    """Hand an auto-reply to the worker; False if the broker cannot be reached,
    and then the sweeper sends it a minute later."""
    try:
        send_auto_reply.apply_async((inbound_id,))
    except OperationalError as error:
        logger.error(
            "The task broker cannot be reached (%s): the auto-reply to inbound "
            "reply %s waits for the sweeper.",
            error,
            inbound_id,
        )
        return False
    return True
