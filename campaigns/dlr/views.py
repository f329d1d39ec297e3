"""The callbacks every provider posts to: delivery reports at /dlr/<token>/,
inbound replies at /inbound/<token>/ (the same token).

A delivery report is checked (token, credentials, format), stored once as its
log row (waiting, with the updates it carries) and answered; the worker applies
it moments later (campaigns.dlr.applying). A callback to /dlr/ that is a reply
as the provider's inbound mapping reads one (8x8's inbound webhook is known as
it is), and every callback to /inbound/, is an inbound reply instead: kept and
acted on at once (campaigns.inbound), as replies come a few a minute, not
thousands a second. Whatever is refused is logged under Delivery reports.
"""

from __future__ import annotations

import base64
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError, connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from providers import bounded_json, dlr
from providers import inbound as replies
from providers.dlr import DLR_FIELDS
from providers.inbound import INBOUND_FIELDS
from providers.models import Provider

from .. import inbound
from ..models import DeliveryReport

logger = logging.getLogger(__name__)


class Refused(Exception):
    """A callback answered 4xx: final, as the same callback sent again would
    get the same answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@csrf_exempt
@require_http_methods(["GET", "POST"])
def dlr_callback(request: HttpRequest, token: str) -> HttpResponse:
    try:
        return answer(request, token)
    except DatabaseError:
        logger.exception("A delivery-report callback could not be stored")
        # 503 asks the provider to send it again later.
        return refusal(503, "The callback could not be stored; send it again.")


def answer(request: HttpRequest, token: str) -> HttpResponse:
    provider = provider_for(token)
    if provider is None:
        return JsonResponse(
            {"status": "fail", "error": "Unknown callback URL."}, status=404
        )
    try:
        check_credentials(request, provider)
        payload = read_payload(request)
        reports = provider.dlr_mapping()
        found = replies.parse(
            payload, mapping=provider.inbound_mapping(), reports=reports
        )
        if found is None:
            kind, updates = dlr.parse(payload, mapping=reports)
    except (Refused, dlr.DlrError, replies.InboundError) as err:
        return refused(request, provider, err)
    if found is not None:
        return take_replies(request, provider, found)
    receipt = store(request, provider, kind=kind, updates=updates)
    # Unknown ids are not the provider's to fix: they are kept in the log.
    return accepted(len(updates), receipt)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_callback(request: HttpRequest, token: str) -> HttpResponse:
    try:
        return answer_inbound(request, token)
    except DatabaseError:
        logger.exception("An inbound reply could not be stored")
        return refusal(503, "The reply could not be stored; send it again.")


def answer_inbound(request: HttpRequest, token: str) -> HttpResponse:
    provider = provider_for(token)
    if provider is None:
        return JsonResponse(
            {"status": "fail", "error": "Unknown inbound URL."}, status=404
        )
    try:
        check_credentials(request, provider)
        payload = read_payload(request)
        found = replies.parse(payload, mapping=provider.inbound_mapping())
        if found is None:
            raise replies.InboundError(not_a_reply(provider.inbound_mapping()))
    except (Refused, replies.InboundError) as err:
        return refused(request, provider, err, is_reply=True)
    return take_replies(request, provider, found)


def not_a_reply(mapping: replies.InboundMapping) -> str:
    if not mapping.usable:
        return (
            "Unrecognised reply: it is not 8x8's inbound format, and this provider "
            "has no inbound mapping (the sender's number and text fields)."
        )
    return (
        f"Not a reply: no sender's number at “{mapping.from_path}” or no text at "
        f"“{mapping.text_path}”."
    )


def take_replies(
    request: HttpRequest, provider: Provider, found: list[replies.Reply]
) -> HttpResponse:
    kept = inbound.receive(provider=provider, replies=found, body=stored_body(request))
    return JsonResponse(
        {
            "status": "success",
            "processed": len(kept),
            "unprocessed": [],
            # Replies the provider had sent before (the same id): kept once.
            "duplicates": len(found) - len(kept),
        }
    )


def refused(
    request: HttpRequest,
    provider: Provider,
    err: Refused | dlr.DlrError | replies.InboundError,
    *,
    is_reply: bool = False,
) -> HttpResponse:
    status, reason = (
        (err.status, err.reason) if isinstance(err, Refused) else (400, str(err))
    )
    reason = reason.replace("\x00", "\ufffd")  # it may quote the callback
    report = as_received(request, provider, status=status, result=reason)
    report.state = DeliveryReport.State.REFUSED
    if is_reply or isinstance(err, replies.InboundError):
        report.format = "inbound"
        logger.warning(
            "Refused an inbound reply to provider %s: %s", provider.pk, reason
        )
    report.save(force_insert=True)
    response = refusal(status, reason)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="smsbridge delivery reports"'
    return response


# An accepted callback's one write, spelt out: on the 8x8 receipts of
# bench_dlr_ingestion, Model.save() of the same row took 2.1x (SQLite) and 2.2x
# (PostgreSQL) the time of this statement, at thousands of callbacks a second.
STORE_WAITING = (
    "INSERT INTO campaigns_deliveryreport (provider_id, received_at, receipt, "
    "method, content_type, body, format, response_status, processed, "
    "unmatched_ids, result, state, updates) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def store(
    request: HttpRequest,
    provider: Provider,
    *,
    kind: str,
    updates: Sequence[dlr.StatusUpdate],
) -> uuid.UUID:
    """Keep an accepted callback, waiting for the worker: once this returns, it
    will be applied. Its receipt."""
    receipt = time_ordered_uuid()
    stored_updates = [DeliveryReport.stored(update) for update in updates]
    values = [
        provider.pk,
        prepared("received_at", timezone.now()),
        prepared("receipt", receipt),
        request.method,
        received_content_type(request),
        stored_body(request),
        kind,
        200,
        0,
        prepared("unmatched_ids", []),
        "Waiting",
        DeliveryReport.State.WAITING.value,
        prepared("updates", stored_updates),
    ]
    with connection.cursor() as cursor:
        cursor.execute(STORE_WAITING, values)
    return receipt


def prepared(field: str, value: Any) -> Any:
    """`value` as DeliveryReport.save() would send it to this database."""
    return DeliveryReport._meta.get_field(field).get_db_prep_save(value, connection)


def accepted(processed: int, receipt: uuid.UUID) -> HttpResponse:
    """{"status": "success", "processed": n, "unprocessed": [], "receipt": "..."},
    written out: the answer to thousands of callbacks a second, where a
    JsonResponse's encoder would cost more than the rest of the answer."""
    body = b'{"status":"success","processed":%d,"unprocessed":[],"receipt":"%s"}'
    return HttpResponse(
        body % (processed, str(receipt).encode()), content_type="application/json"
    )


