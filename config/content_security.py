"""The Content-Security-Policy header on every response smsbridge sends."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
# Django's debug pages for these style and script themselves inline; they are
# shown only with DEBUG on, to the developer.
DEBUG_PAGES = (404, 500)


def policy_header(policy: dict[str, list[str]]) -> str:
    """`{"script-src": ["'self'"], "object-src": ["'none'"]}` ->
    `script-src 'self'; object-src 'none'`."""
    return "; ".join(" ".join([name, *sources]) for name, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Sends `settings.CONTENT_SECURITY_POLICY` with every response.

    The header is written once at start-up: delivery reports arrive thousands a
    second, and a policy rebuilt for each of them would cost them more than the
    header is worth on a JSON answer. A view that sets its own policy keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = policy_header(settings.CONTENT_SECURITY_POLICY)
        self.debug = settings.DEBUG

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not (self.debug and response.status_code in DEBUG_PAGES):
            response.setdefault(HEADER, self.header)
        return response
