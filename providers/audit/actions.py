"""Admin actions in the audit history: entries made while one runs carry its
label, and an action that changed nothing audited (pausing a provider, a bulk
update) gets an entry of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from . import rows


@dataclass
class Acting:
    label: str
    # (content type id, object pk) of every entry made while the action ran.
    logged: set[tuple[int, str]] = field(default_factory=set)


_acting: ContextVar[Acting | None] = ContextVar("smsbridge_audit_action", default=None)


def current_label() -> str:
    acting = _acting.get()
    return acting.label if acting else ""


@contextmanager
def action(label: str, *objects: Model, **detail: Any) -> Iterator[None]:
    """Run an admin action: its entries say `label`; each of `objects` that got
    none (what changed is not audited, or was updated in bulk) gets one."""
    acting = Acting(label)
    token = _acting.set(acting)
    try:
        yield
    finally:
        _acting.reset(token)
    for obj in objects:
        if _key_of(obj) not in acting.logged:
            record(obj, label, **detail)


def record(obj: Model, label: str, *, changes: dict | None = None, **detail: Any):
    """An entry for an action on `obj`; `detail` (a reason) is kept with it."""
    from auditlog.models import LogEntry

    return LogEntry.objects.log_create(
        obj,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes=changes,
        additional_data={"action": label, **detail},
    )


def noted(entry) -> None:
    """Called for every entry stored."""
    key = (entry.content_type_id, str(entry.object_pk))
    acting = _acting.get()
    if acting:
        acting.logged.add(key)
    rows.saw(entry)


def _key_of(obj: Model) -> tuple[int, str]:
    from django.contrib.contenttypes.models import ContentType

    return (ContentType.objects.get_for_model(obj).pk, str(obj.pk))
