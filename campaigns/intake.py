"""What becomes of a delivery-report callback once it is accepted.

SQLite lets one connection write at a time, and a commit costs more than all
the rest of a callback, so applying each callback in a transaction of its own
holds a provider's burst of receipts to the rate of commits. On SQLite, then,
the web process appends the parsed callback to the inbox (campaigns.inbox) and
answers; an Applier (below) applies every callback waiting a few times a
second, a few hundred to a transaction: one read of the messages they name, one
UPDATE run over the rows that changed, one INSERT run over the log entries.
Other databases, and requests already inside a transaction, apply a callback
at once through the same code.

Each callback carries a receipt, unique in the log: a batch applied twice
(a crash between its commit and the removal of its file) is logged once, and
its updates, which only ever move a message forward, change nothing the
second time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import operator
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.conf import settings
from django.db import (
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from providers.dlr import StatusUpdate
from providers.models import Provider

from . import statements
from .inbox import Inbox, inbox
from .models import DeliveryReport
from .tracking import TrackingResult, apply_callbacks
from .writers import writers_turn

logger = logging.getLogger(__name__)

CALLBACKS_PER_TRANSACTION = 500
# However long callbacks may wait, appliers look this often: a stat or two.
LOOK_EVERY_SECONDS = 0.25
# An update goes into a line as the list of its values, in field order.
UPDATE_FIELDS = [f.name for f in dataclasses.fields(StatusUpdate)]
update_values = operator.attrgetter(*UPDATE_FIELDS)
OCCURRED_AT = UPDATE_FIELDS.index("occurred_at")


def time_ordered_uuid() -> uuid.UUID:
    """A version 7 UUID (RFC 9562): milliseconds since 1970, then random bits.
    Receipts in the order they were given go in at the end of the log's
    unique index, where random ones would rewrite pages all over it."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & (1 << 48) - 1) << 80 | random
    value = value & ~(0xF << 76) | 0x7 << 76  # the version
    value = value & ~(0x3 << 62) | 0x2 << 62  # the variant
    return uuid.UUID(int=value)


@dataclass(slots=True)  # not frozen: thousands are made a second
class Callback:
    """A callback as received: what is logged of it, and its updates."""

    provider_id: int
    method: str
    content_type: str
    body: str
    format: str = ""
    updates: tuple[StatusUpdate, ...] = ()
    receipt: uuid.UUID = field(default_factory=time_ordered_uuid)
    received_at: datetime = field(default_factory=timezone.now)

    def to_line(self) -> bytes:
        """A JSON array: the fields up to `format` in their order, then the
        updates (each the list of its values), the receipt and the time."""
        updates = []
        for update in self.updates:
            row = list(update_values(update))
            row[OCCURRED_AT] = row[OCCURRED_AT] and row[OCCURRED_AT].isoformat()
            updates.append(row)
        line = [
            self.provider_id,
            self.method,
            self.content_type,
            self.body,
            self.format,
            updates,
            self.receipt.hex,
            self.received_at.isoformat(),
        ]
        return json.dumps(line, separators=(",", ":")).encode()

    @classmethod
    def from_line(cls, line: bytes) -> Callback:
        *fields, updates, receipt, received_at = json.loads(line)
        for row in updates:
            row[OCCURRED_AT] = row[OCCURRED_AT] and datetime.fromisoformat(
                row[OCCURRED_AT]
            )
        return cls(
            *fields,
            tuple(StatusUpdate(*row) for row in updates),
            uuid.UUID(receipt),
            datetime.fromisoformat(received_at),
        )

    def report(self, *, status: int, result: str, tracked=None) -> DeliveryReport:
        return DeliveryReport(
            provider_id=self.provider_id,
            receipt=self.receipt,
            received_at=self.received_at,
            method=self.method,
            content_type=self.content_type[:200],
            body=self.body[: settings.DLR_STORED_BODY_CHARS],
            format=self.format,
            response_status=status,
            processed=tracked.applied if tracked else 0,
            unmatched_ids=tracked.unmatched if tracked else [],
            result=result[:500],
        )


