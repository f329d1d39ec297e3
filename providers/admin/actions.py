"""Admin actions that only the users allowed to run them can run."""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class PermittedActionsOnly(ModelAdmin):
    """A changelist that offers only the actions the user may run, and answers
    403 to one posted anyway.

    Django already leaves an action out of the dropdown when the user lacks one of
    its `permissions`; posted anyway it is dropped with "No action selected", or,
    when the user has no action at all, the page is shown again as if nothing was
    asked. Saying "forbidden" instead tells the user, and a test, what happened.
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method == "POST" and self.refused_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def refused_actions(self, request: HttpRequest) -> list[str]:
        # The changelist has an action menu above and below the list: both post.
        allowed = self.get_actions(request)
        posted = request.POST.getlist("action")
        return [name for name in posted if name and name not in allowed]
