"""What an audit entry says about a secret field: that it was set, changed or
removed, and nothing of its value."""

from __future__ import annotations

SET = "••••"
CHANGED = "changed"
REMOVED = "removed"


def mask(value: str) -> str:
    """auditlog's mask callable, applied to the old and the new value apart.

    It keeps only whether there was a value (auditlog passes "None" for a field
    an object created or deleted did not have), never a character of it: the
    library's default mask keeps half the value.
    """
    return SET if value not in ("", "None") else ""


def secret_change(old: str, new: str) -> list[str]:
    """The masked pair auditlog recorded, in words: ("", SET) -> ["", "changed"]."""
    return [SET if old else "", CHANGED if new else REMOVED]
