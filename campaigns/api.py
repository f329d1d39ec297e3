"""The event API: POST /api/v1/events and GET /api/v1/messages/<id>, and its
contract at /api/v1/openapi.json (campaigns/openapi.py) and /api/v1/docs.

Callers authenticate with `Authorization: Bearer <token>` (an ApiToken). Every
answer is JSON; every refusal is `{"error": "<reason>", ...}` with a 4xx status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from providers import bounded_json
from providers.phones import international

from . import idempotency, openapi
from .events import (
    CampaignNotSendable,
    MessageTooLong,
    MissingProperties,
    OffTemplate,
    UnknownEvent,
    trigger_event,
)
from .models import ApiToken, Message


class Refused(Exception):
    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status, self.reason, self.extra = status, reason, extra


def refusal(err: Refused) -> JsonResponse:
    response = JsonResponse({"error": err.reason, **err.extra}, status=err.status)
    if err.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="smsbridge"'
    return response


# What a token must be allowed to do for each kind of call.
SCOPES = {
    "send": ("can_send", "This API token may not send events."),
    "read": ("can_read", "This API token may not read messages."),
}


def api_view(method: str, *, scope: str) -> Callable:
    """One method, a bearer token allowed `scope`, and JSON refusals instead of
    Django's HTML ones. The view finds the token as request.api_token."""
    allowed, denied = SCOPES[scope]

    def decorate(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            try:
                if request.method != method:
                    raise Refused(405, f"Use {method} for this URL.", allowed=[method])
                request.api_token = authenticate(request)
                if not getattr(request.api_token, allowed):
                    raise Refused(403, denied)
                return view(request, *args, **kwargs)
            except Refused as err:
                response = refusal(err)
                if err.status == 405:
                    response["Allow"] = method
                return response

        return wrapped

    return decorate


def authenticate(request: HttpRequest) -> ApiToken:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "Send an API token as “Authorization: Bearer <token>”.")
    # Looked up by its SHA-256, so the time taken says nothing about the token.
    api_token = ApiToken.find(token.strip())
    if api_token is None:
        raise Refused(401, "The API token is unknown or deactivated.")
    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
    return api_token


# --- POST /api/v1/events ----------------------------------------------------------


@api_view("POST", scope="send")
def events(request: HttpRequest) -> JsonResponse:
    body = read_object(request)
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return queue_event(body, request.api_token)
    if not idempotency.valid_key(key):
        raise Refused(
            400,
            f"The {idempotency.HEADER} must be 1 to 255 printable ASCII characters "
            "(no spaces).",
            field=idempotency.HEADER,
        )
    try:
        found = idempotency.begin(request.api_token, key, body, now=timezone.now())
    except idempotency.KeyInUse as err:
        raise Refused(409, str(err), field=idempotency.HEADER) from err
    if isinstance(found, idempotency.Replay):
        response = JsonResponse(found.body, status=found.status)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        # The messages and the answer kept for the key commit together.
        with transaction.atomic():
            response = queue_event(body, request.api_token)
            kept = json.loads(response.content)
            idempotency.finish(found, status=response.status_code, body=kept)
    except BaseException:
        idempotency.abandon(found)
        raise
    return response


def queue_event(body: dict[str, Any], api_token: ApiToken) -> JsonResponse:
    """Queue the event's messages; 202 with their ids, or Refused."""
    event, properties = required_text(body, "event"), event_properties(body)
    number = recipient(body)
    try:
        messages = trigger_event(
            event=event, to=number, properties=properties, api_token=api_token
        )
    except MissingProperties as err:
        raise Refused(422, str(err), missing=err.missing) from err
    except OffTemplate as err:
        raise Refused(422, str(err), campaign=err.campaign.name) from err
    except UnknownEvent as err:
        raise Refused(404, str(err)) from err
    except CampaignNotSendable as err:
        raise Refused(409, str(err), campaign=err.campaign.name) from err
    except MessageTooLong as err:
        raise Refused(
            422,
            str(err),
            campaign=err.campaign.name,
            segments=err.segments,
            limit=err.limit,
        ) from err
    return JsonResponse({"messages": [summary(m) for m in messages]}, status=202)


