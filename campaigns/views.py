"""The delivery-report callback every provider posts to: /dlr/<token>/."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from providers import dlr
from providers.models import Provider

from . import statements
from .models import DeliveryReport
from .tracking import apply_updates
from .writers import one_writer


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@csrf_exempt
@require_http_methods(["GET", "POST"])
def dlr_callback(request: HttpRequest, token: str) -> JsonResponse:
    provider = provider_for(token)
    if provider is None:
        return JsonResponse(
            {"status": "fail", "error": "Unknown callback URL."}, status=404
        )
    try:
        check_credentials(request, provider)
        payload = read_payload(request)
        kind, updates = dlr.parse(payload, mapping=provider.dlr_mapping())
    except (Refused, dlr.DlrError) as err:
        status, reason = (
            (err.status, err.reason) if isinstance(err, Refused) else (400, str(err))
        )
        log(request, provider, status=status, result=reason)
        response = JsonResponse(
            {"status": "fail", "processed": 0, "unprocessed": [], "error": reason},
            status=status,
        )
        if status == 401:
            response["WWW-Authenticate"] = 'Basic realm="smsbridge delivery reports"'
        return response
    # Applying and logging share one transaction: one write lock, one commit.
    with one_writer():
        tracked = apply_updates(provider=provider, updates=updates)
        summary = (
            f"{tracked.applied} applied, {tracked.unchanged} unchanged, "
            f"{len(tracked.unmatched)} unmatched, {tracked.events} other events"
        )
        log(request, provider, status=200, result=summary, kind=kind, tracked=tracked)
    # Unknown ids still get 200, so the provider stops retrying; they are kept
    # in the log for inspection.
    return JsonResponse(
        {
            "status": "partial" if tracked.unmatched else "success",
            "processed": tracked.applied + tracked.unchanged + tracked.events,
            "unprocessed": [
                {
                    "status": "fail",
                    "code": 404,
                    "error": "unknown message id",
                    "record": {"id": i},
                }
                for i in tracked.unmatched
            ],
        }
    )


# What a callback needs of its provider; the request template is left unread.
# Callbacks come by the thousand per second, hence prepared statements.
CALLBACK_FIELDS = (
    "nickname",
    "callback_token",
    "previous_callback_token",
    "previous_token_valid_until",
    "dlr_credentials",
    "dlr_id_path",
    "dlr_provider_id_path",
    "dlr_status_path",
    "dlr_error_code_path",
    "dlr_description_path",
    "dlr_timestamp_path",
    "dlr_status_values",
)


def provider_for(token: str) -> Provider | None:
    for field in ("callback_token", "previous_callback_token"):
        where = f"{statements.column(Provider, field)} = %s"
        for provider in statements.fetch(Provider, CALLBACK_FIELDS, where, [token]):
            if provider.accepts_token(token, now=timezone.now()):
                return provider
    return None


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
    if request.method == "GET":
        return flat(request.GET)
    size = int(request.headers.get("Content-Length") or 0)
    if (
        size > settings.DLR_MAX_BODY_BYTES
        or len(request.body) > settings.DLR_MAX_BODY_BYTES
    ):
        raise Refused(413, "The body is larger than 256 KiB.")
    body = request.body
    content_type = request.content_type or ""
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise Refused(400, f"The body is not valid JSON: {err}.") from err
    if content_type == "application/x-www-form-urlencoded" or request.POST:
        return flat(request.POST)
    if not body.strip():
        raise Refused(400, "The callback is empty.")
    raise Refused(
        400, f"Unsupported content type “{content_type}”; send JSON or a form."
    )


def flat(query) -> dict[str, str]:
    return {key: query.get(key) for key in query}


def log(
    request, provider, *, status: int, result: str, kind: str = "", tracked=None
) -> None:
    body = (
        request.body
        if request.method == "POST"
        else request.META.get("QUERY_STRING", "").encode()
    )
    report = DeliveryReport(
        provider=provider,
        method=request.method,
        content_type=(request.content_type or "")[:200],
        body=body[: settings.DLR_STORED_BODY_CHARS].decode("utf-8", errors="replace"),
        format=kind,
        response_status=status,
        processed=tracked.applied if tracked else 0,
        unmatched_ids=tracked.unmatched if tracked else [],
        result=result[:500],
    )
    statements.insert(report)
