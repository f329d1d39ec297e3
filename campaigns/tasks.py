"""Celery tasks: each fetches by id and calls the workflow in sending.py."""

from __future__ import annotations

from celery import shared_task


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

    return run()
