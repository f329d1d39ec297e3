from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "smsbridge"
admin.site.site_title = "smsbridge"
admin.site.index_title = "SMS providers, senders and campaigns"

urlpatterns = [
    # First: delivery reports and the API come thousands a second, the admin's
    # pages a few a minute, and URLs are tried in order.
    path("", include("campaigns.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]

if settings.SMS_SANDBOX_API_KEY:
    urlpatterns.append(path("sandbox/", include("providers.sandbox.urls")))
