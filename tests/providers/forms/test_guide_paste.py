"""A provider's setup guide pasted into the setup screens: every placeholder and
comment reported in one save, a JSON Content-Type supplied, and sender-ID limits
of a recognised provider checked."""

from __future__ import annotations

import json

import pytest

from providers.forms.guide_text import (
    fix_json,
    fix_value,
    scan_json,
    scan_value,
    variables_used,
)
from providers.forms.setup import FORMS
from providers.outbound.rendering import Message

from ..formdata import (
    GUIDE_HEADERS,
    GUIDE_PAYLOAD,
    GUIDE_PAYLOAD_FIXED,
    ROWS,
    error_codes,
    screen_data,
)

EIGHT_BY_EIGHT = "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"


def bound(screen: str = "clevertap", *, rows=None, **fields):
    return FORMS[screen](screen_data(screen, rows=rows, **fields))


# --- the lenient scan (pure) ---------------------------------------------------------


def test_it_finds_every_comment_and_guide_placeholder_with_its_line() -> None:
    scan = scan_json(GUIDE_PAYLOAD)

    found = [(f.line, f.code) for f in scan.findings]
    assert found == [
        (4, "guide_placeholder"),
        (4, "invalid_json"),
        (9, "guide_placeholder"),
    ]
    json.loads(scan.repaired)  # nothing else is wrong with it


def test_it_keeps_positions_so_later_json_errors_point_at_the_right_place() -> None:
    text = '{\n  "a": "x", // note\n  "b" "y"\n}'

    scan = scan_json(text)

    with pytest.raises(json.JSONDecodeError) as err:
        json.loads(scan.repaired)
    assert (err.value.lineno, err.value.colno) == (3, 7)


@pytest.mark.parametrize(
    "text",
    [
        '{"callback": "https://hooks.example.com/dlr"}',
        '{"text": "Reply <STOP> to opt out: $$Body", "to": "$$To"}',
        '{"a": "quote \\" then // not a comment"}',
    ],
)
def test_it_leaves_urls_escapes_and_message_text_alone(text) -> None:
    assert scan_json(text).findings == ()


def test_it_reads_block_comments_and_unquoted_tokens() -> None:
    scan = scan_json('{\n  /* sender */ "to": $$To\n}')

    assert [(f.line, f.column) for f in scan.findings] == [(2, 3), (2, 22)]
    assert '"to": "$$To"' in scan.findings[1].message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Bearer <API_KEY>", "{apiKey}"),
        ("Bearer {Api Key}", "{apiKey}"),
        ("<Your Sender ID or Virtual Number>", "{sender_id}"),
        ("<Delivery Report Callback URL HERE>", "{callback_url}"),
        ("<https://sms.8x8.com/api/v1/x>", "remove the < and >"),
        ("https://sms.8x8.com/api/v1/subaccounts/<Subaccount ID>", "{subaccountId}"),
    ],
)
def test_it_names_what_to_use_instead_of_a_guide_placeholder(value, says) -> None:
    (message,) = scan_value(value)

    assert says in message


# --- the one-click fix (pure) -------------------------------------------------------


def test_it_writes_the_guides_payload_as_its_messages_say() -> None:
    assert fix_json(GUIDE_PAYLOAD) == GUIDE_PAYLOAD_FIXED


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ('{\n  // the sender\n  "to": "$$To"\n}', '{\n  "to": "$$To"\n}'),
        ('{\n  /* sender */ "to": $$To\n}', '{\n  "to": "$$To"\n}'),
        ('{"a": 1, /* x */ "b": 2}', '{"a": 1, "b": 2}'),
        ('{"to": "$$To" // last\n}', '{"to": "$$To"\n}'),
        ('{"key": "Bearer <API_KEY>"}', '{"key": "Bearer {apiKey}"}'),
        ('{"url": <https://example.com/dlr>}', '{"url": "https://example.com/dlr"}'),
        ('{"to": {sender_id}}', '{"to": "{sender_id}"}'),
    ],
)
def test_it_deletes_comments_and_quotes_what_it_replaces(text, fixed) -> None:
    assert fix_json(text) == fixed


