"""What a status webhook says (pure): a message's state as the change left it,
and the JSON body of one attempt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

EVENT_TYPE = "message.status"


def described(message: Any, *, previous: str | None) -> dict[str, Any]:
    """The message as an event tells it, from a Message with its campaign and
    sender's provider loaded; the same fields as GET /api/v1/messages/<id>."""
    queued = message.status == "queued"
    return {
        "id": message.message_id,
        "status": message.status,
        "previous_status": previous,
        "to": message.to,
        "campaign": message.campaign.name,
        # The provider it went to (on a route, the one it is with now).
        "provider": str(message.sender.provider) if message.sender else None,
        "provider_message_id": message.provider_message_id,
        "attempts": message.attempts,
        # Queued again after a failed attempt: when the next one is due.
        "next_attempt_at": iso(message.next_attempt_at) if queued else None,
        "failure_category": message.failure_category,
        "failure_reason": message.failure_reason,
        "delivery_error_code": message.delivery_error_code,
        "delivery_description": message.delivery_description,
        "sent_at": iso(message.sent_at),
        "delivered_at": iso(message.delivered_at),
    }


def body(
    *, event_id: int, attempt: int, occurred_at: datetime, message: dict[str, Any]
) -> bytes:
    """The bytes posted (and signed) for one attempt. The id is the same on
    every attempt and grows with every change written, so a receiver can drop
    a repeat and put a message's changes in order."""
    event = {
        "type": EVENT_TYPE,
        "id": event_id,
        "attempt": attempt,
        "occurred_at": iso(occurred_at),
        "message": message,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
