"""The project's URLs plus three bench-only views: a trivial one, the floor for
delivery-report ingestion; the callback's work up to its database write, to
show how the time divides; and the same callback written the plain Django way,
to show what storing and applying a report costs however it is written."""

from __future__ import annotations

import json
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from campaigns.dlr import views
from campaigns.models import DeliveryReport
from providers import dlr
from providers.models import Provider


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


@csrf_exempt
def stored_plainly(request: HttpRequest, token: str) -> JsonResponse:
    """The callback as a plain ORM view would write it: the provider read by its
    token, the body parsed, the same waiting row kept by objects.create(); the
    worker applies it as it applies the callback's."""
    provider = Provider.objects.get(callback_token=token)
    kind, updates = dlr.parse(json.loads(request.body), mapping=provider.dlr_mapping())
    report = DeliveryReport.objects.create(
        provider=provider,
        receipt=uuid.uuid4(),
        method=request.method,
        content_type=request.content_type,
        body=request.body.decode(),
        format=kind,
        response_status=200,
        result="Waiting",
        state=DeliveryReport.State.WAITING,
        updates=[DeliveryReport.stored(update) for update in updates],
    )
    return JsonResponse(
        {"status": "success", "processed": len(updates), "receipt": str(report.receipt)}
    )


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/unwritten/<str:token>/", callback_without_writes),
    path("bench/plain/<str:token>/", stored_plainly),
    path("", include("config.urls")),
]
