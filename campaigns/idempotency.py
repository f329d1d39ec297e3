"""Idempotency-Key on POST /api/v1/events: a client that retries after a timeout
sends one SMS, not two.

The first request with a key records it (per API token) before doing anything,
in a transaction of its own, so a concurrent duplicate finds it at once and is
told to retry later (409). The answer is stored with the messages it queued, in
one transaction, and every later request with the same key and body within
IDEMPOTENCY_KEY_HOURS gets that answer again, sending nothing. The same key with
another body is refused (409). A refused request sent nothing and keeps no key,
so a retry once its cause is fixed is answered afresh. An attempt that died
before answering is taken over by a retry once IN_PROGRESS_SECONDS have passed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import ApiToken, IdempotencyKey

HEADER = "Idempotency-Key"
# Printable ASCII, as the IETF draft's examples and common client libraries use.
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
IN_PROGRESS_SECONDS = 60


class KeyInUse(Exception):
    """Why a request with this key cannot be answered now (409)."""


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def fingerprint(body: dict[str, Any]) -> str:
    """The body as its meaning, not its bytes: key order and spacing aside."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def begin(
    token: ApiToken, key: str, body: dict[str, Any], *, now: datetime
) -> IdempotencyKey | Replay:
    """This request's record of the key, or the first answer to give again."""
    digest = fingerprint(body)
    expired = now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    IdempotencyKey.objects.filter(token=token, key=key, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                token=token, key=key, fingerprint=digest, created_at=now
            )
    except IntegrityError:
        pass  # a request with this key came first
    first = IdempotencyKey.objects.filter(token=token, key=key).first()
    if first is None:  # removed meanwhile: its request was refused, or failed
        raise KeyInUse(
            f"A request with the {HEADER} “{key}” has just finished; retry it."
        )
    if first.fingerprint != digest:
        raise KeyInUse(
            f"The {HEADER} “{key}” was used with another body; use a new key for "
            "a new event."
        )
    if first.status_code is not None:
        return Replay(first.status_code, first.response)
    abandoned = now - timedelta(seconds=IN_PROGRESS_SECONDS)
    taken = IdempotencyKey.objects.filter(
        pk=first.pk, status_code__isnull=True, created_at__lt=abandoned
    ).update(created_at=now)
    if taken:
        first.created_at = now
        return first
    raise KeyInUse(
        f"A request with the {HEADER} “{key}” is still being answered; retry in "
        "a few seconds."
    )


def finish(entry: IdempotencyKey, *, status: int, body: dict[str, Any]) -> None:
    """Keep the answer; inside the transaction that queued the messages."""
    IdempotencyKey.objects.filter(pk=entry.pk).update(status_code=status, response=body)


def abandon(entry: IdempotencyKey) -> None:
    """The request was refused, or failed: it sent nothing, so a retry (once
    the cause is fixed) is answered afresh."""
    IdempotencyKey.objects.filter(pk=entry.pk, status_code__isnull=True).delete()


def valid_key(value: str) -> bool:
    return bool(KEY.match(value))
