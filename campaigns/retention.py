"""Forgetting what is old: delivery-report log rows, test sends, delivered or
failed webhook deliveries and the messages of finished campaigns, deleted in
batches.

A campaign's statistics are its counters (campaigns/counts.py), which purging
leaves as they are, so a purged campaign still shows what it sent, delivered
and failed. Reports still waiting to be applied are never purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from providers.models import TestSend

from .models import (
    Campaign,
    DeliveryReport,
    IdempotencyKey,
    Message,
    WebhookDelivery,
)

BATCH = 5000


@dataclass
class Purged:
    delivery_reports: int = 0
    test_sends: int = 0
    messages: int = 0
    idempotency_keys: int = 0
    webhook_deliveries: int = 0


def purge(*, older_than_days: int | None = None, now: datetime | None = None) -> Purged:
    """Delete what is older than `older_than_days` (PURGE_AFTER_DAYS)."""
    days = settings.PURGE_AFTER_DAYS if older_than_days is None else older_than_days
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    # Keys are kept for their own few hours, however long the rest is kept.
    keys_expired = now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    return Purged(
        delivery_reports=delete_in_batches(
            DeliveryReport.objects.filter(received_at__lt=cutoff).exclude(
                state=DeliveryReport.State.WAITING
            )
        ),
        test_sends=delete_in_batches(TestSend.objects.filter(created_at__lt=cutoff)),
        # Before the messages, whose deletion would take them along row by row.
        webhook_deliveries=delete_in_batches(
            WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
                status=WebhookDelivery.Status.PENDING
            )
        ),
        messages=delete_in_batches(finished_messages(cutoff)),
        idempotency_keys=delete_in_batches(
            IdempotencyKey.objects.filter(created_at__lt=keys_expired)
        ),
    )


def finished_messages(cutoff: datetime) -> QuerySet:
    """Messages in a final state created before `cutoff`, of campaigns that are
    over (completed or cancelled) or event-triggered (which never end); a
    running one-time campaign keeps all its rows."""
    over = [Campaign.Status.COMPLETED, Campaign.Status.CANCELLED]
    return Message.objects.filter(
        Q(campaign__status__in=over) | Q(campaign__kind=Campaign.Kind.EVENT),
        status__in=Message.TERMINAL,
        created_at__lt=cutoff,
    )


def delete_in_batches(rows: QuerySet) -> int:
    """Delete `rows` BATCH at a time, each batch its own short transaction, so
    the workers and the callback URL never wait long behind a purge."""
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not batch:
                return deleted
            rows.model.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
