"""The only module that talks HTTP to providers (and to status webhooks).

One shared session; explicit connect/read timeouts; redirects never followed; the
answer read up to a cap; and, unless private endpoints are allowed, every address
the host resolves to must be public before any is connected to, so DNS that
changes between save and send cannot reach an internal host. Every send returns
an Outcome; nothing is retried here.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from functools import cache
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import exceptions as urllib3_errors
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family, create_connection

from ..validators import blocked_address, described
from .outcomes import Category, Outcome, ResponseRules, judge_response
from .redaction import redact_text
from .rendering import HttpRequest

logger = logging.getLogger(__name__)

USER_AGENT = "smsbridge/0.1 (+self-hosted SMS provider bridge)"


class BlockedAddressError(Exception):
    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolved to {address}")
        self.host = host
        self.address = address

    @property
    def diagnosis(self) -> str:
        shown = described(self.address)
        if self.host != self.address:
            subject = f"{self.host} resolves to {shown},"
        else:
            subject = f"{shown}, is" if shown != self.address else f"{shown} is"
        return (
            f"{subject} a loopback, private or reserved address; smsbridge only "
            "sends to public addresses."
        )


class GuardedConnectionMixin:
    """Checks every address the host resolves to before connecting to any, then
    connects to a checked address itself.

    Connecting first and judging the peer after would tell open ports from closed
    ones on hosts smsbridge must never reach; a second lookup at connect time
    could answer differently from the checked one (DNS rebinding). The lookup
    runs once per new connection, not per request on a kept-alive one. The
    Host header and the TLS name check still use the host as written."""

    def _new_conn(self) -> socket.socket:
        if settings.SMS_ALLOW_PRIVATE_ENDPOINTS:
            return super()._new_conn()
        addresses = self._checked_addresses()
        try:
            return self._connect_to_one_of(addresses)
        except TimeoutError as err:
            raise urllib3_errors.ConnectTimeoutError(
                self,
                f"Connection to {self.host} timed out. "
                f"(connect timeout={self.timeout})",
            ) from err
        except OSError as err:
            raise urllib3_errors.NewConnectionError(
                self, f"Failed to establish a new connection: {err}"
            ) from err

    def _checked_addresses(self) -> list[str]:
        try:
            found = socket.getaddrinfo(
                self._dns_host.strip("[]"),
                self.port,
                allowed_gai_family(),
                socket.SOCK_STREAM,
            )
        except (socket.gaierror, UnicodeError) as err:
            raise urllib3_errors.NameResolutionError(self.host, self, err) from err
        addresses = list(dict.fromkeys(sockaddr[0] for *_, sockaddr in found))
        for address in addresses:
            if blocked_address(address):
                raise BlockedAddressError(self.host, address)
        return addresses

    def _connect_to_one_of(self, addresses: list[str]) -> socket.socket:
        # Each address in turn, as a lookup-and-connect would; a numeric address
        # is not looked up again.
        error = OSError(f"{self.host} has no address")
        for address in addresses:
            try:
                return self._connect_to(address)
            except OSError as err:
                error = err
        raise error

    def _connect_to(self, address: str) -> socket.socket:
        return create_connection(
            (address, self.port),
            self.timeout,
            source_address=self.source_address,
            socket_options=self.socket_options,
        )


class GuardedHTTPConnection(GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


@cache
def session() -> requests.Session:
    """One keep-alive session per process."""
    shared = requests.Session()
    shared.trust_env = False  # an operator's proxy variables must not reroute sends
    shared.headers["User-Agent"] = USER_AGENT
    adapter = GuardedAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    shared.mount("http://", adapter)
    shared.mount("https://", adapter)
    return shared


def send(
    request: HttpRequest, *, rules: ResponseRules, secrets: list[str] | None = None
) -> Outcome:
    secrets = secrets or []
    host = urlsplit(request.url).hostname or request.url
    started = time.monotonic()
    try:
        response, body, truncated = exchange(request, started=started)
    except BlockedAddressError as err:
        outcome = Outcome.failure(Category.BLOCKED, err.diagnosis)
    except requests.RequestException as err:
        outcome = failure_for_exception(err, host)
    else:
        outcome = judge_response(
            host=host,
            status=response.status_code,
            headers=response.headers,
            body=body,
            truncated=truncated,
            rules=rules,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    outcome = outcome.finish(
        latency_ms=round((time.monotonic() - started) * 1000), secrets=secrets
    )
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "sms send %s %s -> %s %s in %d ms",
            request.method,
            redact_text(request.url, secrets),
            outcome.status_code or "-",
            outcome.category,
            outcome.latency_ms,
        )
    return outcome


@dataclass(frozen=True)
class Reply:
    """What a plain POST got (a status webhook's): the HTTP status is the
    answer, with no provider's rules to read it by."""

    status: int | None = None  # None: no answer came
    answer: str = ""  # the start of the answer
    failure: str = ""  # why no answer came, a Category: timeout, dns, blocked, ...
    diagnosis: str = ""
    latency_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


REPLY_ANSWER_CHARS = 500


def post(url: str, *, body: bytes, headers: Mapping[str, str]) -> Reply:
    """POST `body` to `url` through the same address guard, timeouts, caps and
    refusal of redirects as a send. Unless private endpoints are allowed, only
    to HTTPS. The query string is never logged: it may carry a credential."""
    parts = urlsplit(url)
    started = time.monotonic()
    if not settings.SMS_ALLOW_PRIVATE_ENDPOINTS and parts.scheme != "https":
        reply = Reply(
            failure=Category.BLOCKED,
            diagnosis=f"The URL for {parts.hostname} is not HTTPS; smsbridge "
            "only posts to https:// URLs.",
        )
    else:
        request = HttpRequest(
            method="POST", url=url, headers=tuple(headers.items()), body=body
        )
        reply = posted(request, host=parts.hostname or url, started=started)
    reply = replace(reply, latency_ms=round((time.monotonic() - started) * 1000))
    logger.info(
        "POST %s://%s%s -> %s in %d ms",
        parts.scheme,
        parts.netloc.rpartition("@")[2],
        parts.path,
        reply.status or reply.failure,
        reply.latency_ms,
    )
    return reply


def posted(request: HttpRequest, *, host: str, started: float) -> Reply:
    try:
        response, answer, _ = exchange(request, started=started)
    except BlockedAddressError as err:
        return Reply(failure=Category.BLOCKED, diagnosis=err.diagnosis)
    except requests.RequestException as err:
        failed = failure_for_exception(err, host)
        return Reply(failure=failed.category, diagnosis=failed.diagnosis)
    text = answer[:REPLY_ANSWER_CHARS].decode("utf-8", errors="replace")
    return Reply(status=response.status_code, answer=text)


def exchange(
    request: HttpRequest, *, started: float
) -> tuple[requests.Response, bytes, bool]:
    """Send `request` once: the answer, its body read up to the cap, and
    whether there was more."""
    response = session().send(
        prepare(request),
        timeout=(settings.SMS_CONNECT_TIMEOUT, settings.SMS_READ_TIMEOUT),
        allow_redirects=False,
        stream=True,
    )
    with response:
        body, truncated = read_capped(
            response, deadline=started + settings.SMS_TOTAL_TIMEOUT
        )
    return response, body, truncated


def prepare(request: HttpRequest) -> requests.PreparedRequest:
    """The request exactly as rendered, over the session's default headers.

    Session.request would also merge cookies, auth and environment settings on
    every call; none apply here (a provider's cookie must not ride along on the
    next message), and skipping them is a fifth of the cost of a send.
    """
    headers = CaseInsensitiveDict(session().headers)
    headers.update(request.headers)
    return requests.Request(
        request.method, request.url, headers=headers, data=request.body or None
    ).prepare()


class AnswerTooSlow(requests.Timeout):
    """The answer kept coming, a little at a time, past SMS_TOTAL_TIMEOUT."""


def read_capped(response: requests.Response, *, deadline: float) -> tuple[bytes, bool]:
    """The answer's first SMS_RESPONSE_MAX_BYTES, and whether there was more.

    Each wait for more bytes ends after SMS_READ_TIMEOUT, but a provider that
    sends a byte now and then would never hit it: the whole read also ends at
    `deadline`, each wait cut short to the time left."""
    limit = settings.SMS_RESPONSE_MAX_BYTES
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AnswerTooSlow()
            if left < settings.SMS_READ_TIMEOUT:
                wait_at_most(response, left)
            chunk = response.raw.read1(limit + 1 - size, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except urllib3_errors.HTTPError as err:
        # Keep requests' exception types, which failure_for_exception reads.
        raise requests.ConnectionError(err) from err
    body = b"".join(chunks)
    return body[:limit], size > limit


def wait_at_most(response: requests.Response, seconds: float) -> None:
    connection = response.raw.connection
    if connection is not None and connection.sock is not None:
        connection.sock.settimeout(seconds)


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def failure_for_exception(err: requests.RequestException, host: str) -> Outcome:
    reason = root_cause(err)
    if isinstance(err, requests.ConnectTimeout):
        return Outcome.failure(
            Category.TIMEOUT,
            f"Could not connect to {host} within {settings.SMS_CONNECT_TIMEOUT:g} s: "
            "the host is down or a firewall drops the connection.",
        )
    if isinstance(err, AnswerTooSlow):
        return Outcome.failure(
            Category.TIMEOUT,
            f"{host} was still sending its answer after "
            f"{settings.SMS_TOTAL_TIMEOUT:g} s, a little at a time; smsbridge "
            "stopped waiting. It may still deliver the message.",
            unanswered=True,
        )
    # A read that stalls mid-body surfaces as a ConnectionError wrapping urllib3's
    # ReadTimeoutError; it is still the provider being slow, not unreachable.
    if isinstance(err, requests.Timeout) or "ReadTimeoutError" in type_names(err):
        return Outcome.failure(
            Category.TIMEOUT,
            f"{host} did not answer within {settings.SMS_READ_TIMEOUT:g} s; the "
            "provider is slow or stuck. It may still deliver the message.",
            unanswered=True,
        )
    if isinstance(err, requests.exceptions.SSLError):
        return Outcome.failure(
            Category.TLS,
            f"The TLS handshake with {host} failed ({reason}); its certificate may be "
            "invalid, expired or issued for another name.",
        )
    if "NameResolutionError" in type_names(err) or "gaierror" in type_names(err):
        return Outcome.failure(
            Category.DNS,
            f"The host {host} could not be found (DNS lookup failed); check the "
            "spelling of the endpoint.",
        )
    # A connection dropped once the request was out (urllib3's ProtocolError)
    # may have delivered it; a refused or unreachable one delivered nothing.
    cut_off = "ProtocolError" in type_names(err)
    if isinstance(err, requests.ConnectionError):
        return Outcome.failure(
            Category.CONNECTION,
            f"The connection to {host} failed ({reason}); check the host and port, "
            "and that the provider's service is up.",
            unanswered=cut_off,
        )
    return Outcome.failure(
        Category.CONNECTION,
        f"The request to {host} failed: {reason}.",
        unanswered=cut_off,
    )


def type_names(err: BaseException) -> set[str]:
    names = set()
    current: BaseException | None = err
    while current is not None and len(names) < 20:
        names.add(type(current).__name__)
        current = current.__cause__ or current.__context__ or _wrapped(current)
    return names


def _wrapped(err: BaseException) -> BaseException | None:
    # urllib3 keeps the underlying error in .reason rather than as a cause.
    reason = getattr(err, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    args = getattr(err, "args", ())
    return args[0] if args and isinstance(args[0], BaseException) else None


def root_cause(err: BaseException) -> str:
    current = err
    for _ in range(20):
        inner = current.__cause__ or _wrapped(current)
        if inner is None:
            break
        current = inner
    text = str(current) or type(current).__name__
    return text.split(": ", 1)[-1] if "Connection(" in text else text
