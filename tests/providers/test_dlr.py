"""providers.dlr: callbacks as providers send them, read into status updates.

Pure: no database. Every payload comes from tests/fixtures/dlr/, written to the
documented formats (8x8's webhook, CleverTap's event groups) or to the shape of
a provider that needs a mapping (MSG91-like JSON, a Twilio-like form, an
SMPP-like query string).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from providers.dlr import (
    DeliveryState,
    DlrError,
    DlrMapping,
    StatusUpdate,
    correlation_note,
    detect_format,
    parse,
    parse_time,
    propose_mapping,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dlr"

LIFECYCLE_ID = "4b1d7e0c9a2f4e6b8d3c5a7f1e9b2d40"
LIFECYCLE_UMID = "6f3c1a52-9d0e-5b7a-8c41-2e7d90b1f4a3"
CT_DELIVERED_ID = "8d2f0b6a1c3e4f5a9b7d6e0c2a4f8b13"
CT_FAILED_ID = "5a0c8e2f6b1d4c7a9e3b0f4d8a2c6e57"
CT_OTHER_ID = "e6b3d9a0f2c84b1e7a5d3c0f9b6e2a18"


def load(name: str) -> Any:
    """A fixture as the view would read it: JSON, or a form/query as a dict."""
    text = (FIXTURES / name).read_text()
    if name.endswith(".txt"):
        return dict(parse_qsl(text, keep_blank_values=True))
    return json.loads(text)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def updates(name: str, **kwargs: Any) -> list[StatusUpdate]:
    return parse(load(name), **kwargs)[1]


# --- recognising the format ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("8x8_queued.json", "8x8"),
        ("8x8_sent.json", "8x8"),
        ("8x8_delivered.json", "8x8"),
        ("8x8_undelivered.json", "8x8"),
        ("8x8_rejected.json", "8x8"),
        ("8x8_read.json", "8x8"),
        ("clevertap_delivered.json", "clevertap"),
        ("clevertap_failed.json", "clevertap"),
        ("clevertap_replied.json", "clevertap"),
        ("clevertap_clicked.json", "clevertap"),
        ("clevertap_mixed.json", "clevertap"),
        ("msg91_delivered.json", "mapped"),
        ("twilio_delivered.txt", "mapped"),
        ("kannel_delivered.txt", "mapped"),
    ],
)
def test_it_detects_each_fixtures_format(name, kind) -> None:
    assert detect_format(load(name)) == kind


def test_it_does_not_take_8x8s_envelope_for_another_event_type() -> None:
    payload = load("8x8_delivered.json")
    payload["eventType"] = "inbound_message_received"

    assert detect_format(payload) == "mapped"


@pytest.mark.parametrize(
    "payload",
    [[], [{"event": "delivered", "data": {"meta": "x"}}], [{"data": []}], "text"],
)
def test_it_does_not_take_near_misses_for_clevertap(payload) -> None:
    assert detect_format(payload) == "mapped"


# --- 8x8's webhook -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "8x8_queued.json",
            StatusUpdate(
                message_id=LIFECYCLE_ID,
                provider_message_id=LIFECYCLE_UMID,
                state=DeliveryState.QUEUED,
                occurred_at=at("2024-05-02T10:15:30"),
                raw_status="queued",
            ),
        ),
        (
            "8x8_sent.json",
            StatusUpdate(
                message_id=LIFECYCLE_ID,
                provider_message_id=LIFECYCLE_UMID,
                state=DeliveryState.SENT,
                occurred_at=at("2024-05-02T10:15:31"),
                raw_status="sent",
            ),
        ),
        (
            "8x8_delivered.json",
            StatusUpdate(
                message_id=LIFECYCLE_ID,
                provider_message_id=LIFECYCLE_UMID,
                state=DeliveryState.DELIVERED,
                description="delivered_to_recipient",
                occurred_at=at("2024-05-02T10:15:33.470000"),
                raw_status="delivered",
            ),
        ),
        (
            "8x8_read.json",
            StatusUpdate(
                message_id=LIFECYCLE_ID,
                provider_message_id=LIFECYCLE_UMID,
                state=DeliveryState.DELIVERED,
                occurred_at=at("2024-05-02T10:17:12"),
                raw_status="read",
            ),
        ),
        (
            "8x8_undelivered.json",
            StatusUpdate(
                message_id="7e2a9c4f1b6d4a0e8c3f5b9d2e7a1c64",
                provider_message_id="0a7e4c19-3b62-5d8f-a1c0-7f25e8d6b934",
                state=DeliveryState.FAILED,
                error_code="15",
                description="Invalid destination",
                occurred_at=at("2024-05-02T10:16:05"),
                raw_status="undelivered",
            ),
        ),
        (
            "8x8_rejected.json",
            StatusUpdate(
                message_id="2c9e5a1d7f3b4e8a0d6c4b2f9e1a7d35",
                provider_message_id="c81f5d2a-7e04-5b93-b6a8-4d0e1c9f3a72",
                state=DeliveryState.FAILED,
                error_code="19",
                description="Invalid source address",
                occurred_at=at("2024-05-02T10:15:30"),
                raw_status="rejected",
            ),
        ),
    ],
)
def test_it_reads_each_8x8_state(name, expected) -> None:
    kind, found = parse(load(name))

    assert kind == "8x8"
    assert found == [expected]
    assert found[0].occurred_at.utcoffset().total_seconds() == 0


def test_it_ignores_a_mapping_for_8x8s_own_format() -> None:
    mapping = DlrMapping(id_path="payload.umid", status_path="description")

    assert updates("8x8_delivered.json", mapping=mapping) == updates(
        "8x8_delivered.json"
    )


def test_it_refuses_8x8_without_payload_status() -> None:
    payload = load("8x8_delivered.json")
    del payload["payload"]["status"]

    with pytest.raises(DlrError, match="payload.status"):
        parse(payload)


def test_it_refuses_8x8_without_payload() -> None:
    payload = load("8x8_delivered.json")
    del payload["payload"]

    with pytest.raises(DlrError, match="payload.status"):
        parse(payload)


def test_it_leaves_an_unknown_8x8_state_without_a_state() -> None:
    payload = load("8x8_sent.json")
    payload["payload"]["status"]["state"] = "unknown"

    (update,) = parse(payload)[1]

    assert (update.state, update.raw_status) == ("", "unknown")


# --- CleverTap's event groups --------------------------------------------------------


def test_it_reads_clevertaps_delivered_event() -> None:
    assert updates("clevertap_delivered.json") == [
        StatusUpdate(
            message_id=CT_DELIVERED_ID,
            state=DeliveryState.DELIVERED,
            description="Delivered to handset",
            occurred_at=at("2024-05-02T10:15:33"),
            raw_status="delivered",
        )
    ]


def test_it_reads_clevertaps_failed_event_with_code_and_description() -> None:
    assert updates("clevertap_failed.json") == [
        StatusUpdate(
            message_id=CT_FAILED_ID,
            state=DeliveryState.FAILED,
            error_code="901",
            description="DND Failure",
            occurred_at=at("2024-05-02T10:16:05"),
            raw_status="failed",
        )
    ]


def test_it_carries_a_reply_as_an_event_with_its_text_and_our_number() -> None:
    (update,) = updates("clevertap_replied.json")

    assert update == StatusUpdate(
        message_id=CT_DELIVERED_ID,
        occurred_at=at("2024-05-02T10:17:12"),
        raw_status="replied",
        event="replied",
        text="STOP",
        to_phone="5555",
    )


def test_it_carries_a_click_as_an_event_without_a_state() -> None:
    (update,) = updates("clevertap_clicked.json")

    assert update == StatusUpdate(
        message_id=CT_DELIVERED_ID,
        occurred_at=at("2024-05-02T10:17:12"),
        raw_status="clicked",
        event="clicked",
    )


def test_it_reads_every_record_of_every_group_in_order() -> None:
    found = updates("clevertap_mixed.json")

    assert [(u.event, u.state, u.message_id) for u in found] == [
        ("status", DeliveryState.FAILED, CT_FAILED_ID),
        ("replied", "", CT_DELIVERED_ID),
        ("status", DeliveryState.DELIVERED, CT_DELIVERED_ID),
        ("status", DeliveryState.DELIVERED, CT_OTHER_ID),
        ("clicked", "", CT_OTHER_ID),
    ]
    assert found[3].occurred_at == at("2024-05-02T10:15:31")


def test_it_trims_a_reply_to_clevertaps_512_characters() -> None:
    groups = load("clevertap_replied.json")
    groups[0]["data"][0]["incomingText"] = "STOP " * 200

    (update,) = parse(groups)[1]

    assert update.text == ("STOP " * 200)[:512]


def test_it_refuses_a_clevertap_record_without_meta() -> None:
    groups = load("clevertap_mixed.json")
    del groups[2]["data"][1]["meta"]

    with pytest.raises(DlrError, match="“delivered” record without meta"):
        parse(groups)


# --- mapped callbacks ----------------------------------------------------------------


MSG91_MAPPING = DlrMapping(
    id_path="moengageMsgId",
    provider_id_path="requestId",
    status_path="status",
    description_path="desc",
    values={"DELIVRD": "delivered", "FAILED": "failed"},
)


def test_it_reads_a_mapped_json_callback() -> None:
    assert updates("msg91_failed.json", mapping=MSG91_MAPPING) == [
        StatusUpdate(
            message_id="f3a9d6c0b8e24a7d1c5e9b0a4f2d6c81",
            provider_message_id="3463716c6b4a373536363137",
            state=DeliveryState.FAILED,
            description="NDNC rejected",
            raw_status="FAILED",
        )
    ]


def test_it_matches_mapped_status_values_whatever_their_case() -> None:
    mapping = DlrMapping(
        id_path="moengageMsgId", status_path="status", values={" delivrd ": "delivered"}
    )

    (update,) = updates("msg91_delivered.json", mapping=mapping)

    assert update.state == DeliveryState.DELIVERED


def test_it_leaves_an_unmapped_status_value_without_a_state() -> None:
    mapping = DlrMapping(id_path="moengageMsgId", status_path="status", values={})

    (update,) = updates("msg91_delivered.json", mapping=mapping)

    assert (update.state, update.raw_status) == ("", "DELIVRD")


def test_it_reads_each_record_of_a_mapped_list() -> None:
    records = [load("msg91_delivered.json"), load("msg91_failed.json")]

    found = parse(records, mapping=MSG91_MAPPING)[1]

    assert [u.state for u in found] == [DeliveryState.DELIVERED, DeliveryState.FAILED]


def test_it_refuses_a_mapped_payload_without_an_id() -> None:
    payload = load("msg91_delivered.json")
    del payload["moengageMsgId"], payload["requestId"]

    with pytest.raises(DlrError, match="No message id at “moengageMsgId”"):
        parse(payload, mapping=MSG91_MAPPING)


@pytest.mark.parametrize("mapping", [None, DlrMapping(), DlrMapping(id_path="x")])
def test_it_refuses_an_unrecognised_payload_without_a_usable_mapping(mapping) -> None:
    with pytest.raises(DlrError, match="no delivery report mapping"):
        parse(load("msg91_delivered.json"), mapping=mapping)


# --- proposing a mapping from a sample -----------------------------------------------


def test_it_proposes_a_mapping_for_msg91s_flat_json() -> None:
    mapping = propose_mapping(load("msg91_delivered.json"))

    assert (
        mapping.id_path,
        mapping.provider_id_path,
        mapping.status_path,
        mapping.error_code_path,
        mapping.description_path,
        mapping.timestamp_path,
    ) == ("moengageMsgId", "", "status", "", "desc", "")
    assert mapping.usable


@pytest.mark.parametrize(
    ("name", "state", "message_id"),
    [
        ("msg91_delivered.json", "delivered", "b7e1c4a9d2f04e6b8a3c5d7f0e9b1a26"),
        ("msg91_failed.json", "failed", "f3a9d6c0b8e24a7d1c5e9b0a4f2d6c81"),
    ],
)
def test_its_proposed_msg91_mapping_reads_the_sample(name, state, message_id) -> None:
    mapping = propose_mapping(load("msg91_delivered.json"))

    (update,) = updates(name, mapping=mapping)

    assert (update.message_id, update.state) == (message_id, state)


def test_it_proposes_a_mapping_for_a_twilio_like_form() -> None:
    mapping = propose_mapping(load("twilio_delivered.txt"))

    assert (
        mapping.id_path,
        mapping.provider_id_path,
        mapping.status_path,
        mapping.error_code_path,
    ) == ("", "MessageSid", "MessageStatus", "ErrorCode")
    assert mapping.usable


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "twilio_delivered.txt",
            ("SM5d0f8a3c1e7b4926a8c0d4e2f6b1a937", DeliveryState.DELIVERED, ""),
        ),
        (
            "twilio_undelivered.txt",
            ("SM91c6e2b8f4a0d3579e1b6c8a2d4f0e73", DeliveryState.FAILED, "30003"),
        ),
    ],
)
def test_its_proposed_form_mapping_reads_the_form(name, expected) -> None:
    mapping = propose_mapping(load("twilio_delivered.txt"))

    (update,) = updates(name, mapping=mapping)

    assert (update.provider_message_id, update.state, update.error_code) == expected


def test_it_proposes_a_mapping_for_an_smpp_like_query() -> None:
    mapping = propose_mapping(load("kannel_delivered.txt"))

    assert (
        mapping.id_path,
        mapping.provider_id_path,
        mapping.status_path,
        mapping.error_code_path,
        mapping.timestamp_path,
    ) == ("id", "", "stat", "err", "done_date")


def test_its_proposed_query_mapping_reads_the_query() -> None:
    mapping = propose_mapping(load("kannel_delivered.txt"))

    (update,) = updates("kannel_delivered.txt", mapping=mapping)

    assert (update.message_id, update.state, update.raw_status, update.error_code) == (
        "c4e8a1f6d3b94072a5e1c9d8b6f0a2e3",
        DeliveryState.DELIVERED,
        "DELIVRD",
        "000",
    )


def test_it_reads_an_smpp_done_date_as_yymmddhhmm() -> None:
    # SMPP receipts write "done date" as YYMMDDhhmm: 2405021015 is 2 May 2024
    # 10:15, not 2405021015 seconds after 1970 (March 2046).
    mapping = propose_mapping(load("kannel_delivered.txt"))

    (update,) = updates("kannel_delivered.txt", mapping=mapping)

    assert update.occurred_at == at("2024-05-02T10:15")


def test_it_proposes_from_the_first_record_of_a_list() -> None:
    sample = [load("msg91_failed.json"), load("msg91_delivered.json")]

    assert propose_mapping(sample).status_path == "status"


# --- what Map automatically says of a format read without a mapping -------------------

EIGHT_BY_EIGHT_PAYLOAD = '{"source": "{sender_id}", "text": "Moesms_message"}'


def test_it_names_the_fields_that_find_the_message_in_8x8s_reports() -> None:
    note = correlation_note("8x8")

    assert note == (
        "8x8 reports carry umid (8x8's id) and clientMessageId (yours, when the "
        "payload sends $$MessageID as clientMessageId)."
    )


@pytest.mark.parametrize(
    ("payload", "path", "says"),
    [
        (EIGHT_BY_EIGHT_PAYLOAD, "", "Warning: this provider captures neither"),
        (EIGHT_BY_EIGHT_PAYLOAD, "umid", "read from its answers at umid"),
        ('{"clientMessageId": "$$MessageID"}', "", "This payload sends $$MessageID"),
    ],
)
def test_it_checks_the_provider_captures_an_id_8x8_reports_carry(
    payload, path, says
) -> None:
    note = correlation_note("8x8", payload=payload, message_id_path=path)

    assert says in note
    assert ("Warning" in note) == (says.startswith("Warning"))


def test_it_checks_a_clevertap_payload_sends_our_id_as_meta() -> None:
    assert "meta" in correlation_note("clevertap")
    assert "Warning" in correlation_note("clevertap", payload='{"mid": "x"}')
    assert "Warning" not in correlation_note(
        "clevertap", payload='{"mid": "$$MessageID"}'
    )


def test_it_says_nothing_of_a_mapped_format() -> None:
    assert correlation_note("mapped", payload="{}", message_id_path="") == ""


# --- times no report could mean -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1e20,
        -1,
        0,
        float("nan"),
        float("inf"),
        float("-inf"),
        10**400,
        "1e20",
        "NaN",
        "-Infinity",
        "99999999999999999999",
        True,
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        "1899-12-31",
        [1714644933],
        {"at": 1714644933},
    ],
)
def test_an_absurd_or_unreadable_time_is_no_time(value: Any) -> None:
    assert parse_time(value) is None


@pytest.mark.parametrize(
    "value", [1714644933, 1714644933000, "1714644933", "2024-05-02T10:15:33Z"]
)
def test_a_plausible_time_in_seconds_milliseconds_or_iso_is_read(value: Any) -> None:
    assert parse_time(value) == at("2024-05-02T10:15:33")


def test_an_absurd_smpp_date_is_no_time() -> None:
    assert parse_time("9913311299", key="done_date") is None


def test_a_nul_in_a_reports_text_is_dropped() -> None:
    payload = {"id": "ab\x00c", "stat": "DELIVRD\x00", "err": "0\x00"}
    mapping = DlrMapping(
        id_path="id", status_path="stat", error_code_path="err", values={}
    )

    _, [update] = parse(payload, mapping=mapping)

    assert (update.message_id, update.raw_status, update.error_code) == (
        "abc",
        "DELIVRD",
        "0",
    )
