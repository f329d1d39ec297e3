"""providers.outbound.outcomes: every answer a provider can give gets one category and a
diagnosis a support person can act on. Pure; no database, no network."""

from __future__ import annotations

import json

import pytest

from providers.outbound.outcomes import (
    Category,
    Outcome,
    ResponseRules,
    dig,
    judge_response,
    read_records,
)

HOST = "sms.8x8.com"
JSON = {"Content-Type": "application/json"}
UMID = "0b6d5b4c-5b7e-4a6f-8c65-3f0d2c8b9a11"
EIGHT_BY_EIGHT = ResponseRules(
    message_id_path="umid",
    rule="reject_if",
    rule_path="status.code",
    rule_values=("REJECTED",),
)
VONAGE = ResponseRules(
    message_id_path="messages.0.message-id",
    rule="accept_if",
    rule_path="messages.0.status",
    rule_values=("0",),
)
ANY_2XX = ResponseRules()
UNAUTHENTICATED_8X8 = {
    "code": 1200,
    "message": "Request was not authenticated properly",
    "errorId": "5d1e9a0c-7b51-4e2e-9a3b-0c7f3d9a1e42",
    "timestamp": "2025-03-04T08:15:30.120Z",
}


def judge(
    status: int = 200,
    body: bytes | dict | list = b"",
    *,
    rules: ResponseRules = EIGHT_BY_EIGHT,
    headers: dict[str, str] | None = None,
    truncated: bool = False,
    retry_after: float | None = None,
    host: str = HOST,
) -> Outcome:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    answer = judge_response(
        host=host,
        status=status,
        headers=JSON if headers is None else headers,
        body=body,
        truncated=truncated,
        rules=rules,
        retry_after=retry_after,
    )
    (outcome,) = read_records(answer, rules=rules, message_ids=["m-1"])
    return outcome


def queued(code: str = "QUEUED", description: str = "SMS is accepted") -> dict:
    return {
        "umid": UMID,
        "clientMessageId": "m-1",
        "destination": "6591234567",
        "encoding": "GSM7",
        "status": {"code": code, "description": description},
    }


def vonage(status: str, **extra: str) -> dict:
    message = {"to": "447700900000", "status": status, **extra}
    if status == "0":
        message["message-id"] = "0A0000000123ABCD1"
    return {"message-count": "1", "messages": [message]}


# --- accepted -------------------------------------------------------------------------


def test_it_accepts_a_2xx_and_reads_the_message_id() -> None:
    outcome = judge(200, queued())

    assert outcome.category == Category.ACCEPTED
    assert outcome.accepted
    assert outcome.provider_message_id == UMID
    assert outcome.status_code == 200
    assert outcome.diagnosis == f"Accepted by {HOST} (200); provider message id {UMID}."
    assert json.loads(outcome.response_excerpt) == queued()


def test_it_reads_a_message_id_nested_in_a_list() -> None:
    outcome = judge(200, vonage("0"), rules=VONAGE, host="rest.nexmo.com")

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "0A0000000123ABCD1"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_it_accepts_any_2xx_when_no_rule_or_path_is_set(status) -> None:
    outcome = judge(status, b"", rules=ANY_2XX, headers={})

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == ""
    assert outcome.diagnosis == f"Accepted by {HOST} ({status})."


def test_an_answer_nested_past_the_depth_limit_is_read_as_text() -> None:
    outcome = judge(200, b"[" * 60_000 + b"]" * 60_000, rules=ANY_2XX)

    assert outcome.category == Category.ACCEPTED
    assert outcome.response_excerpt.startswith("[[[[")


def test_it_accepts_a_non_json_answer_when_nothing_needs_reading() -> None:
    outcome = judge(200, b"OK: queued", rules=ANY_2XX, headers={})

    assert outcome.category == Category.ACCEPTED
    assert outcome.response_excerpt == "OK: queued"


def test_it_accepts_when_the_reject_rule_does_not_match() -> None:
    outcome = judge(200, queued("QUEUED"))

    assert outcome.category == Category.ACCEPTED


