"""Send latency as a histogram kept in the database, so /metrics shows every
worker's requests, on every machine, whichever web process is scraped.

A claim's latencies are gathered as its answers return (Pending) and written at
most once every WRITE_EVERY_SECONDS, in the transaction that records the answers
then (campaigns/recording.py), and once more when the claim is done: one UPDATE
per bucket, usually one. Writing them with every recorded answer cost the
one-message-per-request benchmark about 8%, as each call into the database waits
for the sending threads to hand back the interpreter; a worker killed mid-claim
loses at most a second of latencies. A counter per process (prometheus_client's
own) would be cheaper still, but each gunicorn and Celery process would hold its
own and a scrape would see one of them; its multiprocess mode shares files, so
only the processes of one machine. Requests that never left (no token, invalid
input, an address refused) are not counted.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping

from django.db import connection, transaction

from providers.outbound.outcomes import Category, Outcome

from .models import SendLatency

# Upper bounds in ms; the last bucket holds every slower request (+Inf).
BOUNDS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000)
SLOWER = 2**31 - 1
UPPERS = (*BOUNDS_MS, SLOWER)
NOT_SENT = frozenset({Category.TOKEN, Category.INVALID, Category.BLOCKED})
WRITE_EVERY_SECONDS = 1.0

Buckets = dict[int, tuple[int, int]]  # upper bound -> (requests, total ms)


def buckets(answers: Iterable[Outcome]) -> Buckets:
    """The buckets of these answers, one answer per request."""
    found: Buckets = {}
    for answer in answers:
        if answer.category in NOT_SENT:
            continue
        upper = UPPERS[bisect_left(BOUNDS_MS, answer.latency_ms)]
        count, total = found.get(upper, (0, 0))
        found[upper] = (count + 1, total + answer.latency_ms)
    return found


class Pending:
    """A claim's latencies not written yet, for one provider."""

    def __init__(self, provider_id: int) -> None:
        self.provider_id = provider_id
        self.found: Buckets = {}
        self.written = time.monotonic()

    def saw(self, answers: Iterable[Outcome]) -> None:
        for upper, (count, total) in buckets(answers).items():
            before = self.found.get(upper, (0, 0))
            self.found[upper] = (before[0] + count, before[1] + total)

    def due(self) -> tuple[int, Buckets] | None:
        """What to write now, if it is time."""
        if self.found and time.monotonic() - self.written >= WRITE_EVERY_SECONDS:
            return self.take()
        return None

    def take(self) -> tuple[int, Buckets]:
        taken, self.found, self.written = self.found, {}, time.monotonic()
        return self.provider_id, taken


def add(provider_id: int, found: Mapping[int, tuple[int, int]]) -> None:
    """Add to a provider's histogram, inside the caller's transaction if any."""
    if not found:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for upper, (count, total) in sorted(found.items()):
            values = [count, total, provider_id, upper]
            cursor.execute(ADD, values)
            if not cursor.rowcount:
                # The provider's first request: its buckets are made once (a
                # racing maker is ignored), then added to like any other.
                SendLatency.objects.bulk_create(
                    [SendLatency(provider_key=provider_id, upper_ms=u) for u in UPPERS],
                    ignore_conflicts=True,
                )
                cursor.execute(ADD, values)


# Written out, as it runs with every recorded answer (as campaigns/counts.py's).
ADD = (
    "UPDATE ops_sendlatency SET count = count + %s, total_ms = total_ms + %s "
    "WHERE provider_key = %s AND upper_ms = %s"
)


def histograms() -> dict[int, list[tuple[int, int, int]]]:
    """Each provider's buckets, (upper bound, requests, total ms), in order."""
    found: dict[int, list[tuple[int, int, int]]] = {}
    rows = SendLatency.objects.order_by("provider_key", "upper_ms").values_list(
        "provider_key", "upper_ms", "count", "total_ms"
    )
    for provider_id, upper, count, total in rows:
        found.setdefault(provider_id, []).append((upper, count, total))
    return found
