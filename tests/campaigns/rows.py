"""Messages made directly for a test, counted as the workflow would count them
(campaigns/counts.py), so pages and actions that read the counters see them."""

from __future__ import annotations

from campaigns import counts
from campaigns.models import Message


def stored_message(**fields) -> Message:
    message = Message.objects.create(**fields)
    state = (message.status, message.failure_category)
    counts.add(message.campaign_id, counts.created([state]))
    return message