# --- refused with a 200 ---------------------------------------------------------------


def test_it_treats_a_200_with_status_rejected_as_rejected() -> None:
    outcome = judge(200, queued("REJECTED", "Destination is blocked"))

    assert outcome.category == Category.REJECTED
    assert not outcome.accepted
    assert outcome.status_code == 200
    assert outcome.provider_message_id == ""
    assert HOST in outcome.diagnosis
    assert "status.code is 'REJECTED'" in outcome.diagnosis
    assert "Destination is blocked" in outcome.diagnosis


def test_it_rejects_when_an_accept_if_field_has_another_value() -> None:
    outcome = judge(200, vonage("4"), rules=VONAGE, host="rest.nexmo.com")

    assert outcome.category == Category.REJECTED
    assert "messages.0.status is '4'" in outcome.diagnosis


def test_it_rejects_when_the_accept_if_field_is_missing() -> None:
    outcome = judge(200, {"messages": []}, rules=VONAGE, host="rest.nexmo.com")

    assert outcome.category == Category.REJECTED
    assert "messages.0.status is None" in outcome.diagnosis


def test_it_accepts_a_rule_value_given_as_a_json_number() -> None:
    body = {"messages": [{"status": 0, "message-id": "abc"}]}

    outcome = judge(200, body, rules=VONAGE)

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "abc"


# --- HTTP errors ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_it_explains_an_auth_failure_with_the_providers_own_words(status) -> None:
    outcome = judge(status, UNAUTHENTICATED_8X8)

    assert outcome.category == Category.AUTH
    assert outcome.status_code == status
    assert outcome.diagnosis.startswith(f"{status} from {HOST}: ")
    assert "API key" in outcome.diagnosis
    assert "credentials" in outcome.diagnosis
    assert (
        "The provider says: Request was not authenticated properly, code 1200."
        in outcome.diagnosis
    )
    assert "errorId" in outcome.response_excerpt
    assert not outcome.transient


@pytest.mark.parametrize("status", [400, 422])
def test_it_calls_a_refused_payload_a_bad_request(status) -> None:
    body = {"code": 1002, "message": "Invalid MSISDN format"}

    outcome = judge(status, body)

    assert outcome.category == Category.BAD_REQUEST
    assert f"{status} from {HOST}" in outcome.diagnosis
    assert "payload" in outcome.diagnosis
    assert "Invalid MSISDN format, code 1002" in outcome.diagnosis


@pytest.mark.parametrize("status", [404, 405, 410])
def test_it_calls_a_missing_endpoint_not_found(status) -> None:
    outcome = judge(status, b"Not Found", headers={"Content-Type": "text/plain"})

    assert outcome.category == Category.NOT_FOUND
    assert "check the URL" in outcome.diagnosis
    assert "{subAccountId}" in outcome.diagnosis


def test_it_reports_rate_limiting_with_the_wait_asked_for() -> None:
    outcome = judge(429, {"message": "Too many requests"}, retry_after=30.0)

    assert outcome.category == Category.RATE_LIMITED
    assert outcome.retry_after == 30.0
    assert "asks to wait 30 s" in outcome.diagnosis
    assert "Too many requests" in outcome.diagnosis
    assert outcome.transient


def test_it_reports_rate_limiting_without_a_retry_after() -> None:
    outcome = judge(429, b"")

    assert outcome.category == Category.RATE_LIMITED
    assert outcome.retry_after is None
    assert "asks to slow down" in outcome.diagnosis


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_it_reports_a_provider_server_error_as_transient(status) -> None:
    body = {"code": 2000, "message": "Internal server error"}

    outcome = judge(status, body)

    assert outcome.category == Category.SERVER_ERROR
    assert outcome.transient
    assert "Try again later" in outcome.diagnosis
    assert "Internal server error, code 2000" in outcome.diagnosis


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_it_does_not_follow_a_redirect_and_names_its_target(status) -> None:
    location = "https://sms.8x8.com/api/v2/messages"

    outcome = judge(status, b"", headers={"Location": location})

    assert outcome.category == Category.REDIRECT
    assert location in outcome.diagnosis
    assert "put the final URL in the endpoint" in outcome.diagnosis


