"""Apply normalised delivery reports to what smsbridge sent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

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
    updates = list(updates)
    result = TrackingResult()
    now = timezone.now()
    # No savepoint: callers that log the callback share this transaction.
    with transaction.atomic(savepoint=False):
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
                statements.update(target, DELIVERY_FIELDS[type(target)])
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
        for model, of_provider in (
            (Message, messages_of_provider()),
            (TestSend, f"{statements.column(TestSend, 'provider')} = %s"),
        ):
            fields = ["message_id", "provider_message_id", "to", *READ_FIELDS[model]]
            ours = {u.message_id for u in updates if u.message_id}
            ours -= self.by_ours.keys()
            if ours:
                found = statements.fetch(
                    model,
                    fields,
                    *named(model, "message_id", of_provider, provider, ours),
                )
                self.by_ours.update((r.message_id, r) for r in found)
            theirs = {
                u.provider_message_id
                for u in updates
                if u.provider_message_id and self.find(u) is None
            }
            if theirs:
                found = statements.fetch(
                    model,
                    fields,
                    *named(model, "provider_message_id", of_provider, provider, theirs),
                )
                self.by_theirs.update((r.provider_message_id, r) for r in found)

    def find(self, update: StatusUpdate) -> TestSend | Message | None:
        return self.by_ours.get(update.message_id) or self.by_theirs.get(
            update.provider_message_id
        )


# What advance() reads; everything it writes is in DELIVERY_FIELDS.
READ_FIELDS = {Message: ["status"], TestSend: ["delivery_state"]}


@cache  # the same clause for every callback
def messages_of_provider() -> str:
    """Campaign messages belong to a provider through their sender."""
    sender, provider = (statements.column(Sender, f) for f in ("id", "provider"))
    subquery = f"SELECT {sender} FROM {statements.table(Sender)} WHERE {provider} = %s"  # noqa: S608
    return f"{statements.column(Message, 'sender')} IN ({subquery})"


def named(model, id_field: str, of_provider: str, provider: Provider, ids: set[str]):
    """The WHERE clause and its values for rows of `provider` with one of `ids`."""
    ids_in = (
        f"{statements.column(model, id_field)} IN ({statements.placeholders(len(ids))})"
    )
    return f"{of_provider} AND {ids_in}", [provider.pk, *sorted(ids)]


def record_reply(update: StatusUpdate, targets: Targets) -> None:
    """A "STOP" reply puts the sender of the reply on the opt-out list."""
    if update.event != "replied" or update.text.strip().lower() not in STOP_WORDS:
        return
    target = targets.find(update)
    if target is not None:
        OptOut.objects.get_or_create(to=target.to, defaults={"source": "reply STOP"})
