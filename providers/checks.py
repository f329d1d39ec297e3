"""System checks for configuration that would otherwise fail at send time."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from . import crypto


@register(Tags.security)
def check_encryption_keys(app_configs, **kwargs) -> list:
    try:
        crypto.fernet()
    except ImproperlyConfigured as err:
        return [Error(str(err), id="smsbridge.E001")]
    return []


@register(Tags.security, deploy=True)
def check_private_endpoints(app_configs, **kwargs) -> list:
    problems = []
    if settings.SMS_ALLOW_PRIVATE_ENDPOINTS:
        problems.append(
            Warning(
                "SMS_ALLOW_PRIVATE_ENDPOINTS is on: provider endpoints may point at "
                "this network's internal hosts.",
                hint="Turn it off in production; only the demo sandbox needs it.",
                id="smsbridge.W001",
            )
        )
    if not settings.PUBLIC_BASE_URL.startswith("https://"):
        problems.append(
            Warning(
                "PUBLIC_BASE_URL does not use HTTPS, so delivery reports would "
                "travel in clear text.",
                hint="Set PUBLIC_BASE_URL to this deployment's https:// address.",
                id="smsbridge.W002",
            )
        )
    return problems
