"""The provider file: where each setup-screen field lives in it, and a saved
provider written out. Secrets are never in the file: each is a marker,
{"secret": true}, whose value the import asks for by name (secrets.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from ..forms.setup import FORMS
from ..models import Provider, Sender

FORMAT = "smsbridge-providers"
VERSION = 1
SECRET = {"secret": True}

# (path in a provider's object, the setup screens' field). A dot is a nested
# object. A screen without the field (MoEngage has no Authentication) leaves it
# out of the file, and refuses it in one.
FIELDS: tuple[tuple[str, str], ...] = (
    ("nickname", "nickname"),
    ("preset", "preset"),
    ("active", "is_active"),
    ("request.method", "method"),
    ("request.endpoint", "endpoint"),
    ("request.body_type", "body_type"),
    ("request.payload", "payload"),
    ("request.number_format", "number_format"),
    ("request.template_variables_format", "template_variables_format"),
    ("request.batch.enabled", "batch_enabled"),
    ("request.batch.key", "batch_key"),
    ("request.batch.size", "batch_size"),
    ("authentication.type", "authentication"),
    ("authentication.username", "basic_username"),
    ("authentication.oauth.token_url", "oauth_token_url"),
    ("authentication.oauth.client_id", "oauth_client_id"),
    ("authentication.oauth.scope", "oauth_scope"),
    ("authentication.oauth.parameters", "oauth_parameters"),
    ("authentication.oauth.credentials_in", "oauth_credentials_in"),
    ("rate_limit", "rate_limit"),
    ("response.message_id_path", "message_id_path"),
    ("response.rule", "response_rule"),
    ("response.rule_path", "response_rule_path"),
    ("response.rule_values", "response_rule_values"),
    ("response.accepted_count_path", "accepted_count_path"),
    ("response.record_id_path", "record_id_path"),
    ("response.fallback_codes", "fallback_codes"),
    ("delivery_reports.id_path", "dlr_id_path"),
    ("delivery_reports.provider_id_path", "dlr_provider_id_path"),
    ("delivery_reports.status_path", "dlr_status_path"),
    ("delivery_reports.error_code_path", "dlr_error_code_path"),
    ("delivery_reports.description_path", "dlr_description_path"),
    ("delivery_reports.timestamp_path", "dlr_timestamp_path"),
    ("delivery_reports.status_values", "dlr_status_values"),
    ("delivery_reports.sample", "dlr_sample"),
)
# Secret fields: the path of their marker, and the name the import asks for.
SECRET_FIELDS: dict[str, tuple[str, str]] = {
    "basic_password": ("authentication.password", "basic_password"),
    "oauth_client_secret": (
        "authentication.oauth.client_secret",
        "oauth_client_secret",
    ),
    "dlr_credentials": ("delivery_reports.credentials", "dlr_credentials"),
}
ROWS = ("headers", "url_parameters", "variables")
# Secret rows other than variables are asked for as header.<Name> and
# parameter.<name>; a variable by its own name, as the payload writes {apiKey}.
ROW_SECRET_PREFIX = {
    "headers": "header.",
    "url_parameters": "parameter.",
    "variables": "",
}
SENDER_FIELDS = (
    "name",
    "sender_id",
    "sender_type",
    "default",
    "quiet_hours_start",
    "quiet_hours_end",
    "time_zone",
)


@cache
def screen_fields(screen: str) -> frozenset[str]:
    """The fields the screen's form really has (CleverTap's drops URL parameters)."""
    return frozenset(FORMS[screen]().fields)


def secret_name(kind: str, name: str) -> str:
    return ROW_SECRET_PREFIX[kind] + name


def set_path(target: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def get_path(source: dict, path: str, missing: Any = None) -> Any:
    for part in path.split("."):
        if not isinstance(source, dict) or part not in source:
            return missing
        source = source[part]
    return source


def secret_in_use(provider: Provider, field: str) -> bool:
    if field == "basic_password":
        return provider.authentication == Provider.Authentication.BASIC
    if field == "oauth_client_secret":
        return provider.authentication == Provider.Authentication.OAUTH
    return bool(getattr(provider, field))


def provider_entry(provider: Provider) -> dict[str, Any]:
    """One provider as the file holds it: everything but its secrets' values."""
    fields = screen_fields(provider.setup_screen)
    entry: dict[str, Any] = {"setup_screen": provider.setup_screen}
    for path, field in FIELDS:
        if field in fields:
            set_path(entry, path, getattr(provider, field))
    for field, (path, _) in SECRET_FIELDS.items():
        if field in fields and secret_in_use(provider, field):
            set_path(entry, path, dict(SECRET))
    for kind in ROWS:
        if kind in fields:
            entry[kind] = [row_entry(row) for row in getattr(provider, kind).all()]
    entry["senders"] = [sender_entry(s) for s in provider.senders.order_by("pk")]
    return entry


def row_entry(row) -> dict[str, Any]:
    if row.secret:
        return {"name": row.name, "secret": True}
    return {"name": row.name, "value": row.value}


def sender_entry(sender: Sender) -> dict[str, Any]:
    def clock(value) -> str | None:
        return value.isoformat(timespec="minutes") if value else None

    return {
        "name": sender.name,
        "sender_id": sender.sender_id,
        "sender_type": sender.sender_type,
        "default": sender.is_default,
        "quiet_hours_start": clock(sender.quiet_hours_start),
        "quiet_hours_end": clock(sender.quiet_hours_end),
        "time_zone": sender.time_zone,
    }


def document(providers) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "providers": [provider_entry(p) for p in providers],
    }