@pytest.mark.parametrize(
    "text",
    [
        '{"text": "Reply <STOP> to opt out: $$Body", "to": "$$To"}',
        '{"a": "quote \\" then // not a comment"}',
        '{"to": "$$To", "text": "$$Body" "x"}',
    ],
)
def test_it_leaves_message_text_and_other_json_errors_alone(text) -> None:
    assert fix_json(text) == text


@pytest.mark.parametrize(
    ("value", "fixed"),
    [
        ("Bearer <API_KEY>", "Bearer {apiKey}"),
        ("Bearer {Api Key}", "Bearer {apiKey}"),
        ("<https://sms.8x8.com/api/v1/x>", "https://sms.8x8.com/api/v1/x"),
        (
            "https://sms.8x8.com/api/v1/subaccounts/<Subaccount ID>/messages",
            "https://sms.8x8.com/api/v1/subaccounts/{subaccountId}/messages",
        ),
        ("Reply <STOP>", "Reply <STOP>"),
        ("application/json", "application/json"),
    ],
)
def test_it_writes_a_value_as_its_message_says(value, fixed) -> None:
    assert fix_value(value) == fixed


def test_it_lists_the_variables_used_once_in_order() -> None:
    texts = ["https://x/{subAccountId}", "Bearer {apiKey}", "$$To {sender_id} {apiKey}"]

    assert variables_used(texts) == ["subAccountId", "apiKey", "sender_id"]


# --- the whole guide in one save ----------------------------------------------------


@pytest.mark.django_db
def test_it_reports_every_problem_of_the_pasted_guide_in_one_save() -> None:
    form = bound(payload=GUIDE_PAYLOAD, rows={"headers": GUIDE_HEADERS})

    assert not form.is_valid()
    payload = form.errors["payload"]
    assert len(payload) == 3, payload
    assert payload[0].startswith("Line 4, column 14: <Your Sender ID")
    assert "{sender_id}" in payload[0]
    assert payload[1].startswith("Line 4, column 51: JSON does not allow // comments")
    assert payload[2].startswith("Line 9, column 25: <Delivery Report Callback")
    assert '"partnerCallbackUrl": "{callback_url}"' in payload[2]
    (header,) = form.errors["headers"]
    assert header.startswith("Header 1 (Authorization): <API_KEY>")
    assert "{apiKey}" in header
    assert "Secret" in header
    assert error_codes(form, "headers") == ["guide_placeholder"]


@pytest.mark.django_db
def test_an_endpoint_error_does_not_hide_payload_errors() -> None:
    form = bound(
        endpoint="<https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages>",
        payload=GUIDE_PAYLOAD,
    )

    assert not form.is_valid()
    assert error_codes(form, "endpoint") == ["guide_placeholder"]
    assert len(form.errors["payload"]) == 3


@pytest.mark.django_db
def test_a_payload_error_does_not_hide_a_guide_placeholder_in_a_header() -> None:
    form = bound(
        payload='{"to": "$$To", "text": "$$Body" "x"}',
        rows={"headers": GUIDE_HEADERS},
    )

    assert not form.is_valid()
    assert error_codes(form, "payload") == ["invalid_json"]
    assert error_codes(form, "headers") == ["guide_placeholder"]


@pytest.mark.django_db
def test_it_refuses_a_guide_placeholder_in_a_moengage_url_parameter() -> None:
    form = bound(
        "moengage", rows={"url_parameters": [("from", "<Your Sender ID>", False)]}
    )

    assert error_codes(form, "url_parameters") == ["guide_placeholder"]
    assert "{sender_id}" in form.errors["url_parameters"][0]


# --- the one-click fix on the form ------------------------------------------------


@pytest.mark.django_db
def test_the_fix_rewrites_the_guide_and_adds_the_variables_it_needs() -> None:
    form = bound(
        payload=GUIDE_PAYLOAD,
        sender_id="",
        rows={"headers": GUIDE_HEADERS, "variables": []},
    )
    assert not form.is_valid()

    fix = form.guide_fix()

    assert fix["label"] == "Use smsbridge's placeholders"
    assert fix["where"] == ["headers", "payload"]
    assert fix["fields"] == {"payload": GUIDE_PAYLOAD_FIXED}
    assert fix["rows"] == [
        {"field": "headers", "name": "Authorization", "value": "Bearer {apiKey}"}
    ]
    assert fix["variables"] == [
        {"name": "subAccountId", "secret": False},
        {"name": "apiKey", "secret": True},
    ]


