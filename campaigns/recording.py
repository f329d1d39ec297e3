"""Writing down what became of claimed messages: sent, retry later, or failed.

Every write is conditional on the claim, so a worker whose claim was taken back
(it was presumed dead) cannot overwrite what the next one did, and on SENDING, so
a delivery report that landed first is never overwritten by "sent". An attempt
is counted when its answer is recorded, so one cut off by a crash is not.
Each write also tells the status webhooks of the messages an API token queued,
in the same transaction (campaigns/webhooks/outbox.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from ops import latency
from providers.outbound.outcomes import Category
from providers.outbound.pipeline import Outcome

from . import counts
from .models import Message
from .webhooks import outbox

Status = Message.Status


class Claimed(NamedTuple):
    """A claimed message, as much of it as sending and recording need."""

    pk: int
    campaign_id: int
    sender_id: int | None
    message_id: str
    to: str
    body: str
    attempts: int  # finished before this one
    claim: str
    maybe_sent: bool
    hop: int = 0  # its sender's place on the route
    placeholders: Mapping[str, str] = MappingProxyType({})
    api_token_id: int | None = None  # set for the event API's, for webhooks


HandOn = Callable[..., list[Claimed]]


def record(
    pairs: Iterable[tuple[Claimed, Outcome]],
    *,
    whole_claim: bool,
    now: datetime,
    hand_on: HandOn | None = None,
    timings: tuple[int, latency.Buckets] | None = None,
) -> list[float]:
    """What became of each claimed message, in one transaction; return the
    retry delays to schedule. On a route, `hand_on` first moves to the next
    provider the failed messages it should (campaigns/fallback.py). `timings`,
    (provider id, buckets), adds the requests' latencies to its histogram."""
    pairs = list(pairs)
    delays: list[float] = []
    delta: Counter = Counter()
    with transaction.atomic():
        accepted = [(m, o) for m, o in pairs if o.accepted]
        if accepted:
            sent = [m for m, _ in accepted]
            delta[counts.key(Status.SENT)] += mark_sent(
                sent,
                [o.provider_message_id for _, o in accepted],
                whole_claim=whole_claim and len(accepted) == len(pairs),
                now=now,
            )
            tell(sent, Status.SENT, now=now)
        failed = sorted(
            ((m, o) for m, o in pairs if not o.accepted),
            key=lambda p: failure_key(p[1]),
        )
        for _, same in groupby(failed, key=lambda p: failure_key(p[1])):
            same = list(same)
            messages, outcome = [m for m, _ in same], same[0][1]
            if hand_on is not None:
                moved = {m.pk for m in hand_on(messages, outcome, delta=delta)}
                messages = [m for m in messages if m.pk not in moved]
                if moved:
                    delays.append(0.0)  # the next provider may take them now
            if messages:
                delays += mark_failed(messages, outcome, now=now, delta=delta)
        first = pairs[0][0]
        counts.add(first.campaign_id, delta, sender_id=first.sender_id)
        if timings:
            latency.add(*timings)
    return delays


def tell(messages: Sequence[Claimed], status: str, *, now: datetime) -> None:
    """The status webhooks' deliveries, in this transaction: none (and no
    query) for messages no API token queued."""
    outbox.note(outbox.changed(messages, status=status, previous=Status.QUEUED, at=now))


FEW = 64  # provider ids written by the one statement, for no more rows than this


def failure_key(outcome: Outcome) -> tuple:
    return (outcome.category, outcome.diagnosis, outcome.retry_after or 0)


def claimed(messages: Sequence[Claimed]):
    return Message.objects.filter(
        claim=messages[0].claim, status=Status.SENDING, pk__in=[m.pk for m in messages]
    )


def mark_sent(
    messages: Sequence[Claimed], ids: list[str], *, whole_claim: bool, now: datetime
) -> int:
    """Mark the messages sent; return how many moved to sent (a delivery report
    may have moved some further already)."""
    named = [(m.pk, pid) for m, pid in zip(messages, ids, strict=True) if pid]
    in_statement = len(named) <= FEW
    updated = update_sent(
        messages, named if in_statement else [], whole_claim=whole_claim, now=now
    )
    if not in_statement:
        write_provider_ids(messages, ids)  # whatever their status
    if updated < len(messages):
        # Some were already marked by their delivery report: note when they
        # went and the provider's id, without touching their status.
        Message.objects.filter(
            pk__in=[m.pk for m in messages], sent_at__isnull=True
        ).update(sent_at=now)
        if in_statement:
            write_provider_ids(messages, ids)
    return updated


