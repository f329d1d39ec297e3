"""A provider's headers, URL parameters and variables in its audit history.

The setup screens replace a provider's rows at every save (a delete, then a
bulk_create, which sends no signals), so rows are not audited one by one: the
save compares them before and after, and adds the difference to the entry the
provider's own save made (or makes one). A secret value is never written
down: •••• where one stays, "changed" where it changed.
"""

from __future__ import annotations

from contextvars import ContextVar

from ..rows import RowValue
from .masking import CHANGED, SET

KINDS = {
    "headers": "Header",
    "url_parameters": "URL parameter",
    "variables": "Variable",
}
ABSENT = "None"  # as auditlog writes a field an object did not have


def shown(row: RowValue | None) -> str:
    if row is None:
        return ABSENT
    return SET if row.secret else row.value


def row_pair(old: RowValue | None, new: RowValue | None) -> list[str] | None:
    """[from, to] for one row, or None when it did not change."""
    if old == new:
        return None
    changed_secret = new is not None and new.secret
    changed_secret = changed_secret and (old is None or old.value != new.value)
    pair = [shown(old), CHANGED if changed_secret else shown(new)]
    return None if pair[0] == pair[1] else pair


def row_changes(
    label: str, before: list[RowValue], after: list[RowValue]
) -> dict[str, list[str]]:
    """{"Header Authorization": [from, to], ...} for the rows that changed."""
    old = {row.name: row for row in before}
    new = {row.name: row for row in after}
    changes = {}
    for name in [*old, *(n for n in new if n not in old)]:
        pair = row_pair(old.get(name), new.get(name))
        if pair:
            changes[f"{label} {name}"] = pair
    return changes


_current: ContextVar[ProviderSave | None] = ContextVar(
    "smsbridge_audit_provider_save", default=None
)


class ProviderSave:
    """One save of a setup screen, begun before the provider itself is saved."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.pk = provider.pk
        self.before = {
            kind: provider.rows(kind) if provider.pk else [] for kind in KINDS
        }
        self.entry = None
        # One save at a time per thread; a save that failed half-way is replaced.
        _current.set(self)

    def saw(self, entry) -> None:
        from django.contrib.contenttypes.models import ContentType

        ours = ContentType.objects.get_for_model(self.provider).pk
        same = self.pk is None or str(entry.object_pk) == str(self.pk)
        if self.entry is None and entry.content_type_id == ours and same:
            self.entry = entry

    def rows_saved(self, after: dict[str, list[RowValue]]) -> None:
        from auditlog.models import LogEntry

        _current.set(None)
        changes = {}
        for kind, label in KINDS.items():
            if kind in after:
                changes.update(row_changes(label, self.before[kind], after[kind]))
        if not changes:
            return
        entry = self.entry
        if entry is not None and str(entry.object_pk) == str(self.provider.pk):
            entry.changes = {**(entry.changes or {}), **changes}
            entry.save(update_fields=["changes"])
        else:
            LogEntry.objects.log_create(
                self.provider, action=LogEntry.Action.UPDATE, changes=changes
            )


def saw(entry) -> None:
    save = _current.get()
    if save is not None:
        save.saw(entry)
