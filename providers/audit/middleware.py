"""auditlog's actor middleware, for admin requests only."""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware
from django.urls import reverse


class AdminActorMiddleware(AuditlogMiddleware):
    """Names the signed-in user in the entries an admin request makes.

    Delivery reports and the event API come thousands a second and change
    nothing audited, so they skip the per-request signal wiring; what workers
    change is recorded with no user ("system").
    """

    prefix = ""

    def __call__(self, request):
        if not self.prefix:
            type(self).prefix = reverse("admin:index")
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        return super().__call__(request)