def test_it_reads_nested_error_objects() -> None:
    body = {"error": {"message": "Invalid token", "code": "E401"}}

    outcome = judge(401, body)

    assert "The provider says: Invalid token, code E401." in outcome.diagnosis


# --- unreadable answers ---------------------------------------------------------------


def test_it_refuses_an_html_page_answered_with_200() -> None:
    html = b"<!DOCTYPE html><html><body>Sign in</body></html>"

    outcome = judge(200, html, headers={"Content-Type": "text/html; charset=utf-8"})

    assert outcome.category == Category.BAD_RESPONSE
    assert "HTML page" in outcome.diagnosis
    assert "login page" in outcome.diagnosis


def test_it_recognises_html_without_a_content_type() -> None:
    outcome = judge(200, b"  <html><body>hi</body></html>", rules=ANY_2XX, headers={})

    assert outcome.category == Category.BAD_RESPONSE
    assert "HTML page" in outcome.diagnosis


def test_it_accepts_json_mislabelled_as_text_html() -> None:
    # Many gateways behind PHP answer their JSON with PHP's default content type.
    outcome = judge(200, queued(), headers={"Content-Type": "text/html"})

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == UMID


def test_it_refuses_an_empty_answer_when_a_message_id_is_expected() -> None:
    outcome = judge(200, b"")

    assert outcome.category == Category.BAD_RESPONSE
    assert "the answer is empty" in outcome.diagnosis
    assert "message id" in outcome.diagnosis


def test_it_refuses_garbage_when_a_message_id_is_expected() -> None:
    outcome = judge(200, b"\x00\xff garbage {not json", headers={})

    assert outcome.category == Category.BAD_RESPONSE
    assert "the answer is not JSON" in outcome.diagnosis


def test_it_refuses_a_truncated_answer() -> None:
    cut = json.dumps(queued()).encode()[:40]

    outcome = judge(200, cut, truncated=True)

    assert outcome.category == Category.BAD_RESPONSE
    assert "larger than the read limit" in outcome.diagnosis
    assert outcome.response_excerpt.endswith("…")


def test_it_refuses_a_truncated_answer_even_without_rules() -> None:
    outcome = judge(200, b'{"ok": true', rules=ANY_2XX, truncated=True)

    assert outcome.category == Category.BAD_RESPONSE


def test_it_refuses_an_answer_without_the_message_id() -> None:
    body = {"status": {"code": "QUEUED"}}

    outcome = judge(200, body)

    assert outcome.category == Category.BAD_RESPONSE
    assert "has no umid" in outcome.diagnosis
    assert "message id path" in outcome.diagnosis


def test_it_refuses_an_empty_message_id() -> None:
    outcome = judge(200, {**queued(), "umid": ""})

    assert outcome.category == Category.BAD_RESPONSE


def test_it_cuts_long_answers_in_the_excerpt() -> None:
    outcome = judge(500, b"x" * 5000, headers={})

    assert len(outcome.response_excerpt) == 2001
    assert outcome.response_excerpt.endswith("…")


def test_it_decodes_invalid_utf8_without_failing() -> None:
    outcome = judge(400, b"bad \xff\xfe bytes", headers={})

    assert outcome.category == Category.BAD_REQUEST
    assert "\ufffd" in outcome.response_excerpt


# --- Outcome --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "transient"),
    [
        (Category.RATE_LIMITED, True),
        (Category.SERVER_ERROR, True),
        (Category.TIMEOUT, True),
        (Category.CONNECTION, True),
        (Category.DNS, True),
        (Category.ACCEPTED, False),
        (Category.REJECTED, False),
        (Category.AUTH, False),
        (Category.BAD_REQUEST, False),
        (Category.NOT_FOUND, False),
        (Category.BAD_RESPONSE, False),
        (Category.REDIRECT, False),
        (Category.TLS, False),
        (Category.BLOCKED, False),
        (Category.INVALID, False),
    ],
)
def test_it_marks_only_retryable_categories_transient(category, transient) -> None:
    assert Outcome.failure(category, "why").transient is transient


