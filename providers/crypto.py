"""Symmetric encryption of secrets at rest, with key rotation (MultiFernet)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty; set at least one Fernet key."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as err:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from err


def fernet() -> MultiFernet:
    # Keyed on the setting's value so tests that override the keys get a new one.
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as err:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
            "was a key removed before rotate_encryption_keys ran?"
        ) from err


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return fernet().rotate(token.encode()).decode()


def mask(secret: str) -> str:
    """What may be shown of a secret: its last four characters at most."""
    if not secret:
        return ""
    visible = secret[-4:] if len(secret) >= 12 else ""
    return f"••••{visible}"
