"""Apply normalised delivery reports to what smsbridge sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from providers.dlr import StatusUpdate
from providers.models import Provider, TestSend

from .models import Message, OptOut

STOP_WORDS = frozenset({"stop", "unsubscribe", "stopall", "cancel", "end", "quit"})


@dataclass
class TrackingResult:
    applied: int = 0
    unchanged: int = 0
    unmatched: list[str] = field(default_factory=list)
    events: int = 0


def apply_updates(
    *, provider: Provider, updates: Iterable[StatusUpdate]
) -> TrackingResult:
    updates = list(updates)
    result = TrackingResult()
    now = timezone.now()
    with transaction.atomic():
        targets = Targets(provider, updates)
        for update in updates:
            if update.event != "status":
                result.events += 1
                record_reply(update, targets)
                continue
            target = targets.find(update)
            if target is None:
                result.unmatched.append(update.message_id or update.provider_message_id)
            elif target.advance(update, now=now):
                target.save(update_fields=DELIVERY_FIELDS[type(target)])
                result.applied += 1
            else:
                result.unchanged += 1
    return result


DELIVERY_FIELDS = {
    Message: [
        "status",
        "delivered_at",
        "failure_category",
        "failure_reason",
        "delivery_error_code",
        "delivery_description",
    ],
    TestSend: [
        "delivery_state",
        "delivery_error_code",
        "delivery_description",
        "delivery_reported_at",
        "dlr_received_at",
    ],
}


class Targets:
    """What the updates name: campaign messages first, test sends for the rest;
    by our id, then by the provider's id for whatever is still missing."""

    def __init__(self, provider: Provider, updates: list[StatusUpdate]) -> None:
        self.by_ours: dict[str, TestSend | Message] = {}
        self.by_theirs: dict[str, TestSend | Message] = {}
        sources = (
            Message.objects.filter(sender__provider=provider).only(
                "message_id", "provider_message_id", "to", *DELIVERY_FIELDS[Message]
            ),
            TestSend.objects.filter(provider=provider).only(
                "message_id", "provider_message_id", "to", *DELIVERY_FIELDS[TestSend]
            ),
        )
        for rows in sources:
            ours = {u.message_id for u in updates if u.message_id}
            ours -= self.by_ours.keys()
            if ours:
                found = rows.filter(message_id__in=ours).order_by()
                self.by_ours.update((r.message_id, r) for r in found)
            theirs = {
                u.provider_message_id
                for u in updates
                if u.provider_message_id and self.find(u) is None
            }
            if theirs:
                found = rows.filter(provider_message_id__in=theirs).order_by()
                self.by_theirs.update((r.provider_message_id, r) for r in found)

    def find(self, update: StatusUpdate) -> TestSend | Message | None:
        return self.by_ours.get(update.message_id) or self.by_theirs.get(
            update.provider_message_id
        )


def record_reply(update: StatusUpdate, targets: Targets) -> None:
    """A "STOP" reply puts the sender of the reply on the opt-out list."""
    if update.event != "replied" or update.text.strip().lower() not in STOP_WORDS:
        return
    target = targets.find(update)
    if target is not None:
        OptOut.objects.get_or_create(to=target.to, defaults={"source": "reply STOP"})
