"""Errors to Sentry when SENTRY_DSN is set (`pip install -e ".[sentry]"`).

Sentry would otherwise send what smsbridge keeps from everyone: the local
variables of each frame (a decrypted API key, a rendered request), request
bodies (a provider form with its secrets) and users' details. None of them go.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def start(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError as err:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: "
            'pip install -e ".[sentry]"'
        ) from err
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
    )
