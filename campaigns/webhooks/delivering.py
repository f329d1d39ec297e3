"""One attempt at a webhook delivery, and what follows it: delivered, tried
again later with exponential backoff, or given up WEBHOOK_RETRY_HOURS after
its first attempt.

An attempt is claimed with a conditional UPDATE whose row count is trusted: it
moves the due time on by a lease, so two tasks (a scheduled retry and the
sweeper's) never both send it, and a worker that dies mid-attempt leaves it to
be taken again once the lease ends. The result is written only while the lease
is still the row's, so "Send again" pressed meanwhile wins.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from providers.outbound import transport
from providers.outbound.outcomes import Category
from providers.outbound.transport import Reply

from .. import tasks
from . import payload, signing
from .models import WebhookDelivery

Status = WebhookDelivery.Status
# The sweeper sends deliveries this late: their task was lost (the broker was
# away) or never ran (the worker stopped).
OVERDUE = timedelta(seconds=60)
SWEEP_LIMIT = 1000


def lease() -> timedelta:
    """Longer than any one attempt can take, connecting included."""
    seconds = settings.SMS_TOTAL_TIMEOUT + 2 * settings.SMS_CONNECT_TIMEOUT
    return timedelta(seconds=seconds + 30)


def deliver(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Make the attempt a delivery is due; the status it is left in, or None
    when it was not due (sent already, waiting, or another task has it)."""
    now = now or timezone.now()
    held = now + lease()
    due = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    )
    if not due.update(next_attempt_at=held):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if not delivery.endpoint.is_active:
        result = {"status": Status.FAILED, "next_attempt_at": None}
        result["error"] = "The webhook was deactivated before this was sent."
    else:
        result = attempt(delivery, now=now)
    mine = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at=held
    )
    if not mine.update(**result):
        return None  # sent again meanwhile: that attempt is the one that counts
    if result["status"] == Status.PENDING:
        retry_at(delivery_id, result["next_attempt_at"])
    return result["status"]


def attempt(delivery: WebhookDelivery, *, now: datetime) -> dict[str, Any]:
    """POST the delivery once, signed; the fields that record the attempt."""
    number = delivery.attempts + 1
    first = delivery.first_attempt_at or now
    body = payload.body(
        event_id=delivery.pk,
        attempt=number,
        occurred_at=delivery.occurred_at,
        message=delivery.payload,
        reply=delivery.reply_id is not None,
    )
    endpoint = delivery.endpoint
    # The clock's time, not `now`: the receiver compares it with its own.
    signature = signing.header(
        endpoint.signing_secrets(now=timezone.now()),
        timestamp=int(time.time()),
        body=body,
    )
    reply = transport.post(
        endpoint.url,
        body=body,
        headers={"Content-Type": "application/json", signing.HEADER: signature},
    )
    return {
        "attempts": number,
        "first_attempt_at": first,
        "last_attempt_at": now,
        "answer_status": reply.status,
        "answer": reply.answer,
        **after(reply, attempt=number, first=first, now=now),
    }


def after(reply: Reply, *, attempt: int, first: datetime, now: datetime) -> dict:
    """Delivered on any 2xx; refused by the address policy for good (trying
    again changes nothing until the URL or its DNS does); otherwise again
    after the backoff, unless that is past the day since the first attempt."""
    if reply.ok:
        return {
            "status": Status.DELIVERED,
            "next_attempt_at": None,
            "delivered_at": now,
            "error": "",
        }
    error = failure(reply)
    if reply.failure == Category.BLOCKED:
        return {"status": Status.FAILED, "next_attempt_at": None, "error": error}
    again = now + backoff(attempt)
    if again > first + timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        hours = settings.WEBHOOK_RETRY_HOURS
        error = f"{error} Gave up after {attempt} attempts over {hours:g} h."
        return {"status": Status.FAILED, "next_attempt_at": None, "error": error[:500]}
    return {"status": Status.PENDING, "next_attempt_at": again, "error": error}


def failure(reply: Reply) -> str:
    if reply.status is None:
        return reply.diagnosis[:400]
    if 300 <= reply.status < 400:
        return f"Answered {reply.status}: redirects are not followed."
    return f"Answered {reply.status}; only a 2xx answer is a delivery."


def backoff(attempt: int) -> timedelta:
    """10 s after the first attempt, then twice as long each time, capped."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def retry_at(delivery_id: int, moment: datetime) -> None:
    # An eager (test) Celery would run it at once, before it is due; there the
    # sweeper, or the test, sends it when its time comes.
    if not tasks.deliver_webhook.app.conf.task_always_eager:
        tasks.deliver_soon([delivery_id], eta=moment)


def send_again(deliveries: QuerySet[WebhookDelivery], *, now: datetime) -> int:
    """Queue deliveries again at once, with a new day of retries; the same id,
    so a receiver that had one can tell. How many were queued."""
    ids = list(deliveries.values_list("pk", flat=True))
    again = WebhookDelivery.objects.filter(pk__in=ids).update(
        status=Status.PENDING,
        next_attempt_at=now,
        first_attempt_at=None,
        delivered_at=None,
        error="",
    )
    tasks.deliver_soon(ids)
    return again


def send_overdue(*, now: datetime | None = None) -> int:
    """Queue the deliveries whose task never came (the sweeper's part)."""
    now = now or timezone.now()
    late = WebhookDelivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lte=now - OVERDUE
    )
    ids = list(
        late.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    tasks.deliver_soon(ids)
    return len(ids)
