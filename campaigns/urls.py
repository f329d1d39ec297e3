from __future__ import annotations

from django.urls import path

from . import api
from .dlr.views import dlr_callback, inbound_callback

urlpatterns = [
    path("dlr/<str:token>/", dlr_callback, name="dlr-callback"),
    path("inbound/<str:token>/", inbound_callback, name="inbound-callback"),
    path("api/v1/events", api.events, name="api-events"),
    path("api/v1/messages/<str:message_id>", api.message_status, name="api-message"),
    path("api/v1/openapi.json", api.openapi_document, name="api-openapi"),
    path("api/v1/docs", api.docs, name="api-docs"),
]
