"""Secrets typed into a setup screen whose save failed, held for the next submit.

Like a password field, the page never shows them again; so that the user does
not have to type them again either, the page carries them sealed with the
project's Fernet keys in a hidden field that only the server can read, for an
hour, and only for the provider they were typed for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from cryptography.fernet import InvalidToken

from .. import crypto

FIELD = "held_secrets"
MAX_AGE_SECONDS = 3600
NOTE = "Your secret values are kept; you don't need to type them again."


@dataclass
class Held:
    # Row field name -> row key (as the field compares names) -> value.
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    basic_password: str = ""
    dlr_credentials: str = ""
    oauth_client_secret: str = ""

    def __bool__(self) -> bool:
        return bool(
            any(self.rows.values())
            or self.basic_password
            or self.dlr_credentials
            or self.oauth_client_secret
        )

    def hold_row(self, name: str, key: str, value: str) -> None:
        self.rows.setdefault(name, {})[key] = value


def seal(held: Held, *, provider_pk: int | None) -> str:
    if not held:
        return ""
    document = {"provider": provider_pk, **asdict(held)}
    return crypto.fernet().encrypt(json.dumps(document).encode()).decode()


def unseal(token: str, *, provider_pk: int | None) -> Held:
    """The held values, or none if the token is absent, stale, forged or foreign."""
    if not token:
        return Held()
    try:
        raw = crypto.fernet().decrypt(token.encode(), ttl=MAX_AGE_SECONDS)
        document = json.loads(raw)
    except (InvalidToken, ValueError):
        return Held()
    if document.pop("provider", None) != provider_pk:
        return Held()
    return Held(
        rows={k: dict(v) for k, v in document.get("rows", {}).items()},
        basic_password=document.get("basic_password", ""),
        dlr_credentials=document.get("dlr_credentials", ""),
        oauth_client_secret=document.get("oauth_client_secret", ""),
    )
