"""Delivery statistics of a campaign, as the progress panel shows them."""

from __future__ import annotations

from django.db.models import Count

from .models import FAILURE_CHOICES, Campaign, Message

Status = Message.Status
LABELS = dict(FAILURE_CHOICES)


def campaign_stats(campaign: Campaign) -> dict:
    counts = dict(
        campaign.messages.values_list("status").annotate(n=Count("pk")).order_by()
    )
    total = sum(counts.values())
    sent_or_later = counts.get(Status.SENT, 0) + counts.get(Status.DELIVERED, 0)
    undelivered = campaign.messages.filter(
        status=Status.FAILED, failure_category="undelivered"
    ).count()
    reached_provider = sent_or_later + undelivered
    failures = (
        campaign.messages.filter(status__in=[Status.FAILED, Status.SKIPPED])
        .values("failure_category", "failure_reason")
        .annotate(count=Count("pk"))
        .order_by("-count")[:10]
    )
    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "total": total,
        "counts": {status: counts.get(status, 0) for status in Status.values},
        "done": sum(counts.get(s, 0) for s in Message.TERMINAL),
        # Delivered of those the provider accepted, as CleverTap computes it.
        "delivery_rate": round(
            100 * counts.get(Status.DELIVERED, 0) / reached_provider, 1
        )
        if reached_provider
        else None,
        "failures": [
            {**failure, "failure_label": LABELS.get(failure["failure_category"], "")}
            for failure in failures
        ],
    }
