"""How many of a campaign's messages are in each state, kept as they change.

Counting a campaign's messages grouped by status reads every one of them: a
second for a campaign of a million, twelve for a list of ten. So the workflow
adds to a campaign's counters in the transaction that moves its messages, and
pages read a few counter rows instead.

Each counter also names the sender (so the provider) that decided the state,
for a route's breakdown by provider, and how many messages a provider handed on
to the next one (HANDED_ON, by the failure that moved them).

Only the states a message leaves at most once are counted (sent, delivered,
failed and skipped by reason, cancelled), with the total created. Queued and
sending rows come and go on every retry: the rows out for sending are few and
counted through their index, and the queued are what is left. Purging old
messages leaves the counters, so a campaign's statistics outlive its rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction

from .models import Message, MessageCount

Status = Message.Status
TOTAL = "total"  # the counter of messages created, in the status column
HANDED_ON = "handed_on"  # moved to a route's next provider: not a state
NOT_STATES = (TOTAL, HANDED_ON)
UNCOUNTED = (Status.QUEUED, Status.SENDING)
Key = tuple[str, str]  # (status, failure category)


def key(status: str, category: str = "") -> Key:
    """A counter's key: failures and skips by their category, others by status."""
    kept = category if status in (Status.FAILED, Status.SKIPPED) else ""
    return status, kept


def moved(changes: Iterable[tuple[Key, Key]]) -> Counter[Key]:
    """The counter changes of messages moving from one (status, category) to
    another."""
    delta: Counter[Key] = Counter()
    for before, after in changes:
        if before == after:
            continue
        if before[0] not in UNCOUNTED:
            delta[key(*before)] -= 1
        if after[0] not in UNCOUNTED:
            delta[key(*after)] += 1
    return delta


def created(states: list[Key]) -> Counter[Key]:
    """The counter changes of new messages in these (status, category) states."""
    delta = moved(((Status.QUEUED, ""), state) for state in states)
    delta[TOTAL, ""] += len(states)
    return delta


def add(
    campaign_id: int, delta: Counter[Key] | dict[Key, int], *, sender_id: int = 0
) -> None:
    """Add to a campaign's counters (those of the sender that decided the
    states, if any), inside the caller's transaction if any."""
    changes = {k: n for k, n in delta.items() if n}
    if not changes:
        return
    sender_id = sender_id or 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for (status, category), n in sorted(changes.items()):
            values = [n, campaign_id, status, category, sender_id]
            cursor.execute(ADD, values)
            if not cursor.rowcount:
                # The first of its kind: made once (a racing maker is ignored),
                # then added to like any other.
                MessageCount.objects.bulk_create(
                    [
                        MessageCount(
                            campaign_id=campaign_id,
                            status=status,
                            failure_category=category,
                            sender_key=sender_id,
                        )
                    ],
                    ignore_conflicts=True,
                )
                cursor.execute(ADD, values)


# Written out, as it runs with every recorded answer: the ORM's update() took
# 300 µs to build it each time against 25 µs for the statement itself (SQLite,
# 2 CPUs), which cost the one-message-per-request benchmark about 6%.
ADD = (
    "UPDATE campaigns_messagecount SET count = count + %s "
    "WHERE campaign_id = %s AND status = %s AND failure_category = %s "
    "AND sender_key = %s"
)


def read(campaign_ids: Iterable[int]) -> dict[int, Counter[Key]]:
    """Every counter of these campaigns, whichever sender decided it."""
    found: dict[int, Counter[Key]] = {}
    rows = MessageCount.objects.filter(campaign_id__in=list(campaign_ids))
    for campaign_id, status, category, count in rows.values_list(
        "campaign_id", "status", "failure_category", "count"
    ):
        found.setdefault(campaign_id, Counter())[status, category] += count
    return found


def read_by_sender(campaign_id: int) -> dict[int, Counter[Key]]:
    """A campaign's counters per sender that decided them (0: none did)."""
    found: dict[int, Counter[Key]] = {}
    rows = MessageCount.objects.filter(campaign_id=campaign_id)
    for sender_id, status, category, count in rows.values_list(
        "sender_key", "status", "failure_category", "count"
    ):
        found.setdefault(sender_id, Counter())[status, category] += count
    return found


def done(counters: Counter[Key]) -> int:
    """Messages in a final state: exactly those the counters hold."""
    return sum(n for (status, _), n in counters.items() if status not in NOT_STATES)


def by_status(counters: Counter[Key], *, sending: int) -> dict[str, int]:
    """Messages per status, queued being what no counter holds."""
    counts = dict.fromkeys(Status.values, 0)
    for (status, _), n in counters.items():
        if status not in NOT_STATES:
            counts[status] += n
    counts[Status.SENDING] = sending
    counts[Status.QUEUED] = counters[TOTAL, ""] - sum(counts.values())
    return counts
