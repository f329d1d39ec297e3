"""Celery tasks: each fetches by id and calls the workflow in sending.py (or,
for auto-replies, inbound.py)."""

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

    swept = run()
    send_waiting_replies()
    return swept


@shared_task(ignore_result=True)
def send_auto_reply(inbound_id: int) -> str:
    from .inbound import send_auto_reply as run

    return run(inbound_id=inbound_id)


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


def publish(task, campaign_id: int, **options) -> bool:
    try:
        task.apply_async((campaign_id,), **options)
    except OperationalError as error:
        logger.error(
            "The task broker cannot be reached (%s): campaign %s waits in the "
            "database until the sweeper wakes it.",
            error,
            campaign_id,
            extra={"campaign_id": campaign_id},
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
