"""What the Cancel and Retry failed buttons do to a running or finished campaign.

Both move messages in one transaction with the campaign's counters, one
(sender, category) at a time, so each counter loses exactly what moved, and
with the status webhooks' deliveries of an event campaign's messages.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import counts
from .models import REPORTED_FAILURES, Campaign, Message
from .sending import enqueue
from .webhooks import outbox

Status = Message.Status


def cancel(*, campaign: Campaign) -> int:
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).exclude(
            status__in=[Campaign.Status.COMPLETED, Campaign.Status.CANCELLED]
        ).update(status=Campaign.Status.CANCELLED)
        queued = campaign.messages.filter(status=Status.QUEUED)
        watched = for_webhooks(campaign, queued)
        cancelled = queued.update(
            status=Status.CANCELLED, failure_reason="The campaign was cancelled."
        )
        counts.add(campaign.pk, {counts.key(Status.CANCELLED): cancelled})
        tell(watched, Status.CANCELLED, previous=Status.QUEUED)
        return cancelled


def for_webhooks(campaign: Campaign, messages) -> list[Message]:
    """Those of `messages` an API token queued, whose webhooks hear of the
    change; only an event-triggered campaign has any."""
    if campaign.kind != Campaign.Kind.EVENT:
        return []
    return list(messages.exclude(api_token=None).only("api_token"))


def tell(messages: list[Message], status: str, *, previous: str) -> None:
    now = timezone.now()
    outbox.note(outbox.changed(messages, status=status, previous=previous, at=now))


# Messages a delivery report failed (undelivered, blocked by DLT) did reach the
# provider, and an unconfirmed one may have been accepted: sending any of them
# again could reach the recipient twice.
NEVER_RETRIED = (*REPORTED_FAILURES, "opted_out", "unconfirmed")


def retryable(campaign: Campaign):
    """Failed sends worth another try."""
    return campaign.messages.filter(status=Status.FAILED).exclude(
        failure_category__in=NEVER_RETRIED
    )


def retryable_categories(campaign: Campaign) -> list[str]:
    """The failure categories of the campaign worth another try, by its
    counters: reading them off the failed rows would read every one."""
    counters = counts.read([campaign.pk]).get(campaign.pk, {})
    return sorted(
        category
        for (status, category), n in counters.items()
        if status == Status.FAILED and n > 0 and category not in NEVER_RETRIED
    )


def retry_failed(*, campaign: Campaign) -> int:
    """Queue the campaign's failed sends again, with the same message ids."""
    again = 0
    with transaction.atomic():
        # One sender and category at a time, so each counter loses exactly
        # what moved.
        by_sender = counts.read_by_sender(campaign.pk)
        # A sender's own rows first; counters of no sender (kept before
        # counters named senders) take what is left.
        for sender_id, counters in sorted(by_sender.items(), reverse=True):
            delta = {}
            for (status, category), n in counters.items():
                if status != Status.FAILED or n <= 0 or category in NEVER_RETRIED:
                    continue
                failed = retryable(campaign).filter(failure_category=category)
                if sender_id:
                    failed = failed.filter(sender_id=sender_id)
                watched = for_webhooks(campaign, failed)
                moved = failed.update(
                    status=Status.QUEUED,
                    attempts=0,
                    next_attempt_at=None,
                    claim="",
                    maybe_sent=False,
                )
                delta[counts.key(Status.FAILED, category)] = -moved
                tell(watched, Status.QUEUED, previous=Status.FAILED)
            counts.add(campaign.pk, delta, sender_id=sender_id)
            again -= sum(delta.values())
        if again:
            Campaign.objects.filter(pk=campaign.pk).update(
                status=Campaign.Status.SENDING, completed_at=None
            )
            transaction.on_commit(lambda: enqueue(campaign.pk, again))
    return again
