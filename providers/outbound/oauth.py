"""OAuth 2.0 client credentials (RFC 6749 §4.4): the access token that a
provider's requests carry as `Authorization: Bearer <token>`.

The token request goes through transport like every request to a provider
(address guard, timeouts, no redirects, capped answer). A token is kept in
Django's cache, which config/settings.py makes one for every process of the
deployment, so web and worker processes share it; it is stored encrypted, as
every secret at rest is, until a minute before it expires. A token endpoint
that fails is remembered for a few seconds, so a campaign's parallel sends ask
it once, not once per message. Every failure is a TOKEN outcome, never the
provider's: nothing was sent to the provider.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

from .. import crypto
from . import transport
from .outcomes import Category, Outcome, ResponseRules, provider_says
from .redaction import redact_text
from .rendering import HttpRequest, control_character

# A token is used until this long before the endpoint says it expires.
MARGIN_SECONDS = 60
# RFC 6749 leaves expires_in optional; most servers that omit it issue an hour.
# A token that dies sooner is replaced when the provider answers 401.
DEFAULT_LIFETIME_SECONDS = 3600
FAILURE_HOLD_SECONDS = 5
MASKED = "••••"
# The fields of the token request itself, which key-value pairs cannot replace.
RESERVED = frozenset({"grant_type", "scope", "client_id", "client_secret"})

clock = time.time  # tests move it forward to expire tokens


class TokenFailure(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.diagnosis)
        self.outcome = outcome


@dataclass(frozen=True)
class ClientCredentials:
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    in_body: bool = False

    @property
    def host(self) -> str:
        return urlsplit(self.token_url).hostname or self.token_url

    @property
    def cache_key(self) -> str:
        # Keyed on every setting, so a saved change asks for a new token; an
        # HMAC, so the key (a file name, a Redis key) says nothing of the secret.
        settings = json.dumps([*self.__dict__.values()], ensure_ascii=False)
        digest = salted_hmac("smsbridge.oauth.token", settings).hexdigest()
        return f"oauth-token:{digest}"

    @property
    def secrets(self) -> list[str]:
        return [self.client_secret, basic_header(self)]


def parse_parameters(text: str) -> Iterator[tuple[str, str]]:
    """Key-value pairs, one `key=value` per line; ValueError names a bad line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not (sep and key.strip()):
            raise ValueError(f"Line {number}: write key=value, e.g. audience=sms.")
        if key.strip() in RESERVED:
            raise ValueError(
                f"Line {number}: {key.strip()} is sent by smsbridge itself; "
                "remove the line."
            )
        yield key.strip(), value.strip()


def basic_header(credentials: ClientCredentials) -> str:
    # RFC 6749 §2.3.1: each part form-urlencoded before the two are joined.
    pair = (
        f"{quote_plus(credentials.client_id)}:{quote_plus(credentials.client_secret)}"
    )
    return "Basic " + base64.b64encode(pair.encode()).decode()


def token_request(credentials: ClientCredentials) -> HttpRequest:
    fields = [("grant_type", "client_credentials")]
    if credentials.scope:
        fields.append(("scope", credentials.scope))
    fields += credentials.parameters
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ]
    if credentials.in_body:
        fields += [
            ("client_id", credentials.client_id),
            ("client_secret", credentials.client_secret),
        ]
    else:
        headers.append(("Authorization", basic_header(credentials)))
    body = urlencode(fields).encode()
    return HttpRequest("POST", credentials.token_url, tuple(headers), body)


def with_bearer(request: HttpRequest, token: str) -> HttpRequest:
    """The request carrying the token, in place of any Authorization header."""
    headers = tuple(p for p in request.headers if p[0].lower() != "authorization")
    return replace(request, headers=(*headers, ("Authorization", f"Bearer {token}")))


def refused_token(answer: Outcome) -> Outcome:
    """A provider's 401 to a token just issued: the credentials are fine, the
    token does not open this API."""
    if answer.status_code != 401:
        return answer
    return replace(
        answer,
        diagnosis=f"401 from {answer.host}: the provider refused the access token "
        "even freshly issued by the token endpoint — check the scope and "
        "key-value pairs, and that this client may send SMS.",
    )


# --- the token, cached ---------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(key, threading.Lock())


def access_token(credentials: ClientCredentials, *, refused: str = "") -> str:
    """A token to send with: the cached one, or a new one from the endpoint.

    `refused` is a token the provider answered 401 to: it is not used again.
    Threads of one process wait for one fetch rather than each making its own.
    Raises TokenFailure."""
    key = credentials.cache_key
    with _lock(key):
        token = cached_token(key)
        if token and token != refused:
            return token  # another thread or process may have replaced it
        if token:
            cache.delete(key)  # refused: never sent again, whatever comes next
        failed = cache.get(f"{key}:failed")
        if failed:
            raise TokenFailure(Outcome.failure(Category.TOKEN, **failed))
        try:
            token, lifetime = fetch_token(credentials)
        except TokenFailure as failure:
            held = {"diagnosis": failure.outcome.diagnosis, "host": credentials.host}
            cache.set(f"{key}:failed", held, FAILURE_HOLD_SECONDS)
            raise
        keep_token(key, token, lifetime)
        return token