def test_it_masks_secrets_when_finishing_an_outcome() -> None:
    key = "sk-live-5f2b9c0e7d41a3e8"
    outcome = Outcome.failure(
        Category.AUTH, f"bad key {key}", response_excerpt=f'{{"key": "{key}"}}'
    )

    done = outcome.finish(latency_ms=42, secrets=[key])

    assert done.latency_ms == 42
    assert key not in done.diagnosis
    assert key not in done.response_excerpt
    assert "••••a3e8" in done.diagnosis
    assert "••••a3e8" in done.response_excerpt


# --- dig ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("umid", "u-1"),
        ("status.code", "QUEUED"),
        ("messages.0.message-id", "m-0"),
        ("messages.1.message-id", "m-1"),
        ("messages.1.tags.0", "a"),
        ("messages.2.message-id", None),
        ("messages.-1.message-id", None),
        ("messages.first", None),
        ("status.code.deeper", None),
        ("missing", None),
        ("missing.too", None),
        ("0", "zero"),
    ],
)
def test_it_digs_through_nested_dicts_and_lists(path, expected) -> None:
    data = {
        "umid": "u-1",
        "0": "zero",
        "status": {"code": "QUEUED"},
        "messages": [
            {"message-id": "m-0"},
            {"message-id": "m-1", "tags": ["a", "b"]},
        ],
    }

    assert dig(data, path) == expected


def test_it_digs_into_a_top_level_list() -> None:
    assert dig([{"id": 7}], "0.id") == 7
    assert dig(None, "id") is None


# --- one outcome per message of a batch ----------------------------------------------

INFOBIP = ResponseRules(
    message_id_path="messages.0.messageId",
    rule="reject_if",
    rule_path="messages.0.status.groupName",
    rule_values=("REJECTED",),
)
IDS = ["m-1", "m-2", "m-3"]


def batch(body: dict, rules: ResponseRules, ids: list[str] = IDS) -> list[Outcome]:
    answer = judge_response(
        host=HOST,
        status=200,
        headers=JSON,
        body=json.dumps(body).encode(),
        truncated=False,
        rules=rules,
    )
    return read_records(answer, rules=rules, message_ids=ids)


def record(message_id: str, group: str = "PENDING", **status: str) -> dict:
    return {
        "messageId": message_id,
        "status": {"groupName": group, **status},
    }


def test_each_record_of_a_batch_answer_is_judged_on_its_own() -> None:
    body = {
        "messages": [
            record("m-1"),
            record("m-2", "REJECTED", description="Destination not reachable"),
            record("m-3"),
        ]
    }

    outcomes = batch(body, INFOBIP)

    assert [o.category for o in outcomes] == ["accepted", "rejected", "accepted"]
    assert [o.provider_message_id for o in outcomes] == ["m-1", "", "m-3"]
    assert "Destination not reachable" in outcomes[1].diagnosis
    assert not outcomes[1].transient  # a refusal is final, never retried


def test_records_are_matched_by_our_message_id_when_the_answer_reorders_them() -> None:
    rules = ResponseRules(
        message_id_path="messages.0.umid",
        rule="reject_if",
        rule_path="messages.0.status.code",
        rule_values=("REJECTED",),
        record_id_path="messages.0.clientMessageId",
    )
    body = {
        "messages": [
            {"clientMessageId": "m-3", "umid": "u-3", "status": {"code": "QUEUED"}},
            {"clientMessageId": "m-1", "umid": "u-1", "status": {"code": "REJECTED"}},
        ]
    }

    outcomes = batch(body, rules)

    assert [o.category for o in outcomes] == ["rejected", "unconfirmed", "accepted"]
    assert outcomes[2].provider_message_id == "u-3"
    assert "no record for this message" in outcomes[1].diagnosis


