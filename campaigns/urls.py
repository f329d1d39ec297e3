from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("dlr/<str:token>/", views.dlr_callback, name="dlr-callback"),
]