@pytest.mark.django_db
def test_the_fixed_guide_needs_only_the_values() -> None:
    fix = bound(payload=GUIDE_PAYLOAD, rows={"headers": GUIDE_HEADERS, "variables": []})
    fix.is_valid()
    plan = fix.guide_fix()
    rows = [(r["name"], r["value"], False) for r in plan["rows"]]
    filled = [("subAccountId", "acme_sub", False), ("apiKey", "k" * 20, True)]

    form = bound(
        payload=plan["fields"]["payload"],
        batch_enabled="on",
        batch_key="msgs",
        rows={"headers": [*rows, GUIDE_HEADERS[1]], "variables": filled},
    )

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_an_undefined_endpoint_variable_is_added_in_one_click() -> None:
    form = bound(rows={"variables": [("apiKey", "k" * 20, True)]})
    assert not form.is_valid()
    assert error_codes(form, "endpoint") == ["undefined_variable"]

    fix = form.guide_fix()

    assert fix["label"] == "Add variable subAccountId"
    assert fix["where"] == ["endpoint"]
    assert (fix["fields"], fix["rows"]) == ({}, [])
    assert fix["variables"] == [{"name": "subAccountId", "secret": False}]


@pytest.mark.django_db
def test_there_is_no_fix_without_a_guide_error() -> None:
    valid = bound()
    other = bound(sender_id="")

    assert valid.is_valid()
    assert valid.guide_fix() is None
    assert not other.is_valid()
    assert other.guide_fix() is None


@pytest.mark.django_db
def test_the_fix_leaves_secret_rows_alone() -> None:
    headers = [("Authorization", "Bearer <API_KEY>", True)]
    form = bound(payload=GUIDE_PAYLOAD, rows={"headers": headers})
    assert not form.is_valid()

    fix = form.guide_fix()

    assert fix["rows"] == []
    assert "Bearer" not in json.dumps(fix)


# --- Content-Type -------------------------------------------------------------------


@pytest.mark.django_db
def test_it_adds_a_json_content_type_when_none_is_set() -> None:
    form = bound(rows={"headers": [("Authorization", "Bearer {apiKey}", False)]})

    assert form.is_valid(), form.errors
    request = form.compiled.render([Message(to="+6591234567", body="Hi")])
    assert request.header("Content-Type") == "application/json"


@pytest.mark.django_db
def test_it_keeps_the_users_own_content_type() -> None:
    headers = [("content-type", "application/json; charset=utf-8", False)]

    form = bound(rows={"headers": headers})

    assert form.is_valid(), form.errors
    request = form.compiled.render([Message(to="+6591234567", body="Hi")])
    assert [v for k, v in request.headers if k.lower() == "content-type"] == [
        "application/json; charset=utf-8"
    ]


@pytest.mark.django_db
def test_it_adds_no_json_content_type_to_a_form_body() -> None:
    form = bound(
        body_type="form",
        payload="to=$$To\ntext=$$Body\nfrom={sender_id}",
        rows={"headers": [("Authorization", "Bearer {apiKey}", False)]},
    )

    assert form.is_valid(), form.errors
    request = form.compiled.render([Message(to="+6591234567", body="Hi")])
    assert request.header("Content-Type") is None


# --- sender-ID limits of a recognised provider ---------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("screen", ["clevertap", "moengage"])
def test_it_holds_the_sender_id_to_8x8s_limits(screen) -> None:
    form = bound(screen, endpoint=EIGHT_BY_EIGHT, sender_id="ACME-Notifications")

    assert not form.is_valid()
    assert error_codes(form, "sender_id") == ["sender_id_refused"] * 3
    assert "at most 16 characters" in form.errors["sender_id"][0]


@pytest.mark.django_db
def test_it_accepts_a_sender_id_within_8x8s_limits() -> None:
    form = bound(endpoint=EIGHT_BY_EIGHT, sender_id="ACME Bank")

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_it_leaves_sender_ids_of_unknown_providers_to_the_provider() -> None:
    form = bound(sender_id="ACME-Notifications")

    assert form.is_valid(), form.errors


def test_the_rows_in_formdata_use_placeholders_not_keys() -> None:
    # The valid submissions the other tests start from must not trip the checks.
    assert all(
        "{" in v for n, v, s in ROWS["clevertap"]["headers"] if n == "Authorization"
    )
