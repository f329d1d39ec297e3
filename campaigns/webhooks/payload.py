"""What a status webhook says (pure): a message's state as the change left it,
and the JSON body of one attempt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

EVENT_TYPE = "message.status"
REPLY_TYPE = "message.reply"
REPLY = "reply"  # a delivery's event for an inbound reply


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


def replied(inbound: Any) -> dict[str, Any]:
    """An inbound reply as a webhook tells it, from an InboundMessage with its
    provider and campaign loaded."""
    return {
        "id": inbound.pk,
        "from": inbound.from_number,
        "to": inbound.to_number,
        "text": inbound.text,
        "received_at": iso(inbound.received_at),
        "provider": str(inbound.provider),
        "campaign": inbound.campaign.name if inbound.campaign else None,
        # Our id of the last message sent to the number, the one it answers.
        "in_reply_to": inbound.last_message_id or None,
        "keyword": inbound.keyword,
        "action": inbound.action,
    }


def body(
    *,
    event_id: int,
    attempt: int,
    occurred_at: datetime,
    message: dict[str, Any],
    reply: bool = False,
) -> bytes:
    """The bytes posted (and signed) for one attempt. The id is the same on
    every attempt and grows with every change written, so a receiver can drop
    a repeat and put a message's changes in order. An inbound reply's event
    carries the reply under "reply" instead of a message."""
    event = {
        "type": REPLY_TYPE if reply else EVENT_TYPE,
        "id": event_id,
        "attempt": attempt,
        "occurred_at": iso(occurred_at),
        REPLY if reply else "message": message,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
