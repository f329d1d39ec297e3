"""Moving a route's messages to its next provider, with the same message id.

Two moments move a message: its provider answered with a failure the route falls
back on (hand_on, as the answer is recorded), or its provider is paused, archived
or has its breaker open when the message comes up for sending (reroute, before
any attempt). Neither ever moves a message a provider may have accepted: only
failed answers move, never one that timed out or was cut off after the request
went out, nor a message an earlier worker was cut off sending (maybe_sent), so
no message goes to two providers that both took it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby

from django.conf import settings
from django.utils import timezone

from providers import health
from providers.outbound.outcomes import Category
from providers.outbound.pipeline import Outcome
from providers.routes import RETRIED_FIRST, Plan

from . import counts
from .models import Message
from .recording import Claimed, claimed, tell

Status = Message.Status


def hand_on(
    messages: Sequence[Claimed],
    outcome: Outcome,
    *,
    plan: Plan,
    sender,
    delta: Counter,
) -> list[Claimed]:
    """Queue for their next provider those of `messages` that `outcome` moves
    on; return them. The attempt at this provider is counted in its counter of
    handed-on messages, not against the next provider's attempts."""
    if not plan.moves_on(outcome, sender.provider):
        return []
    breaker_open = outcome.category in RETRIED_FIRST and not usable(sender)
    moving = []
    for message in messages:
        if message.maybe_sent:
            continue
        retried_here = outcome.category in RETRIED_FIRST and not breaker_open
        if retried_here and message.attempts + 1 < plan.attempts_per_provider:
            continue  # tried at this provider again first
        found = plan.next_hop(message.to, message.hop)
        if found is not None:
            moving.append((message, *found))
    label = Category(outcome.category).label
    for (hop, next_sender), same in groupby(
        sorted(moving, key=lambda m: (m[1], m[2].pk)), key=lambda m: (m[1], m[2])
    ):
        rows = [m for m, _, _ in same]
        reason = (
            f"{sender.provider} failed it ({label}): {outcome.diagnosis} "
            f"Handed to {next_sender.provider}."
        )
        delta[counts.HANDED_ON, outcome.category] += claimed(rows).update(
            status=Status.QUEUED,
            sender_id=next_sender.pk,
            hop=hop,
            attempts=0,
            claim="",
            next_attempt_at=None,
            failure_category=outcome.category,
            failure_reason=reason[:500],
        )
        tell(rows, Status.QUEUED, now=timezone.now())  # with its next provider
    return [m for m, _, _ in moving]


def usable(sender) -> bool:
    state = health.states([sender.provider_id], now=timezone.now())
    return state[sender.provider_id].usable


def reroute(
    messages: Sequence[Claimed],
    *,
    plan: Plan | None,
    state: health.State,
    now: datetime,
) -> datetime:
    """Messages whose provider cannot be used now: to the next provider of
    their route that can, else back to wait for this one, no attempt made.
    One the provider may have (maybe_sent) always waits for it. Return when
    their campaign should look at them again: now if any moved."""
    waiting = list(messages)
    if plan is not None:
        states = health.states({s.provider_id for s in plan.senders.values()}, now=now)
        waiting, moves = [], []
        for message in messages:
            found = None if message.maybe_sent else next_usable(plan, message, states)
            if found is None:
                waiting.append(message)
            else:
                moves.append((message, *found))
        moved = 0
        for (hop, sender_id), same in groupby(
            sorted(moves, key=lambda m: (m[1], m[2])), key=lambda m: (m[1], m[2])
        ):
            rows = [m for m, _, _ in same]
            moved += claimed(rows).update(
                status=Status.QUEUED,
                sender_id=sender_id,
                hop=hop,
                attempts=0,
                claim="",
                next_attempt_at=None,
            )
            tell(rows, Status.QUEUED, now=now)  # with its next provider
        first = messages[0]
        counts.add(
            first.campaign_id,
            {(counts.HANDED_ON, state.name): moved},
            sender_id=first.sender_id,
        )
    if not waiting:
        return now
    again = resumes(state, now)
    claimed(waiting).update(status=Status.QUEUED, claim="", next_attempt_at=again)
    return now if len(waiting) < len(messages) else again


def retry_elsewhere(campaign_id: int, sender, *, now: datetime) -> int:
    """Once a provider's breaker opens, the campaign's messages waiting to be
    retried there come up now, to be moved on, instead of at their retry time:
    the retry would find the provider skipped anyway. Not one it may have."""
    return Message.objects.filter(
        campaign_id=campaign_id,
        sender_id=sender.pk,
        status=Status.QUEUED,
        next_attempt_at__gt=now,
        maybe_sent=False,
    ).update(next_attempt_at=None)


def next_usable(plan: Plan, message: Claimed, states: dict[int, health.State]):
    """(hop, sender id) of the first usable provider after the message's own."""
    later = plan.chain(message.to)[message.hop + 1 :]
    for offset, sender in enumerate(later, start=message.hop + 1):
        if sender.provider.is_active and states[sender.provider_id].usable:
            return offset, sender.pk
    return None


def resumes(state: health.State, now: datetime) -> datetime:
    """When to look at a provider again that cannot be used now: when its
    breaker's cool-down ends, soon when another worker is probing it, and
    every little while when it is paused or archived."""
    if state.until:
        return state.until
    if state.name == health.PROBING:
        return now + timedelta(seconds=PROBE_WAIT_SECONDS)
    return now + timedelta(seconds=settings.PROVIDER_PAUSED_RECHECK_SECONDS)


PROBE_WAIT_SECONDS = 2