def receive(callback: Callback) -> None:
    """Accept a parsed callback: once this returns, it will be applied."""
    box = inbox()
    if box is None or connection.in_atomic_block:
        # No inbox, or a transaction already open whose rows the callback may
        # name: apply it in there.
        record([callback])
        return
    box.append(callback.to_line())
    web_applier.ensure_running()


def drain(box: Inbox | None = None) -> int:
    """Apply every callback waiting in the inbox, unless another process is at
    it already; return how many were applied."""
    box = box or inbox()
    if box is None:
        return 0
    applied = 0
    with writers_turn() as ours:
        if ours:
            for taken in box.take():
                applied += apply_file(box, taken)
                box.done(taken)
    return applied


class Applier:
    """A thread that applies what waits in the inbox once `every` seconds (a
    setting's name) have passed since any process last took some.

    The Celery worker runs one at DLR_APPLY_EVERY_SECONDS: soon enough that a
    report shows within a blink, late enough that a burst goes in a few hundred
    callbacks at a time, and in a process of its own, where the work does not
    hold up requests waiting for the same interpreter lock. Each web process
    runs one at DLR_WEB_APPLY_AFTER_SECONDS, which steps in only when no worker
    has applied anything for that long. Should two find it due together, the
    writers' lock lets one in."""

    def __init__(self, every: str) -> None:
        self.every = every
        self.pid = 0
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        if self.pid != os.getpid():  # first call in this (forked) process
            with self.lock:
                if self.pid != os.getpid():
                    threading.Thread(
                        target=self.run, name="smsbridge-dlr-applier", daemon=True
                    ).start()
                    self.pid = os.getpid()

    def run(self) -> None:
        while True:
            every = getattr(settings, self.every)
            time.sleep(min(every / 2, LOOK_EVERY_SECONDS))
            try:
                box = inbox()
                if box is not None and box.due(every):
                    drain(box)
            except Exception:
                # The callbacks stay in the inbox; the next round tries again.
                logger.exception("Applying delivery reports failed; will retry")
                close_old_connections()


web_applier = Applier("DLR_WEB_APPLY_AFTER_SECONDS")
worker_applier = Applier("DLR_APPLY_EVERY_SECONDS")


def apply_file(box: Inbox, taken) -> int:
    callbacks = []
    for line in box.lines(taken):
        try:
            callbacks.append(Callback.from_line(line))
        except (ValueError, TypeError, KeyError) as err:
            box.reject(line, f"unreadable: {err}")
    for start in range(0, len(callbacks), CALLBACKS_PER_TRANSACTION):
        batch = callbacks[start : start + CALLBACKS_PER_TRANSACTION]
        try:
            record(batch)
        except OperationalError:
            raise  # the database is busy or away: the file waits
        except Exception:
            # One bad callback must not hold back the rest, now or at every
            # later round: apply one by one and set aside the one that fails.
            for callback in batch:
                try:
                    record([callback])
                except OperationalError:
                    raise
                except Exception as err:
                    box.reject(callback.to_line(), repr(err))
    return len(callbacks)


def record(callbacks: list[Callback]) -> None:
    """Apply callbacks and log them, in one transaction."""
    with transaction.atomic():
        ids = sorted({c.provider_id for c in callbacks})
        of_ids = f"{statements.column(Provider, 'id')} IN "
        of_ids += f"({statements.placeholders(len(ids))})"
        live = {p.pk for p in statements.fetch(Provider, ["id"], of_ids, ids)}
        reports = []
        ordered = sorted(callbacks, key=lambda c: c.provider_id)
        for provider_id, group in groupby(ordered, key=lambda c: c.provider_id):
            group = list(group)
            if provider_id not in live:
                logger.warning(
                    "%d delivery-report callbacks were for a provider deleted "
                    "since; they were dropped with it",
                    len(group),
                )
                continue
            results = apply_callbacks(
                provider_id, [(list(c.updates), c.received_at) for c in group]
            )
            reports += [
                c.report(status=200, result=summary(r), tracked=r)
                for c, r in zip(group, results, strict=True)
            ]
        statements.insert_many(reports, skip_duplicates=True)


def summary(tracked: TrackingResult) -> str:
    return (
        f"{tracked.applied} applied, {tracked.unchanged} unchanged, "
        f"{len(tracked.unmatched)} unmatched, {tracked.events} other events"
    )
