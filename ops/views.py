"""GET /healthz and GET /metrics, answered by ProbeMiddleware (ops/middleware.py).

Neither ever answers 500: a check that fails is reported (503), and what could
not be computed is a 503 with one line saying so.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import health, metrics

logger = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}


def healthz(request: HttpRequest) -> HttpResponse:
    try:
        ok, checks = health.report()
    except Exception as err:  # noqa: BLE001 - never a traceback page
        logger.exception("The health report failed")
        ok, checks = False, {"report": {"ok": False, "error": type(err).__name__}}
    return JsonResponse(
        {"status": "ok" if ok else "failing", "checks": checks},
        status=200 if ok else 503,
        headers=NO_STORE,
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    tokens = settings.METRICS_TOKENS
    if not tokens:
        # Not configured: there is nothing here, for anyone.
        return HttpResponse(status=404, headers=NO_STORE)
    if not authorised(request.headers.get("Authorization", ""), tokens):
        return HttpResponse(
            "A valid Authorization: Bearer <METRICS_TOKEN> header is required.\n",
            status=401,
            content_type="text/plain",
            headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        body = generate_latest(metrics.registry())
    except DatabaseError as err:
        return HttpResponse(
            f"The database cannot be reached ({type(err).__name__}).\n",
            status=503,
            content_type="text/plain",
            headers=NO_STORE,
        )
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def authorised(header: str, tokens: list[str]) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    given_bytes = given.strip().encode()
    # Every token compared, in constant time, so timing says nothing of which.
    matches = [hmac.compare_digest(given_bytes, t.encode()) for t in tokens]
    return any(matches)
