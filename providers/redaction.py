"""Masking of secrets in anything shown or logged: requests, responses, text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from urllib.parse import quote, quote_plus

from .crypto import mask
from .rendering import HttpRequest


def _spellings(secret: str) -> set[str]:
    """The ways a secret can appear once escaped for a URL, a form or JSON."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
    }


@lru_cache(maxsize=256)
def _replacements(secrets: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(spelling, mask) pairs, worked out once per set of secrets: every send
    of a campaign redacts its outcome with the same ones."""
    # Longest first, so a secret that contains another is masked whole.
    return tuple(
        (spelling, mask(secret))
        for secret in sorted(secrets, key=len, reverse=True)
        for spelling in sorted(_spellings(secret), key=len, reverse=True)
    )


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for spelling, masked in _replacements(frozenset(s for s in secrets if s)):
        if spelling in text:
            text = text.replace(spelling, masked)
    return text


def redact_request(request: HttpRequest, secrets: Iterable[str]) -> HttpRequest:
    secrets = list(secrets)
    body = request.body.decode("utf-8", errors="replace")
    return replace(
        request,
        url=redact_text(request.url, secrets),
        headers=tuple((k, redact_text(v, secrets)) for k, v in request.headers),
        body=redact_text(body, secrets).encode(),
    )
