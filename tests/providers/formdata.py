"""POST data for the setup screens, shaped the way the browser sends it.

Single fields are plain values; key/value rows post as parallel lists
(`headers-name`, `headers-value`, `headers-secret`), as the rows widget does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import QueryDict

from providers.presets import Preset

Row = tuple[str, str, bool]

API_KEY = "sk-live-5f2b9c0e7d41a3e8"
HEADER_SECRET = "hdr-secret-77c1b0e2f9a4"
BASIC_PASSWORD = "basic-pass-0b8e3d5c61f2"
TEST_NUMBER = "6591234567"

CLEVERTAP_PAYLOAD = json.dumps(
    {
        "source": "{sender_id}",
        "destination": "$$To",
        "text": "$$Body",
        "mid": "$$MessageID",
    },
    indent=2,
)
MOENGAGE_PAYLOAD = json.dumps(
    {
        "source": "{sender_id}",
        "destination": "Moesms_destination",
        "text": "Moesms_message",
    },
    indent=2,
)
COMMON: dict[str, str | None] = {
    "preset": "",
    "method": "POST",
    "endpoint": "https://sms.example.com/api/v1/subaccounts/{subAccountId}/messages",
    "body_type": "json",
    "number_format": "e164",
    "message_id_path": "",
    "response_rule": "",
    "response_rule_path": "",
    "response_rule_values": "",
    "is_active": "on",
    "sender_id": "ACME",
    "sender_type": "transactional",
    "is_default": None,
}
FIELDS: dict[str, dict[str, str | None]] = {
    "clevertap": {
        **COMMON,
        "nickname": "8x8_SMS",
        "authentication": "none",
        "basic_username": "",
        "basic_password": "",
        "payload": CLEVERTAP_PAYLOAD,
        "batch_enabled": None,
        "batch_key": "",
        "batch_size": "1000",
    },
    "moengage": {
        **COMMON,
        "nickname": "8x8 SMS",
        "sender_name": "8x8 SMS",
        "payload": MOENGAGE_PAYLOAD,
    },
}
ROWS: dict[str, dict[str, list[Row]]] = {
    "clevertap": {
        "headers": [
            ("Authorization", "Bearer {apiKey}", False),
            ("Content-Type", "application/json", False),
            ("X-Api-Secret", HEADER_SECRET, True),
        ],
        "variables": [("subAccountId", "acme_sub", False), ("apiKey", API_KEY, True)],
    },
    "moengage": {
        "headers": [
            ("Content-Type", "application/json", False),
            ("Authorization", "Bearer {apiKey}", False),
        ],
        "url_parameters": [],
        "variables": [("subAccountId", "acme_sub", False), ("apiKey", API_KEY, True)],
    },
}


def querydict(
    fields: dict[str, Any], rows: dict[str, list[Row]] | None = None
) -> QueryDict:
    """Form data; a field whose value is None is left out (an unticked checkbox)."""
    data = QueryDict(mutable=True)
    for name, value in fields.items():
        if value is not None:
            data[name] = str(value)
    for name, items in (rows or {}).items():
        data.setlist(f"{name}-name", [n for n, _, _ in items])
        data.setlist(f"{name}-value", [v for _, v, _ in items])
        data.setlist(f"{name}-secret", ["1" if s else "0" for _, _, s in items])
    return data


def screen_data(
    screen: str, *, rows: dict[str, list[Row]] | None = None, **fields: Any
) -> QueryDict:
    """A valid submission of a blank screen, with some fields or row lists changed."""
    return querydict({**FIELDS[screen], **fields}, {**ROWS[screen], **(rows or {})})


def preset_data(preset: Preset, *, nickname: str | None = None) -> QueryDict:
    """A preset's initial data plus the credentials only the user can enter."""
    initial = preset.initial()
    fields: dict[str, Any] = {
        name: value
        for name, value in initial.items()
        if name not in ("headers", "url_parameters", "variables", "batch_enabled")
    }
    fields.update(
        nickname=nickname or f"{preset.slug} provider",
        batch_enabled="on" if initial["batch_enabled"] else None,
        batch_size="1000",
        basic_password=BASIC_PASSWORD if preset.authentication == "basic" else "",
        is_active="on",
        sender_id="ACME",
        sender_type="transactional",
        sender_name=f"{preset.name} sender",
    )
    rows = {
        name: [
            (
                row["name"],
                row["value"] or credential(row["name"], row["secret"]),
                row["secret"],
            )
            for row in initial[name]
        ]
        for name in ("headers", "url_parameters", "variables")
    }
    return querydict(fields, rows)


def credential(name: str, secret: bool) -> str:
    """What the user would paste into a blank variable of a preset."""
    if secret:
        return f"{API_KEY}-{name}"
    if name == "baseUrl":
        return "xyz123.api.infobip.com"
    return f"{name}-value-123"


def error_codes(form: Any, field: str) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


def values(rows: Any) -> dict[str, str]:
    """A provider's rows (a related manager) as name -> decrypted value."""
    return {row.name: row.value for row in rows.all()}


def as_post(data: QueryDict, **extra: str) -> dict[str, list[str]]:
    """Data for the test client, which would keep only the last of repeated keys."""
    return {**dict(data.lists()), **{k: [v] for k, v in extra.items()}}


# 8x8's CleverTap guide, pasted as it stands: a comment, a quoted and an unquoted
# guide placeholder (seed 000, "Sample Payload Structure").
GUIDE_PAYLOAD = """{
  "msgs": [
    {
  "source": "<Your Sender ID or Virtual Number>", // Must be a valid sender ID or number registered in your 8x8 account.
  "destination": "$$To",
  "text": "$$Body",
  "mid": "$$MessageID",
  "encoding": "Auto",
  "partnerCallbackUrl": <Delivery Report Callback URL HERE>
    }
  ]
}"""  # noqa: E501
# The same, as the page's messages say to write it (the one-click fix's result).
GUIDE_PAYLOAD_FIXED = """{
  "msgs": [
    {
  "source": "{sender_id}",
  "destination": "$$To",
  "text": "$$Body",
  "mid": "$$MessageID",
  "encoding": "Auto",
  "partnerCallbackUrl": "{callback_url}"
    }
  ]
}"""
GUIDE_HEADERS: list[Row] = [
    ("Authorization", "Bearer <API_KEY>", False),
    ("Content-Type", "application/json", False),
]
# A key as a user would paste it into a header; obviously not a real one.
TYPED_KEY = "example-key-0000aaaa"


def held_token(html: str) -> str:
    """The sealed secrets a failed save's page carries to the next submit."""
    match = re.search(r'name="held_secrets" value="([^"]+)"', html)
    return match[1] if match else ""