def refusal(status: int, reason: str) -> JsonResponse:
    return JsonResponse(
        {"status": "fail", "processed": 0, "unprocessed": [], "error": reason},
        status=status,
    )


# What a callback needs of its provider; the request template is left unread.
CALLBACK_FIELDS = (
    "nickname",
    "callback_token",
    "previous_callback_token",
    "previous_token_valid_until",
    *DLR_FIELDS,
    *INBOUND_FIELDS,
)


def provider_for(token: str) -> Provider | None:
    """The provider a callback URL belongs to. Callbacks come by the thousand
    per second for a handful of providers, so each web process keeps what it
    found for DLR_PROVIDER_CACHE_SECONDS; a change saved in this process is seen
    at once, one saved elsewhere within that time."""
    now = time.monotonic()
    found, at = _providers.get(token, (None, 0.0))
    if found is None or now - at > settings.DLR_PROVIDER_CACHE_SECONDS:
        found = look_up(token)
        if found is None:
            return None
        if len(_providers) >= 1000:  # a flood of made-up tokens stays bounded
            _providers.clear()
        _providers[token] = (found, now)
    # The previous token's grace period may have ended since it was found.
    return found if found.accepts_token(token, now=timezone.now()) else None


def look_up(token: str) -> Provider | None:
    for field in ("callback_token", "previous_callback_token"):
        found = Provider.objects.only(*CALLBACK_FIELDS).filter(**{field: token})
        for provider in found:
            if provider.accepts_token(token, now=timezone.now()):
                return provider
    return None


