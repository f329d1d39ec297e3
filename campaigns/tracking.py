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
                target.save()
                result.applied += 1
            else:
                result.unchanged += 1
    return result


class Targets:
    """What the updates name, by our id and by the provider's: four queries at most."""

    def __init__(self, provider: Provider, updates: list[StatusUpdate]) -> None:
        ours = {u.message_id for u in updates if u.message_id}
        theirs = {u.provider_message_id for u in updates if u.provider_message_id}
        tests = TestSend.objects.select_for_update().filter(provider=provider)
        messages = Message.objects.select_for_update().filter(sender__provider=provider)
        self.by_ours: dict[str, TestSend | Message] = {}
        self.by_theirs: dict[str, TestSend | Message] = {}
        for rows in (tests, messages):
            self.by_ours.update(
                (r.message_id, r) for r in rows.filter(message_id__in=ours)
            )
            self.by_theirs.update(
                (r.provider_message_id, r)
                for r in rows.filter(provider_message_id__in=theirs)
            )

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
