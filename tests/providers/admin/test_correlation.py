"""providers.admin.correlation: finding the provider's message id in its answer.

Pure: no database. Answers are written as the providers document them.
"""

from __future__ import annotations

import json

import pytest

from providers.admin.correlation import (
    Proposal,
    captures_our_id,
    is_likely_path,
    propose,
    unmatched_reason,
)

UMID = "6f3c1a52-9d0e-5b7a-8c41-2e7d90b1f4a3"
EIGHT_BY_EIGHT_ANSWER = {
    "umid": UMID,
    "clientMessageId": None,
    "destination": "6591234567",
    "encoding": "GSM7",
    "status": {"code": "QUEUED", "description": "SMS is accepted"},
}


@pytest.mark.parametrize(
    ("answer", "path", "value"),
    [
        (EIGHT_BY_EIGHT_ANSWER, "umid", UMID),
        ({"sid": "SM123", "account_sid": "AC1"}, "sid", "SM123"),
        (
            {"message_uuid": ["db3ce55a-7f1d"], "api_id": "x"},
            "message_uuid.0",
            "db3ce55a-7f1d",
        ),
        (
            {"messages": [{"to": "447", "message-id": "0A00"}]},
            "messages.0.message-id",
            "0A00",
        ),
        (
            {"messages": [{"messageId": "ib-1", "status": {}}]},
            "messages.0.messageId",
            "ib-1",
        ),
        ({"id": 42, "to": ["+65"]}, "id", "42"),
        ({"data": {"id": "d-9"}}, "data.id", "d-9"),
        ({"messageId": "m-1", "id": "account-7"}, "messageId", "m-1"),
    ],
)
def test_it_proposes_the_path_of_a_likely_provider_message_id(
    answer, path, value
) -> None:
    assert propose(json.dumps(answer)) == Proposal(path=path, value=value)


@pytest.mark.parametrize(
    "excerpt",
    [
        "",
        "OK",
        '{"status": "queued"',  # cut short
        json.dumps({"umid": None, "id": ""}),
        json.dumps({"id": True}),
        json.dumps({"id": {"nested": "x"}}),
        json.dumps(["umid"]),
    ],
)
def test_it_proposes_nothing_when_the_answer_holds_no_id(excerpt) -> None:
    assert propose(excerpt) is None


def test_it_looks_only_where_it_is_told() -> None:
    answer = json.dumps({"id": "generic", "umid": UMID})

    assert propose(answer, paths=("umid",)) == Proposal("umid", UMID)
    assert propose(answer, paths=("messages.0.umid",)) is None


def test_it_accepts_back_only_paths_it_offers() -> None:
    assert is_likely_path("umid")
    assert is_likely_path("messages.0.message-id")
    assert not is_likely_path("status.code")
    assert not is_likely_path("")


def test_it_sees_whether_a_payload_sends_our_message_id() -> None:
    assert captures_our_id('{"clientMessageId": "$$MessageID"}')
    assert not captures_our_id('{"text": "Moesms_message"}')


def test_it_explains_an_unmatched_report_by_the_missing_id_path() -> None:
    reason = unmatched_reason(
        message_id_path="", payload="{}", proposal=Proposal("umid", UMID)
    )

    assert reason == (
        "this provider's answers are not read for a message id — set the provider "
        "message id path (Use umid below)."
    )


def test_it_explains_an_unmatched_report_when_the_path_is_set() -> None:
    reason = unmatched_reason(message_id_path="umid", payload="{}", proposal=None)

    assert "matches no answer read at umid" in reason
