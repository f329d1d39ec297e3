"""Masking of secrets in anything shown or logged: requests, responses, text.

A provider that refuses a credential often quotes it back, and seldom as it was
configured: the token of a secret `Bearer <token>` header on its own, the
`user:password` inside a Basic header or the password alone, JSON-escaped,
URL-encoded, HTML-escaped or in base64. Every piece of every secret is masked in
each of those spellings. They are worked out once per set of secrets and kept:
every send of a campaign redacts its outcome with the same ones, so a send only
pays for a few substring searches.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from urllib.parse import quote, quote_plus

from ..crypto import mask
from .rendering import HttpRequest

# RFC 9110's token characters, which an authentication scheme (Bearer, Basic,
# Token, Key, ApiKey, Bot, Digest, Infobip's App, …) is made of, in any case.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEMED = re.compile(rf"({_TCHARS})[ \t]+(\S.*)", re.DOTALL)
# An auth-param's value, such as Digest's response="…" or a Signature=… part.
_PARAM_VALUE = re.compile(rf'{_TCHARS}=(?:"((?:[^"\\]|\\.)*)"|([^,\s"]+))')
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# Schemes kept in sight when their credentials are masked ("Bearer ••••9f2c"),
# so support can tell which kind of credential a request carried.
SHOWN_SCHEMES = frozenset(
    {"app", "apikey", "basic", "bearer", "bot", "digest", "key", "token"}
)
# A piece this short would mask ordinary words of an answer; a whole secret is
# masked whatever its length.
MIN_PIECE = 4


def pieces(secret: str) -> set[str]:
    """The secret, and the parts of it a provider may quote on their own."""
    found = {secret}
    match = _SCHEMED.fullmatch(secret.strip())
    if match:
        scheme, credentials = match.groups()
        found.add(credentials)
        found.update(q or p for q, p in _PARAM_VALUE.findall(credentials))
        if scheme.lower() == "basic":
            found.update(basic_pieces(credentials))
    return {piece for piece in found if len(piece) >= MIN_PIECE} | {secret}


def basic_pieces(credentials: str) -> set[str]:
    """`user:password` and the password, from Basic's base64 credentials."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return set()
    _, colon, password = decoded.partition(":")
    return {decoded, password} if colon else {decoded}


def masked(piece: str) -> str:
    match = _SCHEMED.fullmatch(piece)
    if match and match[1].lower() in SHOWN_SCHEMES:
        return f"{match[1]} {mask(match[2])}"
    return mask(piece)


def spellings(piece: str) -> set[str]:
    """The ways a piece can come back escaped for a URL, a form, JSON, HTML or
    in base64."""
    as_json = {json.dumps(piece, ensure_ascii=ascii)[1:-1] for ascii in (True, False)}
    url_encoded = {quote(piece, safe=""), quote(piece), quote_plus(piece)}
    encoded = piece.encode()
    return {
        piece,
        html.escape(piece),
        *as_json,
        # PHP's json_encode escapes every slash.
        *(text.replace("/", "\\/") for text in as_json),
        *url_encoded,
        *(_PERCENT_ESCAPE.sub(lambda m: m[0].lower(), url) for url in url_encoded),
        # Unpadded, so that a padded copy is masked too, up to its last "=".
        base64.b64encode(encoded).decode().rstrip("="),
        base64.urlsafe_b64encode(encoded).decode().rstrip("="),
    }


@lru_cache(maxsize=256)
def _replacements(secrets: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(spelling, mask) pairs, longest first, so that a secret that contains
    another (`Bearer <token>` and `<token>`) is masked whole."""
    masks = {
        spelling: masked(piece)
        for secret in secrets
        for piece in pieces(secret)
        for spelling in spellings(piece)
    }
    return tuple(sorted(masks.items(), key=lambda pair: len(pair[0]), reverse=True))


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