_providers: dict[str, tuple[Provider, float]] = {}


@receiver([post_save, post_delete], sender=Provider)
def forget_providers(**kwargs) -> None:
    _providers.clear()


def check_credentials(request: HttpRequest, provider: Provider) -> None:
    pairs = provider.dlr_credential_pairs()
    if not pairs:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        given = ""
    # Compare against every pair, so timing does not reveal which one nearly matched.
    matches = [constant_time_compare(given, f"{u}:{p}") for u, p in pairs]
    if scheme.lower() != "basic" or not any(matches):
        raise Refused(401, "Missing or wrong credentials for this callback URL.")


def read_payload(request: HttpRequest) -> Any:
    """The callback's data; Refused, with a reason the provider can act on, for
    a body that will never be accepted as it is."""
    try:
        if request.method == "GET":
            return flat(request.GET)
        return read_body(request)
    except TooManyFieldsSent as err:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise Refused(
            400, f"The callback has more than {limit:,} fields; send fewer."
        ) from err
    except (SuspiciousOperation, MultiPartParserError) as err:
        # Django's own checks of a request, a broken multipart body.
        raise Refused(
            400, f"The callback could not be read: {str(err).rstrip('.')}."
        ) from err


def read_body(request: HttpRequest) -> Any:
    limit = settings.DLR_MAX_BODY_BYTES
    # The declared size first, so a huge body is never read into memory.
    if bounded_json.declared_size(request) > limit or len(request.body) > limit:
        raise Refused(413, f"The body is larger than {limit:,} bytes.")
    body = request.body
    content_type = request.content_type or ""
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        return read_json(body)
    if content_type == "application/x-www-form-urlencoded" or request.POST:
        return flat(request.POST)
    if not body.strip():
        raise Refused(400, "The callback is empty.")
    raise Refused(
        400, f"Unsupported content type “{content_type}”; send JSON or a form."
    )


def read_json(body: bytes) -> Any:
    try:
        return bounded_json.loads(body, max_depth=settings.DLR_MAX_JSON_DEPTH)
    except bounded_json.TooDeep as err:
        raise Refused(400, f"The body is not accepted: {err}") from err
    except ValueError as err:  # UnicodeDecodeError included
        raise Refused(400, f"The body is not valid JSON: {err}.") from err


def flat(query) -> dict[str, str]:
    return {key: query.get(key) for key in query}


def as_received(
    request: HttpRequest, provider: Provider, *, status: int, result: str
) -> DeliveryReport:
    return DeliveryReport(
        provider=provider,
        receipt=time_ordered_uuid(),
        method=request.method,
        content_type=received_content_type(request),
        body=stored_body(request),
        response_status=status,
        result=result[:500],
    )


def received_content_type(request: HttpRequest) -> str:
    return (request.content_type or "").replace("\x00", "\ufffd")[:200]


def time_ordered_uuid() -> uuid.UUID:
    """A version 7 UUID (RFC 9562): milliseconds since 1970, then random bits.
    Receipts in the order they were given go in at the end of the log's
    unique index, where random ones would rewrite pages all over it."""
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & (1 << 48) - 1) << 80 | random
    value = value & ~(0xF << 76) | 0x7 << 76  # the version
    value = value & ~(0x3 << 62) | 0x2 << 62  # the variant
    return uuid.UUID(int=value)


def stored_body(request: HttpRequest) -> str:
    """The body as it is kept in the log: capped, and readable as text."""
    cap = settings.DLR_STORED_BODY_CHARS
    if request.method != "POST":
        body = request.META.get("QUERY_STRING", "").encode()
    elif bounded_json.declared_size(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        body = request.read(cap)  # Django will not hand over all of it
    else:
        body = request.body
    # PostgreSQL cannot store NUL in text; U+FFFD shows where one was.
    return body[:cap].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
