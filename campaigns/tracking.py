"""Apply normalised delivery reports to what smsbridge sent."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from providers.dlr import StatusUpdate
from providers.models import Provider, Sender, TestSend

from . import statements
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
    """Apply one callback's updates now."""
    return apply_callbacks(provider.pk, [(list(updates), timezone.now())])[0]


def apply_callbacks(
    provider_id: int, callbacks: list[tuple[list[StatusUpdate], datetime]]
) -> list[TrackingResult]:
    """Apply the updates of several callbacks to one provider's messages, in
    order, each as of the time it was received: one read for all of them, one
    write per kind of row. A result per callback."""
    results = []
    changed: dict[tuple[type, int], TestSend | Message] = {}
    # No savepoint: callers that log the callbacks share this transaction.
    with transaction.atomic(savepoint=False):
        targets = Targets(provider_id, [u for updates, _ in callbacks for u in updates])
        for updates, received_at in callbacks:
            result = TrackingResult()
            for update in updates:
                if update.event != "status":
                    result.events += 1
                    record_reply(update, targets)
                    continue
                target = targets.find(update)
                if target is None:
                    result.unmatched.append(
                        update.message_id or update.provider_message_id
                    )
                elif target.advance(update, now=received_at):
                    changed[type(target), target.pk] = target
                    result.applied += 1
                else:
                    result.unchanged += 1
            results.append(result)
        for model, fields in DELIVERY_FIELDS.items():
            statements.update_many(
                [t for (kind, _), t in changed.items() if kind is model], fields
            )
    return results


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
    by our id, then by the provider's id for whatever is still missing. Only
    rows of the provider count."""

    def __init__(self, provider_id: int, updates: list[StatusUpdate]) -> None:
        self.by_ours: dict[str, TestSend | Message] = {}
        self.by_theirs: dict[str, TestSend | Message] = {}
        of_provider = f"{statements.column(Sender, 'provider')} = %s"
        senders = {
            s.pk for s in statements.fetch(Sender, ["id"], of_provider, [provider_id])
        }
        owned = {
            Message: lambda row: row.sender_id in senders,
            TestSend: lambda row: row.provider_id == provider_id,
        }
        for model, owner in OWNER.items():
            fields = ["message_id", "provider_message_id", "to", owner]
            fields += READ_FIELDS[model]
            ours = {u.message_id for u in updates if u.message_id}
            ours -= self.by_ours.keys()
            for row in named(model, fields, "message_id", ours):
                if owned[model](row):
                    self.by_ours[row.message_id] = row
            theirs = {
                u.provider_message_id
                for u in updates
                if u.provider_message_id and self.find(u) is None
            }
            for row in named(model, fields, "provider_message_id", theirs):
                if owned[model](row):
                    self.by_theirs[row.provider_message_id] = row

    def find(self, update: StatusUpdate) -> TestSend | Message | None:
        return self.by_ours.get(update.message_id) or self.by_theirs.get(
            update.provider_message_id
        )


# How a row belongs to a provider, and what advance() reads; everything it
# writes is in DELIVERY_FIELDS.
OWNER = {Message: "sender", TestSend: "provider"}
READ_FIELDS = {Message: ["status", "failure_category"], TestSend: ["delivery_state"]}
# Well under SQLite's limit of host parameters in one statement.
IDS_PER_QUERY = 500


def named(model, fields, id_field: str, ids: set[str]) -> Iterator:
    """The rows of `model` with one of `ids`, by the index on `id_field` alone:
    with the owner in the WHERE clause too, SQLite (which keeps no statistics
    unless told to) walks all the owner's rows instead."""
    ids = sorted(ids)
    column = statements.column(model, id_field)
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        where = f"{column} IN ({statements.placeholders(len(chunk))})"
        yield from statements.fetch(model, fields, where, chunk)


def record_reply(update: StatusUpdate, targets: Targets) -> None:
    """A "STOP" reply puts the sender of the reply on the opt-out list."""
    if update.event != "replied" or update.text.strip().lower() not in STOP_WORDS:
        return
    target = targets.find(update)
    if target is not None:
        OptOut.objects.get_or_create(to=target.to, defaults={"source": "reply STOP"})