def update_sent(
    messages: Sequence[Claimed],
    named: list[tuple[int, str]],
    *,
    whole_claim: bool,
    now: datetime,
) -> int:
    """Mark the claim's messages (or these of them) sent in one plain statement,
    with the provider ids `named`; return how many rows it changed. While
    requests are out, every call into the database waits for the sending
    threads to hand back the interpreter (up to its 5 ms switch interval), and
    the ORM would prepare each of a batch's thousand ids on its own."""
    table = connection.ops.quote_name(Message._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(named))
    new_id = f", provider_message_id = CASE id {cases} ELSE provider_message_id END"
    listed = f" AND id IN ({', '.join(['%s'] * len(messages))})"
    sql = (
        f"UPDATE {table} SET status = '{Status.SENT}', "  # noqa: S608 - constants
        "attempts = attempts + 1, claim = '', sent_at = %s, "
        "failure_category = '', failure_reason = ''"
        + (new_id if named else "")
        + f" WHERE claim = %s AND status = '{Status.SENDING}'"
        + ("" if whole_claim else listed)
    )
    params = [
        connection.ops.adapt_datetimefield_value(now),
        *(value for pair in named for value in pair),
        messages[0].claim,
        *(() if whole_claim else (m.pk for m in messages)),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def write_provider_ids(messages: Sequence[Claimed], ids: list[str]) -> None:
    pairs = [(pid, m.pk) for m, pid in zip(messages, ids, strict=True) if pid]
    if not pairs:
        return
    # One prepared statement run per row beats a CASE over a thousand rows.
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET provider_message_id = %s WHERE id = %s",  # noqa: S608
            pairs,
        )


def mark_failed(
    messages: Sequence[Claimed], outcome: Outcome, *, now: datetime, delta: Counter
) -> list[float]:
    """Fail what is permanent or out of attempts, adding them to `delta`; queue
    the rest again later."""
    if outcome.category == Category.TOKEN:
        return wait_for_token(messages, outcome, now=now)
    limit = settings.SEND_MAX_ATTEMPTS
    spent = [m for m in messages if not outcome.transient or m.attempts + 1 >= limit]
    note = f" (gave up after {limit} attempts)" if outcome.transient else ""
    reason = (outcome.diagnosis + note)[:500]
    for maybe_sent, same in groupby(
        sorted(spent, key=attrgetter("maybe_sent")), key=attrgetter("maybe_sent")
    ):
        # The provider may have the attempt a stopped worker cut off, or one
        # whose answer never came: not a plain failure, and not to be sent
        # again by "Retry failed" (nor by a route's next provider).
        unconfirmed = maybe_sent or outcome.unanswered
        category = Category.UNCONFIRMED if unconfirmed else outcome.category
        same = list(same)
        delta[counts.key(Status.FAILED, category)] += claimed(same).update(
            status=Status.FAILED,
            attempts=F("attempts") + 1,
            claim="",
            failure_category=category,
            failure_reason=(CUT_OFF + reason if maybe_sent else reason)[:500],
            maybe_sent=unconfirmed,
        )
        tell(same, Status.FAILED, now=now)
    # Each message keeps its own count, so a batch can mix first and last tries.
    retry = sorted((m for m in messages if m not in spent), key=attrgetter("attempts"))
    delays = []
    for attempts, same in groupby(retry, key=attrgetter("attempts")):
        delay = backoff(attempts + 1, outcome.retry_after)
        same = list(same)
        claimed(same).update(
            status=Status.QUEUED,
            attempts=F("attempts") + 1,
            claim="",
            next_attempt_at=now + delay,
            failure_category=outcome.category,
            failure_reason=outcome.diagnosis[:500],
            # An answer that never came: the provider may have this one.
            **({"maybe_sent": True} if outcome.unanswered else {}),
        )
        tell(same, Status.QUEUED, now=now)  # queued again, with the reason
        delays.append(delay.total_seconds())
    return delays


def wait_for_token(
    messages: Sequence[Claimed], outcome: Outcome, *, now: datetime
) -> list[float]:
    """No access token, so nothing reached the provider: the messages wait,
    queued, for as long as the token endpoint fails (CleverTap holds them as a
    dispatch error until the credentials validate), the attempt not counted.
    Webhooks are not told: no attempt was made, and this repeats every
    SEND_TOKEN_RETRY_SECONDS for as long as the endpoint fails."""
    delay = timedelta(seconds=settings.SEND_TOKEN_RETRY_SECONDS)
    claimed(messages).update(
        status=Status.QUEUED,
        claim="",
        next_attempt_at=now + delay,
        failure_category=outcome.category,
        failure_reason=outcome.diagnosis[:500],
    )
    return [delay.total_seconds()]


CUT_OFF = (
    "An earlier attempt was cut off when its worker stopped, so the provider "
    "may have this message; the last attempt: "
)


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    base = settings.SEND_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    seconds = min(base, settings.SEND_RETRY_MAX_SECONDS)
    return timedelta(seconds=max(seconds, retry_after or 0))
