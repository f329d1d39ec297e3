from __future__ import annotations

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "SMS providers"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .audit.audited import track_providers

        track_providers()
