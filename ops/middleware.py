from __future__ import annotations

from . import views

PROBES = {"/healthz": views.healthz, "/metrics": views.metrics_view}


class ProbeMiddleware:
    """Answers GET /healthz and /metrics before the middleware after it.

    Load balancers and Prometheus ask by IP address and over plain HTTP, which
    the host check (ALLOWED_HOSTS) and the HTTPS redirect would refuse; neither
    answer builds a URL from the Host header, and neither needs a session, a
    user or CSRF, whose work (and, for sessions, database) they skip."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = probe(request)
        # A 503 here reports the deployment's state to whoever asked; Django
        # would log it as an error (and Sentry report one) every few seconds.
        response._has_been_logged = True
        return response
