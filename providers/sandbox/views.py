"""A built-in fake provider that speaks 8x8's SMS API, for the demo and tests.

Served under /sandbox/ only when SMS_SANDBOX_API_KEY is set. It checks the Bearer
key, validates like 8x8 does and answers with 8x8's bodies. Magic numbers:

    +6590000001  accepted by HTTP but status REJECTED (8x8's 200 + REJECTED)
    +6590000002  500 Internal Error
    +6590000003  answers only after SMS_SANDBOX_SLOW_SECONDS (a slow provider)
    +6590000004  accepted; its delivery report says undelivered

In a batch, a record 8x8 would refuse (a bad number, a sender ID over 16
characters, no text) is counted in rejectedCount inside a 200, as 8x8 does; the
CleverTap partner endpoint answers with the counts alone.

A moment after accepting (SMS_SANDBOX_DLR_DELAY), it posts a delivery report as
8x8 does: CleverTap event groups to `partnerCallbackUrl` for the partner
endpoint, 8x8's native webhook to `dlrCallbackUrl` for the others.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..encoding import GSM_7, encoding_for
from ..outbound import rendering, transport
from ..outbound.outcomes import ResponseRules
from ..outbound.redaction import redact_text

logger = logging.getLogger(__name__)

REJECTED_NUMBER = "6590000001"
SERVER_ERROR_NUMBER = "6590000002"
SLOW_NUMBER = "6590000003"
UNDELIVERED_NUMBER = "6590000004"

SUBACCOUNT = re.compile(r"[A-Za-z0-9\-._&]{3,50}\Z")
MSISDN = re.compile(r"\+?[1-9][0-9]{6,14}\Z")


class SandboxError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JsonResponse:
        return JsonResponse(
            {
                "code": self.code,
                "message": self.message,
                "errorId": str(uuid.uuid4()),
                "timestamp": datetime.now(UTC).isoformat(),
            },
            status=self.status,
        )


def endpoint(handler):
    """Authenticate, parse, and turn SandboxErrors into 8x8 error bodies."""

    @csrf_exempt
    @require_POST
    def view(request: HttpRequest, subaccount: str) -> JsonResponse:
        try:
            authenticate(request)
            if not SUBACCOUNT.match(subaccount):
                raise SandboxError(400, 1001, "Illegal SubAccountId")
            return JsonResponse(handler(parse(request)))
        except SandboxError as err:
            return err.response()

    return view


def authenticate(request: HttpRequest) -> None:
    expected = f"Bearer {settings.SMS_SANDBOX_API_KEY}"
    given = request.headers.get("Authorization", "")
    if not constant_time_compare(given, expected):
        raise SandboxError(401, 1200, "Request was not authenticated properly")


def parse(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as err:
        raise SandboxError(
            400, 1000, "Invalid parameter: the body is not JSON"
        ) from err
    if not isinstance(data, dict):
        raise SandboxError(400, 1000, "Invalid parameter: expected a JSON object")
    return data


def accept(record: dict, *, id_key: str = "clientMessageId") -> dict:
    """Validate one message like 8x8 does and answer with its SmsResponse."""
    destination = str(record.get("destination", ""))
    if not destination:
        raise SandboxError(400, 3002, "Missed MSISDN")
    if not MSISDN.match(destination):
        raise SandboxError(
            400, 1002, "Invalid MSISDN format (not E.164 international number)"
        )
    text = record.get("text")
    if not isinstance(text, str) or not text:
        raise SandboxError(400, 3005, "Missed Text")
    if len(str(record.get("source", ""))) > 16:
        raise SandboxError(400, 3011, "Too long SMS Source")
    digits = destination.lstrip("+")
    if digits == SERVER_ERROR_NUMBER:
        raise SandboxError(500, 2000, "Internal server error")
    if digits == SLOW_NUMBER:
        time.sleep(settings.SMS_SANDBOX_SLOW_SECONDS)
    rejected = digits == REJECTED_NUMBER
    answer = {
        "umid": str(uuid.uuid4()),
        "clientMessageId": record.get(id_key),
        "destination": digits,
        "encoding": "GSM7" if encoding_for(text) == GSM_7 else "UCS2",
        "status": {
            "code": "REJECTED" if rejected else "QUEUED",
            "description": "Destination is blocked"
            if rejected
            else "SMS is accepted and queued for processing",
        },
    }
    if not rejected:
        schedule_report(record, answer, id_key=id_key)
    return answer


def schedule_report(record: dict, answer: dict, *, id_key: str) -> None:
    undelivered = answer["destination"] == UNDELIVERED_NUMBER
    if record.get("partnerCallbackUrl"):
        url, body = record["partnerCallbackUrl"], clevertap_report(record, undelivered)
    elif record.get("dlrCallbackUrl"):
        url, body = record["dlrCallbackUrl"], native_report(record, answer, undelivered)
    else:
        return
    timer = threading.Timer(settings.SMS_SANDBOX_DLR_DELAY, post_report, (url, body))
    timer.daemon = True
    timer.start()


def clevertap_report(record: dict, undelivered: bool) -> list:
    item = {"ts": int(time.time()), "meta": record.get("mid")}
    if undelivered:
        item.update(code="900", description="Invalid destination (8x8 error 15)")
        return [{"event": "failed", "data": [item]}]
    item["description"] = "Delivered to handset"
    return [{"event": "delivered", "data": [item]}]


def native_report(record: dict, answer: dict, undelivered: bool) -> dict:
    status = {
        "state": "undelivered" if undelivered else "delivered",
        "detail": "rejected_by_operator" if undelivered else "delivered_to_recipient",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "errorCode": 15 if undelivered else 0,
        "errorMessage": "Invalid destination" if undelivered else "",
    }
    return {
        "namespace": "SMS",
        "eventType": "outbound_message_status_changed",
        "description": "SMS outbound message delivery receipt",
        "payload": {
            "umid": answer["umid"],
            "clientMessageId": answer["clientMessageId"],
            "subAccountId": "sandbox",
            "source": record.get("source", ""),
            "destination": "+" + answer["destination"],
            "status": status,
            "smsCount": 1,
        },
    }


def post_report(url: object, body: object) -> None:
    # The callback URL comes from the message, so it goes through the provider
    # transport and meets the same address policy as a provider endpoint.
    request = rendering.HttpRequest(
        method="POST",
        url=str(url),  # whatever the payload held; a non-URL fails as one
        headers=(("Content-Type", "application/json"),),
        body=json.dumps(body).encode(),
    )
    # The callback URL's last part is the provider's callback token: kept out
    # of the log lines about this post.
    token = [urlsplit(str(url)).path.rstrip("/").rpartition("/")[2]]
    outcome = transport.send(request, rules=ResponseRules(), secrets=token)
    if not outcome.accepted:
        logger.warning(
            "sandbox could not post a delivery report to %s: %s",
            redact_text(str(url), token),
            outcome.diagnosis,
        )


def records(data: dict, key: str) -> list[dict]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise SandboxError(400, 3012, "Missed messages")
    if len(items) > 10000:
        raise SandboxError(400, 3013, "Too much messages")
    if not all(isinstance(item, dict) for item in items):
        raise SandboxError(
            400, 1000, "Invalid parameter: each message must be an object"
        )
    return items


def accept_in_batch(record: dict, *, id_key: str = "clientMessageId") -> dict:
    """Like accept(), but a record 8x8 refuses is counted as rejected inside the
    batch's 200 answer instead of failing the whole request."""
    try:
        return accept(record, id_key=id_key)
    except SandboxError as err:
        if err.status != 400:
            raise
        return {
            "umid": str(uuid.uuid4()),
            "clientMessageId": record.get(id_key),
            "destination": str(record.get("destination", "")).lstrip("+"),
            "status": {"code": "REJECTED", "description": err.message},
        }


def batch_answer(answers: list[dict], data: dict, *, include: bool) -> dict:
    accepted = sum(1 for a in answers if a["status"]["code"] == "QUEUED")
    body = {
        "batchId": str(uuid.uuid4()),
        "clientBatchId": data.get("clientBatchId"),
        "acceptedCount": accepted,
        "rejectedCount": len(answers) - accepted,
    }
    if include:
        body["messages"] = answers
    return body


@endpoint
def single(data: dict) -> dict:
    return accept(data)


@endpoint
def batch(data: dict) -> dict:
    template = data.get("template") if isinstance(data.get("template"), dict) else {}
    answers = [
        accept_in_batch({**template, **item}) for item in records(data, "messages")
    ]
    return batch_answer(
        answers, data, include=bool(data.get("includeMessagesInResponse"))
    )


@endpoint
def clevertap_batch(data: dict) -> dict:
    # The partner endpoint answers with counts only, as 8x8 does.
    answers = [accept_in_batch(item, id_key="mid") for item in records(data, "msgs")]
    return batch_answer(answers, data, include=False)