@pytest.mark.parametrize(
    ("accepted", "expected"),
    [
        (3, ["accepted"] * 3),
        (0, ["rejected"] * 3),
        (2, ["unconfirmed"] * 3),
    ],
)
def test_a_counting_answer_is_never_read_as_all_sent(accepted, expected) -> None:
    rules = ResponseRules(accepted_count_path="acceptedCount")
    body = {"batchId": "b-1", "acceptedCount": accepted, "rejectedCount": 3 - accepted}

    outcomes = batch(body, rules)

    assert [o.category for o in outcomes] == expected
    if accepted < 3:
        assert f"accepted {accepted} of 3 records" in outcomes[0].diagnosis


def test_a_single_message_refused_by_count_names_the_count() -> None:
    rules = ResponseRules(accepted_count_path="acceptedCount")

    (outcome,) = batch({"acceptedCount": 0, "rejectedCount": 1}, rules, ["m-1"])

    assert outcome.category == Category.REJECTED
    assert "accepted 0 of 1 record;" in outcome.diagnosis


def test_an_unreadable_count_is_an_unreadable_answer() -> None:
    rules = ResponseRules(accepted_count_path="acceptedCount")

    outcomes = batch({"batchId": "b-1"}, rules)

    assert {o.category for o in outcomes} == {Category.BAD_RESPONSE}
    assert "acceptedCount" in outcomes[0].diagnosis


def test_records_the_count_denies_are_not_taken_as_accepted() -> None:
    rules = ResponseRules(
        message_id_path="messages.0.messageId", accepted_count_path="accepted"
    )
    body = {"accepted": 1, "messages": [record("m-1"), record("m-2"), record("m-3")]}

    outcomes = batch(body, rules)

    assert {o.category for o in outcomes} == {Category.UNCONFIRMED}


def test_a_batch_wide_id_is_not_given_to_every_message() -> None:
    rules = ResponseRules(message_id_path="batchId")

    outcomes = batch({"batchId": "b-1"}, rules)

    assert [o.category for o in outcomes] == ["accepted"] * 3
    assert [o.provider_message_id for o in outcomes] == ["", "", ""]


def test_a_failed_request_is_the_same_failure_for_every_message() -> None:
    answer = judge_response(
        host=HOST,
        status=401,
        headers=JSON,
        body=json.dumps(UNAUTHENTICATED_8X8).encode(),
        truncated=False,
        rules=INFOBIP,
    )

    outcomes = read_records(answer, rules=INFOBIP, message_ids=IDS)

    assert [o.category for o in outcomes] == ["auth"] * 3


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (
            200,
            {"messages": [{"status": "7", "error-text": "Number barred."}]},
            "Number barred.",
        ),
        (
            400,
            {"requestError": {"serviceException": {"text": "Invalid login details"}}},
            "Invalid login details",
        ),
        (400, {"code": 40001, "text": "Invalid 'from' field"}, "Invalid 'from' field"),
    ],
    ids=["vonage-refusal-in-200", "infobip-error", "sinch-error"],
)
def test_it_quotes_the_providers_own_words(status, body, words) -> None:
    outcome = judge(status, body, rules=VONAGE)

    assert outcome.category in (Category.REJECTED, Category.BAD_REQUEST)
    assert words in outcome.diagnosis


def test_an_answer_that_is_itself_the_list_of_records_is_matched_by_id() -> None:
    rules = ResponseRules(message_id_path="0.sid", record_id_path="0.ref")
    answer = judge_response(
        host=HOST,
        status=200,
        headers=JSON,
        body=json.dumps(
            [{"ref": "m-2", "sid": "s-2"}, {"ref": "m-1", "sid": "s-1"}]
        ).encode(),
        truncated=False,
        rules=rules,
    )

    outcomes = read_records(answer, rules=rules, message_ids=["m-1", "m-2"])

    assert [o.provider_message_id for o in outcomes] == ["s-1", "s-2"]