# An event is a name, a number and a few properties; nothing near this size.
MAX_BODY_BYTES = 64 * 1024


def read_object(request: HttpRequest) -> dict[str, Any]:
    limit = min(MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES)
    too_large = Refused(413, f"The body is larger than {limit:,} bytes.")
    if bounded_json.declared_size(request) > limit:
        raise too_large
    try:
        body = bounded_json.loads(request.body, parse_constant=not_json)
    except RequestDataTooBig as err:
        raise too_large from err
    except bounded_json.TooDeep as err:
        raise Refused(400, f"The body is not accepted: {err}") from err
    except UnicodeDecodeError as err:
        raise Refused(
            400, f"Byte {err.start + 1} of the body cannot be read; send UTF-8 JSON."
        ) from err
    except ValueError as err:
        raise Refused(400, f"The body is not valid JSON: {err}.") from err
    if not isinstance(body, dict):
        raise Refused(400, "The body must be a JSON object.")
    return body


def not_json(constant: str) -> Any:
    # Python reads NaN and Infinity; JSON has neither, and no SMS means them.
    raise ValueError(f"{constant} is not a JSON value")


def recipient(body: dict[str, Any]) -> str:
    to, country = required_text(body, "to"), optional_text(body, "country")
    try:
        return international(to, country=country)
    except ValidationError as err:
        field = "country" if err.code == "invalid_country" else "to"
        raise Refused(422, " ".join(err.messages), field=field) from err


def event_properties(body: dict[str, Any]) -> dict[str, str | int | float]:
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise Refused(400, "“properties” must be a JSON object.", field="properties")
    for name, value in properties.items():
        # Booleans are ints in Python, but "True" in an SMS is never meant.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Refused(
                400,
                f"The property “{name}” must be a string or a number.",
                field="properties",
            )
        if isinstance(value, str):
            no_nul(value, "properties")
    return properties


def required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, f"“{name}” is required and must be a string.", field=name)
    return no_nul(value.strip(), name)


def optional_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise Refused(400, f"“{name}” must be a string.", field=name)
    return no_nul(value.strip(), name)


def no_nul(value: str, field: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
    if "\x00" in value:
        raise Refused(400, f"“{field}” must not contain NUL characters.", field=field)
    return value


def summary(message: Message) -> dict[str, str]:
    return {
        "id": message.message_id,
        "campaign": message.campaign.name,
        "status": message.status,
    }


# --- GET /api/v1/messages/<message_id> ---------------------------------------------


@api_view("GET", scope="read")
def message_status(request: HttpRequest, message_id: str) -> JsonResponse:
    if len(message_id) > 64 or "\x00" in message_id:
        raise Refused(404, f"No message has the id “{message_id[:64]}”.")
    message = (
        Message.objects.select_related("campaign", "sender__provider")
        .filter(message_id=message_id)
        .first()
    )
    if message is None:
        raise Refused(404, f"No message has the id “{message_id}”.")
    return JsonResponse(
        {
            "id": message.message_id,
            "to": message.to,
            "status": message.status,
            "campaign": message.campaign.name,
            # The provider it went to (on a route, the one it is with now).
            "provider": str(message.sender.provider) if message.sender else None,
            "provider_message_id": message.provider_message_id,
            "failure_category": message.failure_category,
            "failure_reason": message.failure_reason,
            "sent_at": iso(message.sent_at),
            "delivered_at": iso(message.delivered_at),
            "delivery_error_code": message.delivery_error_code,
        }
    )


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- the contract ---------------------------------------------------------------------


@require_GET
def openapi_document(request: HttpRequest) -> JsonResponse:
    """The API's OpenAPI 3.1 document; public, like any published contract."""
    return JsonResponse(openapi.document())


@require_GET
def docs(request: HttpRequest) -> TemplateResponse:
    """The document in Swagger UI, served from the app's own static files."""
    return TemplateResponse(request, "api/docs.html", {"title": "smsbridge API"})
