"""Apply normalised delivery reports to what smsbridge sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from providers.dlr import StatusUpdate
from providers.models import Provider, TestSend


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
        by_ours, by_theirs = lookup_test_sends(provider, updates)
        for update in updates:
            if update.event != "status":
                result.events += 1
                continue
            target = by_ours.get(update.message_id) or by_theirs.get(
                update.provider_message_id
            )
            if target is None:
                result.unmatched.append(update.message_id or update.provider_message_id)
            elif target.advance(update, now=now):
                target.save()
                result.applied += 1
            else:
                result.unchanged += 1
    return result


def lookup_test_sends(
    provider: Provider, updates: list[StatusUpdate]
) -> tuple[dict[str, TestSend], dict[str, TestSend]]:
    """The test sends the updates name, by our id and by the provider's."""
    ours = {u.message_id for u in updates if u.message_id}
    theirs = {u.provider_message_id for u in updates if u.provider_message_id}
    tests = TestSend.objects.select_for_update().filter(provider=provider)
    by_ours = {t.message_id: t for t in tests.filter(message_id__in=ours)}
    by_theirs = {
        t.provider_message_id: t for t in tests.filter(provider_message_id__in=theirs)
    }
    return by_ours, by_theirs