def cached_token(key: str) -> str:
    kept = cache.get(key)
    if not kept or kept["expires_at"] <= clock():
        return ""
    try:
        return crypto.decrypt(kept["token"])
    except ImproperlyConfigured:
        return ""  # sealed with a key rotated out since: fetch a new one


def keep_token(key: str, token: str, lifetime: float) -> None:
    if lifetime <= 0:
        return
    kept = {"token": crypto.encrypt(token), "expires_at": clock() + lifetime}
    cache.set(key, kept, timeout=max(1, int(lifetime)))


def usable_seconds(expires_in: Any) -> float:
    """How long to use a token the endpoint says lives `expires_in` seconds."""
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        expires_in = DEFAULT_LIFETIME_SECONDS
    if expires_in > 2 * MARGIN_SECONDS:
        return expires_in - MARGIN_SECONDS
    return max(0.0, expires_in / 2)  # a short-lived token: half its life


def fetch_token(credentials: ClientCredentials) -> tuple[str, float]:
    answer = transport.send(
        token_request(credentials),
        rules=ResponseRules(),
        secrets=credentials.secrets,
    )
    return read_token(answer, host=credentials.host)


# --- reading the token endpoint's answer ------------------------------------------

UNREACHABLE = {
    Category.TIMEOUT: "did not answer in time",
    Category.DNS: "could not be found (DNS lookup failed): check the Client URL",
    Category.TLS: "failed the TLS handshake: its certificate may be invalid, "
    "expired or issued for another name",
    Category.REDIRECT: "answered with a redirect, which is not followed: put the "
    "final token URL in Client URL",
}
# RFC 6749 §5.2's error codes, and what to check for each.
CHECK_CREDENTIALS = "check the client ID and secret key, and where they are sent"
ERRORS = {
    "invalid_client": "refused the client credentials (invalid_client): "
    + CHECK_CREDENTIALS,
    "unauthorized_client": "does not let this client use client credentials "
    "(unauthorized_client): ask the provider to allow it",
    "invalid_scope": "refused the scope (invalid_scope): check the scope",
    "unsupported_grant_type": "does not offer client credentials "
    "(unsupported_grant_type): check the Client URL",
    "invalid_grant": "refused the grant (invalid_grant): check the key-value pairs",
    "invalid_request": "refused the token request (invalid_request): check the "
    "key-value pairs and where the client credentials are sent",
}
NOTHING_SENT = " No access token, so nothing was sent to the provider."


def read_token(answer: Outcome, *, host: str) -> tuple[str, float]:
    """The token and how long to use it, or TokenFailure saying what is wrong."""
    status = answer.status_code
    data = answer.data if isinstance(answer.data, Mapping) else {}
    token = data.get("access_token")
    if status is not None and 200 <= status < 300 and usable(token):
        return token, usable_seconds(data.get("expires_in"))
    advice = token_advice(answer, data)
    said = provider_says(data) if status and status >= 400 else ""
    said = f" It says: {said}." if said else ""
    secrets = [token] if isinstance(token, str) else []
    raise TokenFailure(
        Outcome.failure(
            Category.TOKEN,
            redact_text(f"The token endpoint {host} {advice}.{said}", secrets)
            + NOTHING_SENT,
            response_excerpt=redact_text(answer.response_excerpt, secrets),
            host=host,
        )
    )


def usable(token: Any) -> bool:
    # It goes into a header: a line break in it would split the request.
    return (
        isinstance(token, str) and bool(token.strip()) and not control_character(token)
    )


def token_advice(answer: Outcome, data: Mapping) -> str:
    status = answer.status_code
    if status is None:
        if answer.category == Category.BLOCKED:
            return f"is refused: {answer.diagnosis.rstrip('.')}"
        return UNREACHABLE.get(
            answer.category, "could not be reached: check the Client URL's host"
        )
    error = data.get("error")
    if 400 <= status < 500 and isinstance(error, str) and error in ERRORS:
        return ERRORS[error]
    if status in (401, 403):
        return f"refused the client credentials ({status}): {CHECK_CREDENTIALS}"
    if status >= 500:
        return f"had an internal error ({status}); try again later"
    if 300 <= status < 400:
        return UNREACHABLE[Category.REDIRECT]
    if status >= 400:
        return (
            f"refused the token request ({status}): check the Client URL and the "
            "key-value pairs"
        )
    what = "without an access_token" if data else "not with JSON"
    if data.get("access_token") not in (None, ""):
        what = "with an access_token that cannot be sent in a header"
    return f"answered {status} but {what}: check the Client URL"
