"""providers.outbound.rendering: exact requests from templates, with no database."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.outbound.rendering import (
    HttpRequest,
    Message,
    RequestSpec,
    TemplateError,
    compile_request,
    control_character,
)

ENDPOINT = "https://api.example/v1/send"
VARIABLES = {
    "apiKey": "key-123",
    "sender_id": "ACME",
    "callback_url": "https://bridge.example/dlr/7/",
}
SEED_CALLBACK_LINE = '"partnerCallbackUrl": <Delivery Report Callback URL HERE>'
# Text a message could carry that looks like template syntax; none may expand.
HOSTILE_BODIES = [
    "$$To",
    "{apiKey}",
    "Moesms_destination",
    "Moesms_message $$Body {sender_id}",
    'say "hi"',
    "back\\slash \\u0041 \\n",
    "line one\nline two\r\nline three",
    "emoji 🎉👍🏽 and 中文",
    '"}],"to":"+15550000000","x":[{"',
    "a=b&c=d%20e+f",
    "\x00\x1f\t",
]


def render(spec: RequestSpec, *messages: Message) -> HttpRequest:
    return compile_request(spec).render(messages or [Message(to="+447700900123")])


def post_json(payload: str, **kwargs: Any) -> RequestSpec:
    return RequestSpec("POST", ENDPOINT, payload=payload, variables=VARIABLES, **kwargs)


def post_form(payload: str, **kwargs: Any) -> RequestSpec:
    return RequestSpec(
        "POST",
        ENDPOINT,
        body_type="form",
        payload=payload,
        variables=VARIABLES,
        **kwargs,
    )


def template_error(spec: RequestSpec) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        compile_request(spec)
    return caught.value


def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True)


# --- CleverTap and MoEngage dialects ---------------------------------------------


def test_it_fills_every_clevertap_placeholder() -> None:
    spec = post_json(
        '{"to": "$$To", "text": "$$Body", "ref": "$$MessageID", '
        '"campaign": "$$CampaignID", "dlt": "$$TemplateID", '
        '"vars": "$$TemplateVariables"}'
    )
    message = Message(
        to="+919876543210",
        body="Your OTP is 4821",
        message_id="m-42",
        campaign_id="c-7",
        template_id="1107160000000000001",
        template_variables="4821|10",
    )

    request = render(spec, message)

    assert request.body == (
        b'{"to":"+919876543210","text":"Your OTP is 4821","ref":"m-42",'
        b'"campaign":"c-7","dlt":"1107160000000000001","vars":"4821|10"}'
    )


def test_it_fills_placeholders_inside_longer_strings() -> None:
    spec = post_json('{"text": "Hi $$Body (ref $$MessageID)"}')

    request = render(spec, Message(to="+1", body="there", message_id="9"))

    assert request.body == b'{"text":"Hi there (ref 9)"}'


def test_it_fills_custom_placeholders_from_message_extra() -> None:
    spec = post_json('{"text": "Hello $$first_name", "city": "$$city"}')
    message = Message(to="+1", extra={"first_name": "Ada", "city": "London"})

    assert render(spec, message).body == b'{"text":"Hello Ada","city":"London"}'


def test_a_custom_placeholder_without_a_value_is_an_error_not_empty_text() -> None:
    spec = post_json('{"text": "Hello $$first_name!", "hid": "$$hid"}')

    with pytest.raises(TemplateError) as caught:
        render(spec, Message(to="+1", extra={"first_name": "Ada"}))

    assert caught.value.code == "missing_placeholder"
    assert caught.value.message.startswith("$$hid has no value")


def test_it_sorts_custom_placeholders_into_once_a_request_and_per_message() -> None:
    batch = RequestSpec(
        method="POST",
        endpoint="https://sms.example.com/$$account/send",
        payload='{"campaign": "$$CampaignID", "hid": "$$hid", '
        '"messages": [{"to": "$$To", "text": "$$Body", "uid": "$$uid"}]}',
        headers=[("X-Team", "$$team")],
        batch_key="messages",
    )
    single = RequestSpec(
        method="POST",
        endpoint="https://sms.example.com/send",
        payload='{"to": "$$To", "hid": "$$hid", "uid": "$$uid"}',
    )

    found = compile_request(batch).custom_placeholders()

    assert found.per_request == {"account", "hid", "team"}
    assert found.per_message == {"uid"}
    assert compile_request(single).custom_placeholders().per_message == {"hid", "uid"}
    assert compile_request(single).custom_placeholders().per_request == frozenset()


def test_it_fills_moengage_placeholders() -> None:
    spec = post_json('{"destination": "Moesms_destination", "msg": "Moesms_message"}')

    request = render(spec, Message(to="+447700900123", body="Sale today"))

    assert request.body == b'{"destination":"+447700900123","msg":"Sale today"}'


def test_it_fills_sender_id_callback_url_and_provider_variables() -> None:
    spec = post_json(
        '{"from": "{sender_id}", "dlr": "{callback_url}", "key": "{apiKey}"}'
    )

    assert render(spec).body == (
        b'{"from":"ACME","dlr":"https://bridge.example/dlr/7/","key":"key-123"}'
    )


def test_it_keeps_non_string_json_values_as_they_are() -> None:
    spec = post_json('{"to": "$$To", "flash": false, "ttl": 3600, "tags": null}')

    assert render(spec, Message(to="+1")).body == (
        b'{"to":"+1","flash":false,"ttl":3600,"tags":null}'
    )


def test_it_writes_non_ascii_as_utf8() -> None:
    spec = post_json('{"text": "$$Body"}')

    request = render(spec, Message(to="+1", body="café €5 🎉"))

    assert request.body == '{"text":"café €5 🎉"}'.encode()


def test_it_refuses_to_render_no_messages() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        compile_request(post_json('{"to": "$$To"}')).render([])


# --- batch mode -----------------------------------------------------------------


def test_batch_mode_repeats_the_record_once_per_message_in_order() -> None:
    spec = post_json('{"msgs": [{"to": "$$To", "text": "$$Body"}]}', batch_key="msgs")
    messages = [
        Message(to="+441", body="first"),
        Message(to="+442", body="second"),
        Message(to="+443", body="third"),
    ]

    assert render(spec, *messages).body == (
        b'{"msgs":[{"to":"+441","text":"first"},{"to":"+442","text":"second"},'
        b'{"to":"+443","text":"third"}]}'
    )


def test_batch_mode_keeps_global_keys_around_the_records() -> None:
    spec = post_json(
        '{"from": "{sender_id}", "msgs": [{"to": "$$To"}], "dlr": "{callback_url}",'
        ' "priority": 1}',
        batch_key="msgs",
    )

    request = render(spec, Message(to="+441"), Message(to="+442"))

    assert request.body == (
        b'{"from":"ACME","msgs":[{"to":"+441"},{"to":"+442"}],'
        b'"dlr":"https://bridge.example/dlr/7/","priority":1}'
    )


def test_batch_mode_repeats_a_record_without_placeholders_per_message() -> None:
    spec = post_json('{"msgs": [{"from": "{sender_id}"}]}', batch_key="msgs")

    request = render(spec, Message(to="+441"), Message(to="+442"))

    assert request.body == b'{"msgs":[{"from":"ACME"},{"from":"ACME"}]}'


def test_batch_mode_with_one_message_sends_a_one_element_array() -> None:
    spec = post_json('{"msgs": [{"to": "$$To"}]}', batch_key="msgs")

    assert render(spec, Message(to="+441")).body == b'{"msgs":[{"to":"+441"}]}'


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        pytest.param(
            '{"messages": [{"to": "$$To"}]}', "batch_key_missing", id="absent"
        ),
        pytest.param(
            '[{"msgs": [{"to": "$$To"}]}]', "batch_key_missing", id="top-list"
        ),
        pytest.param('{"msgs": {"to": "$$To"}}', "batch_key_not_one_record", id="obj"),
        pytest.param('{"msgs": []}', "batch_key_not_one_record", id="empty"),
        pytest.param(
            '{"msgs": [{"to": "$$To"}, {"to": "$$To"}]}',
            "batch_key_not_one_record",
            id="two-records",
        ),
        pytest.param('{"msgs": ["$$To"]}', "batch_key_not_one_record", id="not-object"),
    ],
)
def test_batch_mode_rejects_a_payload_without_exactly_one_record(
    payload: str, code: str
) -> None:
    error = template_error(post_json(payload, batch_key="msgs"))

    assert error.code == code
    assert error.where == "batch_key"
    assert "msgs" in error.message


# --- form bodies ----------------------------------------------------------------


def test_form_body_decodes_to_exact_values() -> None:
    spec = post_form("to=$$To\ntext=$$Body\nfrom={sender_id}\nkey={apiKey}")

    request = render(spec, Message(to="+447700900123", body="Hi & bye = 100%"))

    assert form_pairs(request) == [
        ("to", "+447700900123"),
        ("text", "Hi & bye = 100%"),
        ("from", "ACME"),
        ("key", "key-123"),
    ]


def test_form_body_is_url_encoded_bytes() -> None:
    spec = post_form("to=$$To\ntext=$$Body")

    request = render(spec, Message(to="+44 1", body="a&b é"))

    assert request.body == b"to=%2B44+1&text=a%26b+%C3%A9"


def test_form_body_ignores_blank_lines_and_spaces_around_keys_and_values() -> None:
    spec = post_form("\n  to = $$To  \n\n   \ntext=$$Body\n")

    request = render(spec, Message(to="+1", body="  padded  "))

    assert form_pairs(request) == [("to", "+1"), ("text", "  padded  ")]


def test_form_value_may_itself_contain_equals_signs() -> None:
    spec = post_form("sig=a=b==")

    assert form_pairs(render(spec)) == [("sig", "a=b==")]


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        ("to=$$To\njust text", 2),
        ("=$$Body", 1),
        ("to=$$To\n\n   =x", 3),
    ],
)
def test_form_line_that_is_not_key_value_is_rejected(payload: str, line: int) -> None:
    error = template_error(post_form(payload))

    assert error.code == "invalid_form_line"
    assert error.where == "payload"
    assert error.message.startswith(f"Line {line} is not a key=value pair")


# --- GET requests ---------------------------------------------------------------


def test_get_escapes_endpoint_placeholders() -> None:
    spec = RequestSpec(
        "GET",
        "https://api.example/send/$$To/$$Body?key={apiKey}",
        variables={"apiKey": "a/b?c&d"},
    )

    request = render(spec, Message(to="+44 1", body="50% off/today #1"))

    assert request.url == (
        "https://api.example/send/%2B44%201/50%25%20off%2Ftoday%20%231?key=a%2Fb%3Fc%26d"
    )


def test_get_appends_encoded_url_parameters() -> None:
    spec = RequestSpec(
        "GET",
        ENDPOINT,
        url_parameters=[("to", "$$To"), ("text", "$$Body"), ("from", "{sender_id}")],
        variables=VARIABLES,
    )

    request = render(spec, Message(to="+447700900123", body="Hi & bye=é"))

    assert request.url == (
        "https://api.example/v1/send?to=%2B447700900123&text=Hi+%26+bye%3D%C3%A9"
        "&from=ACME"
    )
    assert parse_qsl(urlsplit(request.url).query) == [
        ("to", "+447700900123"),
        ("text", "Hi & bye=é"),
        ("from", "ACME"),
    ]


def test_get_joins_url_parameters_to_an_existing_query_with_ampersand() -> None:
    spec = RequestSpec(
        "GET",
        ENDPOINT + "?key={apiKey}",
        url_parameters=[("to", "$$To")],
        variables=VARIABLES,
    )

    assert render(spec, Message(to="+1")).url == ENDPOINT + "?key=key-123&to=%2B1"


def test_get_sends_an_empty_body_and_ignores_the_payload() -> None:
    spec = RequestSpec("GET", ENDPOINT, payload="not json {undefined}")

    request = render(spec)

    assert request.method == "GET"
    assert request.body == b""


# --- headers --------------------------------------------------------------------


def test_it_fills_header_values() -> None:
    spec = post_json(
        '{"to": "$$To"}',
        headers=[("Authorization", "Bearer {apiKey}"), ("X-Ref", "$$MessageID")],
    )

    request = render(spec, Message(to="+1", message_id="m-1"))

    assert request.headers == (("Authorization", "Bearer key-123"), ("X-Ref", "m-1"))


def test_a_header_value_with_a_line_break_is_refused_not_sent() -> None:
    spec = RequestSpec(
        "POST",
        ENDPOINT,
        payload='{"to": "$$To"}',
        headers=[("X-Token", "{token}")],
        variables={"token": "abc\r\nX-Evil: 1\nY\rZ"},
    )

    with pytest.raises(TemplateError) as refused:
        render(spec)

    assert refused.value.code == "control_character"
    assert refused.value.where == "headers"
    assert "X-Token would contain a line break (CR/LF)" in refused.value.message
    assert "abc" not in refused.value.message  # the value may be a secret


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi\r\nX-Evil: 1", "a line break (CR/LF)"),
        ("a\x00b", "a NUL character"),
        ("a\x7fb", "a DEL character"),
        ("a\x1bb", "the control character U+001B"),
    ],
)
def test_a_message_value_cannot_inject_a_header_line(body: str, named: str) -> None:
    spec = RequestSpec(
        "POST", ENDPOINT, payload='{"to": "$$To"}', headers=[("X-Text", "$$Body")]
    )

    with pytest.raises(TemplateError, match=re.escape(named)):
        render(spec, Message(to="+6591234567", body=body))


def test_an_endpoint_saved_with_a_control_character_is_refused_at_send() -> None:
    spec = RequestSpec("POST", "https://sms.example.com/se\x00nd", payload="{}")

    with pytest.raises(TemplateError, match="a NUL character") as refused:
        render(spec)

    assert refused.value.where == "endpoint"


def test_header_lookup_ignores_case() -> None:
    spec = post_json('{"to": "$$To"}', headers=[("X-Api-Key", "{apiKey}")])

    request = render(spec)

    assert request.header("x-api-key") == "key-123"
    assert request.header("X-Missing") is None


# --- number format --------------------------------------------------------------


def test_digits_number_format_strips_the_leading_plus() -> None:
    spec = post_json('{"a": "$$To", "b": "Moesms_destination"}', number_format="digits")

    request = render(spec, Message(to="+447700900123"))

    assert request.body == b'{"a":"447700900123","b":"447700900123"}'


def test_e164_number_format_keeps_the_plus() -> None:
    spec = post_json('{"a": "$$To"}')

    assert render(spec, Message(to="+447700900123")).body == b'{"a":"+447700900123"}'


# --- undefined variables --------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        pytest.param(
            RequestSpec("GET", "https://api.example/{nope}", variables=VARIABLES),
            "endpoint",
            id="endpoint",
        ),
        pytest.param(
            RequestSpec(
                "GET",
                ENDPOINT,
                url_parameters=[("k", "{nope}")],
                variables=VARIABLES,
            ),
            "url_parameters",
            id="url_parameters",
        ),
        pytest.param(
            RequestSpec(
                "GET", ENDPOINT, headers=[("X-Key", "{nope}")], variables=VARIABLES
            ),
            "headers",
            id="headers",
        ),
        pytest.param(
            RequestSpec(
                "POST", ENDPOINT, payload='{"k": "{nope}"}', variables=VARIABLES
            ),
            "payload",
            id="payload",
        ),
    ],
)
def test_undefined_variable_is_rejected_naming_the_part(
    spec: RequestSpec, where: str
) -> None:
    error = template_error(spec)

    assert error.code == "undefined_variable"
    assert error.where == where
    assert error.message == (
        "{nope} is not defined: add it under Provider variables or use one of: "
        "{apiKey}, {callback_url}, {sender_id}"
    )


# --- invalid JSON ---------------------------------------------------------------


def test_invalid_json_names_line_and_column() -> None:
    error = template_error(post_json('{\n  "to": "$$To",\n}'))

    assert error.code == "invalid_json"
    assert error.where == "payload"
    assert error.message == (
        "Invalid JSON at line 3, column 1: Expecting property name enclosed in "
        "double quotes."
    )


def test_invalid_json_hints_that_comments_are_not_allowed() -> None:
    error = template_error(post_json('{\n  "to": "$$To", // recipient\n  "a": 1\n}'))

    assert error.message.startswith("Invalid JSON at line 2, column 17:")
    assert error.message.endswith(
        " JSON does not allow // comments; delete the comment (the provider's "
        "sample payload may include one)."
    )


def test_a_url_on_the_failing_line_is_not_mistaken_for_a_comment() -> None:
    error = template_error(post_json('{"dlr": "https://bridge.example/", "a": 1,}'))

    assert "comment" not in error.message


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param('{\n  "to": "$$To",\n  ' + SEED_CALLBACK_LINE + "\n}", id="seed"),
        pytest.param('{"to": $$To}', id="dollar"),
        pytest.param('{"to": Moesms_destination}', id="moengage"),
        pytest.param('{"dlr": {callback_url}}', id="variable"),
    ],
)
def test_invalid_json_hints_to_quote_unquoted_placeholders(payload: str) -> None:
    error = template_error(post_json(payload))

    assert error.code == "invalid_json"
    assert error.message.endswith(
        " Put placeholders and values inside double quotes, e.g. "
        '"partnerCallbackUrl": "{callback_url}" or "destination": "$$To".'
    )


def test_invalid_json_points_at_the_seed_placeholder() -> None:
    error = template_error(
        post_json('{\n  "to": "$$To",\n  ' + SEED_CALLBACK_LINE + "\n}")
    )

    assert error.message.startswith(
        "Invalid JSON at line 3, column 25: Expecting value."
    )


@pytest.mark.parametrize("payload", ["", "\n", "{\n", '{"to": "$$To",\n'])
def test_invalid_json_at_the_end_of_the_payload_is_reported(payload: str) -> None:
    error = template_error(post_json(payload))

    assert error.code == "invalid_json"


# --- injection ------------------------------------------------------------------


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_message_text_is_carried_verbatim_in_json(body: str) -> None:
    spec = post_json('{"to": "$$To", "text": "$$Body", "key": "{apiKey}"}')

    request = render(spec, Message(to="+1", body=body))

    assert json.loads(request.body) == {"to": "+1", "text": body, "key": "key-123"}


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_message_text_is_carried_verbatim_in_batch_json(body: str) -> None:
    spec = post_json('{"msgs": [{"to": "$$To", "text": "$$Body"}]}', batch_key="msgs")

    request = render(spec, Message(to="+1", body=body), Message(to="+2", body="ok"))

    assert json.loads(request.body) == {
        "msgs": [{"to": "+1", "text": body}, {"to": "+2", "text": "ok"}]
    }


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_message_text_is_carried_verbatim_in_a_form(body: str) -> None:
    spec = post_form("to=$$To\ntext=$$Body\nkey={apiKey}")

    request = render(spec, Message(to="+1", body=body))

    assert form_pairs(request) == [("to", "+1"), ("text", body), ("key", "key-123")]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_message_text_is_carried_verbatim_in_the_url(body: str) -> None:
    spec = RequestSpec(
        "GET", "https://api.example/t/$$Body", url_parameters=[("text", "$$Body")]
    )

    url = render(spec, Message(to="+1", body=body)).url

    path, query = urlsplit(url).path, urlsplit(url).query
    assert unquote(path.removeprefix("/t/")) == body
    assert parse_qsl(query, keep_blank_values=True) == [("text", body)]


def test_custom_field_values_are_not_expanded_either() -> None:
    spec = post_json('{"text": "$$Body", "name": "$$first_name"}')
    message = Message(to="+1", body="$$first_name", extra={"first_name": "$$To"})

    assert render(spec, message).body == b'{"text":"$$first_name","name":"$$To"}'


def test_provider_variable_values_are_not_expanded() -> None:
    spec = RequestSpec(
        "POST",
        ENDPOINT,
        payload='{"a": "{first}"}',
        variables={"first": "{second} $$To", "second": "nope"},
    )

    assert render(spec, Message(to="+1")).body == b'{"a":"{second} $$To"}'


# --- properties -----------------------------------------------------------------

PLACEHOLDER_SYNTAX = [
    "$$To",
    "$$Body",
    "$$first_name",
    "{apiKey}",
    "{sender_id}",
    "Moesms_destination",
    "Moesms_message",
    '"',
    "\\",
    "\r\n",
    "%",
    "&",
    "=",
]
any_text = st.text(st.characters(blacklist_categories=("Cs",)))
message_text = st.lists(
    st.one_of(any_text, st.sampled_from(PLACEHOLDER_SYNTAX)), max_size=6
).map("".join)
numbers = st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True)
property_settings = settings(max_examples=200, deadline=None)


@property_settings
@given(number=numbers, body=message_text, name=message_text)
def test_json_body_always_parses_to_the_exact_text(
    number: str, body: str, name: str
) -> None:
    spec = post_json('{"to": "$$To", "text": "Hi $$name: $$Body"}')
    message = Message(to=number, body=body, extra={"name": name})

    request = render(spec, message)

    assert json.loads(request.body) == {"to": number, "text": f"Hi {name}: {body}"}


@property_settings
@given(batch=st.lists(st.tuples(numbers, message_text), min_size=1, max_size=5))
def test_batch_json_body_always_parses_to_the_exact_texts(
    batch: list[tuple[str, str]],
) -> None:
    spec = post_json(
        '{"from": "{sender_id}", "msgs": [{"to": "$$To", "text": "$$Body"}]}',
        batch_key="msgs",
    )
    messages = [Message(to=number, body=body) for number, body in batch]

    request = render(spec, *messages)

    assert json.loads(request.body) == {
        "from": "ACME",
        "msgs": [{"to": number, "text": body} for number, body in batch],
    }


@property_settings
@given(number=numbers, body=message_text)
def test_form_body_always_decodes_to_the_exact_text(number: str, body: str) -> None:
    spec = post_form("to=$$To\ntext=$$Body")

    request = render(spec, Message(to=number, body=body))

    assert form_pairs(request) == [("to", number), ("text", body)]


@property_settings
@given(number=numbers, body=message_text)
def test_url_embedded_text_always_round_trips(number: str, body: str) -> None:
    spec = RequestSpec(
        "GET", "https://api.example/send/$$To/$$Body", url_parameters=[("t", "$$Body")]
    )

    parts = urlsplit(render(spec, Message(to=number, body=body)).url)

    escaped_number, escaped_body = parts.path.removeprefix("/send/").split("/")
    assert (unquote(escaped_number), unquote(escaped_body)) == (number, body)
    assert parse_qsl(parts.query, keep_blank_values=True) == [("t", body)]


@property_settings
@given(value=message_text)
def test_header_value_is_the_exact_text_or_refused(value: str) -> None:
    spec = RequestSpec(
        "GET", ENDPOINT, headers=[("X-Value", "{value}")], variables={"value": value}
    )

    if control_character(value):
        with pytest.raises(TemplateError):
            render(spec)
    else:
        assert render(spec).header("X-Value") == value


@property_settings
@given(value=message_text)
def test_a_substituted_value_is_never_expanded(value: str) -> None:
    spec = RequestSpec(
        "POST",
        ENDPOINT,
        payload='{"a": "{v}", "b": "$$Body", "c": "$$x"}',
        variables={"v": value, "apiKey": "SECRET"},
    )
    message = Message(to="+1", body=value, extra={"x": value, "Body": "WRONG"})

    document = json.loads(render(spec, message).body)

    assert document == {"a": value, "b": value, "c": value}


def test_it_keeps_each_mixed_text_field_apart_in_batch_records() -> None:
    # Two fields that mix words and placeholders must each keep their own text.
    spec = RequestSpec(
        method="POST",
        endpoint="https://sms.example.com/send",
        payload=json.dumps({"msgs": [{"a": "Hi $$first $$To", "b": "x $$Body y"}]}),
        batch_key="msgs",
    )
    request = compile_request(spec).render(
        [
            Message(to="+6591234567", body="one", extra={"first": "Ann"}),
            Message(to="+6581234567", body="two", extra={"first": "Bob"}),
        ]
    )
    assert json.loads(request.body) == {
        "msgs": [
            {"a": "Hi Ann +6591234567", "b": "x one y"},
            {"a": "Hi Bob +6581234567", "b": "x two y"},
        ]
    }
