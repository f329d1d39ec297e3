"""8x8's paths, served under /sandbox/ only when SMS_SANDBOX_API_KEY is set."""

from __future__ import annotations

from django.urls import path

from .views import batch, clevertap_batch, single

urlpatterns = [
    path("api/v1/subaccounts/<str:subaccount>/messages", single),
    path("api/v1/subaccounts/<str:subaccount>/messages/batch", batch),
    path(
        "api/v1/subaccounts/<str:subaccount>/partners/clevertap/batch", clevertap_batch
    ),
]
