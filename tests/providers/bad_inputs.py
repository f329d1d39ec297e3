"""Bad setup-screen submissions, each with the field and error code it must get.

Shared by the form tests and the admin tests, which post the same data through
the real views to show that none of them ends in a server error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from .formdata import CLEVERTAP_PAYLOAD, ROWS, Row


@dataclass(frozen=True)
class BadInput:
    screen: str
    field: str
    code: str
    fields: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)
    says: str = ""


def payload_without(key: str) -> str:
    return json.dumps(
        {k: v for k, v in json.loads(CLEVERTAP_PAYLOAD).items() if k != key}
    )


BATCH = {"batch_enabled": "on", "batch_key": "msgs"}
ONE_RECORD = json.dumps({"msgs": [json.loads(CLEVERTAP_PAYLOAD)]})
SEED_PAYLOAD = """{
  "msgs": [
    {
      "source": "{sender_id}",
      "destination": "$$To",
      "text": "$$Body",
      "partnerCallbackUrl": <Delivery Report Callback URL HERE>
    }
  ]
}"""
COMMENTED_PAYLOAD = """{
  "source": "{sender_id}",
  "destination": "$$To", // the recipient, in E.164
  "text": "$$Body"
}"""
VARIABLES = ROWS["clevertap"]["variables"]

ENDPOINT_INPUTS = [
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "invalid_ipv6_host",
            {"endpoint": "https://[::1/send"},
            says="inside both brackets",
        ),
        id="endpoint-with-an-unclosed-ipv6-bracket",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "invalid_ipv6_host",
            {"endpoint": "https://[sms.example.com]/send"},
        ),
        id="endpoint-with-a-host-name-in-brackets",
    ),
    *(
        pytest.param(
            BadInput(
                "clevertap",
                "endpoint",
                "invalid_port",
                {"endpoint": f"https://sms.example.com:{port}/send"},
                says=f"The port “{port}” is not valid",
            ),
            id=f"endpoint-with-port-{port}",
        )
        for port in ("99999", "0", "abc", "-1")
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "invalid_port",
            {"endpoint": "https://sms.example.com:{port}/send"},
            rows={
                "variables": [*ROWS["clevertap"]["variables"], ("port", "70000", False)]
            },
            says="“70000”",
        ),
        id="endpoint-with-a-port-variable-out-of-range",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "invalid_host",
            {"endpoint": "https://sms example.com/send"},
            says="“sms example.com”",
        ),
        id="endpoint-with-a-space-in-the-host",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "line_break",
            {"endpoint": "https://sms.example.com/send\r\nX-Injected: 1"},
            says="line break (CR/LF)",
        ),
        id="endpoint-with-crlf",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "endpoint",
            "null_characters_not_allowed",
            {"endpoint": "https://sms.example.com/se\x00nd"},
            says="Null characters are not allowed",
        ),
        id="endpoint-with-nul",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "endpoint",
            "control_character",
            {"endpoint": "https://sms.example.com/se\x1bnd"},
            says="the control character U+001B at character 27",
        ),
        id="endpoint-with-an-escape-character",
    ),
]
CONTROL_CHARACTER_INPUTS = [
    pytest.param(
        BadInput(
            "clevertap",
            "headers",
            "control_character",
            rows={"headers": [("X-Note", "one\x00two", False)]},
            says="Header 1 (X-Note): The value contains a NUL character",
        ),
        id="header-value-with-nul",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "headers",
            "control_character",
            rows={"headers": [("X-No\x00te", "one", False)]},
            says="The name contains a NUL character",
        ),
        id="header-name-with-nul",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "url_parameters",
            "control_character",
            rows={"url_parameters": [("to", "a\tb", False)]},
            says="a tab",
        ),
        id="url-parameter-value-with-a-tab",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "url_parameters",
            "control_character",
            rows={"url_parameters": [("t\x7fo", "1", False)]},
            says="a DEL character",
        ),
        id="url-parameter-name-with-del",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "variables",
            "control_character",
            rows={"variables": [VARIABLES[0], ("apiKey", "sk\x1blive", True)]},
            says="the control character U+001B",
        ),
        id="secret-variable-with-an-escape-character",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "variables",
            "line_break",
            rows={"variables": [("subAccountId", "acme\nX-Evil: 1", False)]},
            says="line break (CR/LF)",
        ),
        id="variable-used-in-the-endpoint-with-a-line-break",
    ),
]
BASIC_WITHOUT_PASSWORD = pytest.param(
    BadInput(
        "clevertap",
        "basic_password",
        "basic_password_required",
        {"authentication": "basic", "basic_username": "acme", "basic_password": ""},
        says="Basic authentication needs a password",
    ),
    id="basic-authentication-without-a-password",
)
DEEPEST = "[" * 100_000 + "]" * 100_000
ONE_LEVEL_TOO_DEEP = json.dumps(
    {"destination": "$$To", "text": "$$Body", "extra": json.loads("[" * 32 + "]" * 32)}
)

BAD_INPUTS = [
    *ENDPOINT_INPUTS,
    BASIC_WITHOUT_PASSWORD,
    *(
        pytest.param(
            BadInput(screen, "payload", "too_deep", {"payload": payload}, says=says),
            id=f"{screen}-payload-{name}",
        )
        for screen in ("clevertap", "moengage")
        for name, payload, says in (
            ("nested-100000-deep", DEEPEST, "more than 32 levels"),
            ("nested-33-deep", ONE_LEVEL_TOO_DEEP, "more than 32 levels"),
        )
    ),
    pytest.param(
        BadInput(
            "clevertap", "endpoint", "invalid_url", {"endpoint": "sms.example.com/send"}
        ),
        id="endpoint-not-a-url",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "undefined_variable",
            {"payload": CLEVERTAP_PAYLOAD.replace("{sender_id}", "{senderName}")},
            says="{senderName} is not defined",
        ),
        id="undefined-variable-in-payload",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "undefined_variable",
            {"endpoint": "https://sms.example.com/{accountId}/messages"},
            says="{accountId} is not defined",
        ),
        id="undefined-variable-in-endpoint",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "headers",
            "invalid_header_name",
            rows={"headers": [("X Api Key", "abc", False)]},
            says="X Api Key",
        ),
        id="header-name-with-spaces",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "headers",
            "invalid_header_name",
            rows={"headers": [("Bad:Name", "abc", False)]},
            says="Bad:Name",
        ),
        id="header-name-with-colon",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "headers",
            "line_break",
            rows={"headers": [("X-Note", "one\r\nX-Injected: two", False)]},
        ),
        id="header-value-with-crlf",
    ),
    *CONTROL_CHARACTER_INPUTS,
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "invalid_json",
            {"payload": '{\n  "destination": "$$To",\n  "text" "$$Body"\n}'},
            says="line 3, column 10",
        ),
        id="invalid-json-names-line-and-column",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "guide_placeholder",
            {"payload": SEED_PAYLOAD},
            says='"partnerCallbackUrl": "{callback_url}"',
        ),
        id="seed-callback-line-gets-quoting-hint",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "invalid_json",
            {"payload": COMMENTED_PAYLOAD},
            says="JSON does not allow // comments",
        ),
        id="comment-gets-comment-hint",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "missing_destination",
            {"payload": payload_without("destination")},
            says="$$To",
        ),
        id="no-to-placeholder",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "payload",
            "missing_destination",
            {"payload": '{"text": "Moesms_message", "to": "+6591234567"}'},
            says="Moesms_destination",
        ),
        id="no-moesms-destination",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "missing_body",
            {"payload": payload_without("text")},
            says="$$TemplateID",
        ),
        id="neither-body-nor-template-id",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "payload",
            "missing_body",
            {"payload": '{"destination": "Moesms_destination", "text": "hello"}'},
            says="Moesms_message",
        ),
        id="no-moesms-message",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_key",
            "batch_key_required",
            # No single top-level array to take as the key.
            {"batch_enabled": "on", "batch_key": "", "payload": CLEVERTAP_PAYLOAD},
        ),
        id="batch-without-key",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_key",
            "batch_key_missing",
            {**BATCH, "payload": json.dumps({"messages": [{"to": "$$To"}]})},
            says="“msgs” is not a top-level key",
        ),
        id="batch-key-missing-from-payload",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_key",
            "batch_key_not_one_record",
            {
                **BATCH,
                "payload": json.dumps(
                    {"msgs": [{"to": "$$To", "text": "$$Body"}, {"to": "$$To"}]}
                ),
            },
        ),
        id="batch-key-holds-two-records",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_key",
            "batch_key_not_one_record",
            {
                **BATCH,
                "payload": json.dumps({"msgs": {"to": "$$To", "text": "$$Body"}}),
            },
        ),
        id="batch-key-holds-an-object",
    ),
    pytest.param(
        BadInput("clevertap", "batch_size", "min_value", {"batch_size": "0"}),
        id="zero-records-per-batch",
    ),
    pytest.param(
        BadInput("clevertap", "batch_size", "max_value", {"batch_size": "1001"}),
        id="1001-records-per-batch",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_enabled",
            "batch_needs_json",
            {
                **BATCH,
                "method": "GET",
                "payload": "",
                "endpoint": "https://sms.example.com/send?to=$$To&text=$$Body",
            },
        ),
        id="batch-on-get",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "batch_enabled",
            "batch_needs_json",
            {**BATCH, "body_type": "form", "payload": "to=$$To\ntext=$$Body"},
        ),
        id="batch-on-form-body",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "body_on_get",
            {
                "method": "GET",
                "endpoint": "https://sms.example.com/send?to=$$To&text=$$Body",
            },
        ),
        id="body-on-get",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "payload",
            "placeholder_case",
            {"payload": CLEVERTAP_PAYLOAD.replace("$$To", "$$to")},
            says="write $$To, not $$to",
        ),
        id="placeholder-in-wrong-case",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "endpoint",
            "placeholder_case",
            {
                "method": "GET",
                "payload": "",
                "endpoint": "https://sms.example.com/send?to=$$To&text=$$body",
            },
            says="write $$Body, not $$body",
        ),
        id="placeholder-in-wrong-case-on-get",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "variables",
            "missing_value",
            rows={"variables": [VARIABLES[0], ("apiKey", "", True)]},
            says="apiKey",
        ),
        id="blank-secret-on-new-provider",
    ),
    pytest.param(
        BadInput(
            "clevertap",
            "sender_id",
            "missing_sender_id",
            {"sender_id": ""},
            says="{sender_id}",
        ),
        id="sender-id-used-but-blank",
    ),
    pytest.param(
        BadInput(
            "moengage",
            "sender_id",
            "missing_sender_id",
            {"sender_id": ""},
        ),
        id="sender-id-used-but-blank-moengage",
    ),
]
