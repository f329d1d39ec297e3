"""Audit history: who changed what, when, from what to what, and every admin
action, on django-auditlog's LogEntry (its own app, so no tables of ours).

Secret fields are masked before an entry is made and shown only as "changed";
a provider's key/value rows are recorded on the provider's own entries, with
secret values never written down (rows.py).
"""

from __future__ import annotations

from .actions import action, record
from .tracking import track

__all__ = ["action", "record", "track"]
