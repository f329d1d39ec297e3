"""Signing a delivery (pure): the scheme README's "Status webhooks" documents.

    Smsbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=<hex>]

Each v1 is HMAC-SHA256 keyed with a secret (its UTF-8 bytes, whsec_ included)
over the timestamp, a full stop and the body as sent. The timestamp is signed
so a receiver can refuse an old delivery replayed; there are two v1 values
while a rotated secret still overlaps the new one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

HEADER = "Smsbridge-Signature"
PREFIX = "whsec_"


def new_secret() -> str:
    # 256 random bits; the prefix tells a reader what the string is for.
    return PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, *, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header(signing_secrets: Sequence[str], *, timestamp: int, body: bytes) -> str:
    """The header's value: the timestamp, then one v1 per secret."""
    parts = [f"t={timestamp}"]
    parts += [
        f"v1={signature(s, timestamp=timestamp, body=body)}" for s in signing_secrets
    ]
    return ",".join(parts)
