"""Delivery statistics of a campaign, as the progress panel shows them: read
from the campaign's counters (campaigns/counts.py), never by counting its
messages, so the panel answers as fast for a million messages as for ten."""

from __future__ import annotations

from collections import Counter

from django.db.models import Q, Subquery

from providers.models import Sender

from . import counts
from .models import FAILURE_CHOICES, REPORTED_FAILURES, Campaign, Message

Status = Message.Status
LABELS = dict(FAILURE_CHOICES)
SHOWN_FAILURES = 10


def campaign_stats(campaign: Campaign) -> dict:
    per_sender = counts.read_by_sender(campaign.pk)
    counters: Counter = sum(per_sender.values(), Counter())
    sending = campaign.messages.filter(status=Status.SENDING).count()
    by_status = counts.by_status(counters, sending=sending)
    sent_or_later = by_status[Status.SENT] + by_status[Status.DELIVERED]
    reported = sum(counters[counts.key(Status.FAILED, c)] for c in REPORTED_FAILURES)
    reached_provider = sent_or_later + reported
    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "total": counters[counts.TOTAL, ""],
        "counts": by_status,
        "done": sum(by_status[s] for s in Message.TERMINAL),
        # Delivered of those the provider accepted, as CleverTap computes it.
        "delivery_rate": round(100 * by_status[Status.DELIVERED] / reached_provider, 1)
        if reached_provider
        else None,
        "failures": failures(campaign, counters),
        "providers": by_provider(campaign, per_sender),
    }


def by_provider(campaign: Campaign, per_sender: dict[int, Counter]) -> list[dict]:
    """What each provider did with the campaign's messages, when more than one
    had a part in it (a route): accepted, delivered, failed at sending, and
    handed on to the route's next provider."""
    senders = [pk for pk in per_sender if pk]
    if not (campaign.route_id or len(senders) > 1):
        return []
    named = Sender.objects.select_related("provider").in_bulk(senders)
    rows = []
    for pk in sorted(senders):
        counters = per_sender[pk]
        reported = sum(
            counters[counts.key(Status.FAILED, c)] for c in REPORTED_FAILURES
        )
        delivered = counters[counts.key(Status.DELIVERED)]
        accepted = counters[counts.key(Status.SENT)] + delivered + reported
        failed = sum(
            n for (status, _), n in counters.items() if status == Status.FAILED
        )
        sender = named.get(pk)
        rows.append(
            {
                "provider": str(sender.provider)
                if sender
                else f"sender {pk} (deleted)",
                "sender": sender.name if sender else "",
                "accepted": accepted,
                "delivered": delivered,
                "failed": failed - reported,
                "undelivered": reported,
                "handed_on": sum(
                    n
                    for (status, _), n in counters.items()
                    if status == counts.HANDED_ON
                ),
            }
        )
    return rows


def failures(campaign: Campaign, counters: Counter) -> list[dict]:
    """The most frequent failure categories, each with its latest reason."""
    found = [
        (n, status, category)
        for (status, category), n in counters.items()
        if status in (Status.FAILED, Status.SKIPPED) and n > 0
    ]
    shown = sorted(found, reverse=True)[:SHOWN_FAILURES]
    reasons = latest_reasons(campaign, [(status, c) for _, status, c in shown])
    return [
        {
            "failure_category": category,
            "failure_label": LABELS.get(category, ""),
            "failure_reason": reasons.get((status, category), ""),
            "count": n,
        }
        for n, status, category in shown
    ]


def latest_reasons(
    campaign: Campaign, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The latest reason of each (status, category), in one query whatever
    their number: each is the newest row of its kind, found backwards along
    the (campaign, status, id) index."""
    if not keys:
        return {}
    newest = Q()
    for status, category in keys:
        latest = (
            campaign.messages.filter(status=status, failure_category=category)
            .order_by("-pk")
            .values("pk")[:1]
        )
        newest |= Q(pk=Subquery(latest))
    rows = Message.objects.filter(newest).values_list(
        "status", "failure_category", "failure_reason"
    )
    return {(status, category): reason for status, category, reason in rows}
