"""The project's URLs plus two bench-only views: a trivial one, the floor for
delivery-report ingestion, and the callback's work up to its database write, to
show how the time divides."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from campaigns.dlr import views
from providers import dlr


@csrf_exempt
def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@csrf_exempt
def callback_without_writes(request: HttpRequest, token: str) -> JsonResponse:
    """What /dlr/<token>/ does before it writes: find the provider, check the
    credentials, read and parse the body."""
    provider = views.provider_for(token)
    views.check_credentials(request, provider)
    payload = views.read_payload(request)
    kind, updates = dlr.parse(payload, mapping=provider.dlr_mapping())
    return JsonResponse({"status": "success", "processed": len(updates)})


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/unwritten/<str:token>/", callback_without_writes),
    path("", include("config.urls")),
]
