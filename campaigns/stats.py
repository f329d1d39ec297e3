"""Delivery statistics of a campaign, as the progress panel shows them: read
from the campaign's counters (campaigns/counts.py), never by counting its
messages, so the panel answers as fast for a million messages as for ten."""

from __future__ import annotations

from collections import Counter

from django.db.models import Q, Subquery

from . import counts
from .models import FAILURE_CHOICES, REPORTED_FAILURES, Campaign, Message

Status = Message.Status
LABELS = dict(FAILURE_CHOICES)
SHOWN_FAILURES = 10


def campaign_stats(campaign: Campaign) -> dict:
    counters = counts.read([campaign.pk]).get(campaign.pk, Counter())
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
    }


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
