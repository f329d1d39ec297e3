"""providers.inbound: replies read from the providers' own documented payloads
(tests/fixtures/inbound/), automatic mapping, and keyword matching. Pure: no
database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from providers import phones
from providers.dlr import parse as parse_dlr
from providers.inbound import (
    DEFAULT_KEYWORDS,
    EIGHT_BY_EIGHT,
    InboundError,
    InboundMapping,
    KeywordAction,
    Keywords,
    Reply,
    keyword_list,
    parse,
    propose_mapping,
    shown,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NO_MAPPING = InboundMapping()


def sample(name: str):
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else dict(parse_qsl(text))


# --- the providers' own payloads ------------------------------------------------------


def test_it_reads_8x8s_inbound_webhook_without_a_mapping() -> None:
    (reply,) = parse(sample("inbound/8x8_inbound.json"), mapping=NO_MAPPING)

    assert reply == Reply(
        from_number="+6581968289",
        to_number="+4534735477",
        text="Test MO message",
        occurred_at=datetime(2016, 1, 1, 14, 34, 56, 17000, tzinfo=UTC),
        provider_message_id="9e09ac86-bd74-5465-851d-1eb5a5fdbb9a",
    )


def test_an_8x8_delivery_report_is_not_a_reply() -> None:
    report = sample("dlr/8x8_delivered.json")

    assert parse(report, mapping=EIGHT_BY_EIGHT) is None


def test_it_proposes_twilios_fields_from_its_inbound_form() -> None:
    mapping = propose_mapping(sample("inbound/twilio_inbound.txt"))

    assert mapping == InboundMapping(
        from_path="From", to_path="To", text_path="Body", id_path="MessageSid"
    )


def test_it_reads_a_twilio_reply_through_that_mapping() -> None:
    payload = sample("inbound/twilio_inbound.txt")

    (reply,) = parse(payload, mapping=propose_mapping(payload))

    assert reply == Reply(
        from_number="+6591000000",
        to_number="+6560001234",
        text="STOP",
        provider_message_id="SM3f9b2c7e1a4d4e8f9c0b6a2d5e7f1c38",
    )


def test_twilios_status_callback_is_not_a_reply_to_that_mapping() -> None:
    mapping = propose_mapping(sample("inbound/twilio_inbound.txt"))

    assert parse(sample("dlr/twilio_delivered.txt"), mapping=mapping) is None


def test_it_proposes_vonages_fields_and_reads_its_time() -> None:
    payload = sample("inbound/vonage_inbound.json")
    mapping = propose_mapping(payload)

    (reply,) = parse(payload, mapping=mapping)

    assert mapping == InboundMapping(
        from_path="msisdn",
        to_path="to",
        text_path="text",
        time_path="message-timestamp",
        id_path="messageId",
    )
    assert (reply.from_number, reply.text) == ("6591000001", "Stop")
    assert reply.occurred_at == datetime(2024, 5, 2, 10, 17, 12, tzinfo=UTC)


def test_it_reads_every_reply_of_an_infobip_callback() -> None:
    payload = sample("inbound/infobip_inbound.json")
    mapping = propose_mapping(payload)

    replies = parse(payload, mapping=mapping)

    assert mapping == InboundMapping(
        from_path="results.0.from",
        to_path="results.0.to",
        text_path="results.0.text",
        time_path="results.0.receivedAt",
        id_path="results.0.messageId",
    )
    assert [(r.from_number, r.text, r.provider_message_id) for r in replies] == [
        ("6591000002", "QUIT", "817790313235066447"),
        ("6591000003", "Thanks, see you on Saturday", "817790313235066448"),
    ]
    assert replies[1].occurred_at == datetime(2024, 5, 2, 10, 18, 40, tzinfo=UTC)


def test_a_top_level_list_of_replies_is_read_item_by_item() -> None:
    payload = [
        {"from": "+6591000004", "text": "STOP"},
        {"from": "+6591000005", "text": "START"},
    ]
    mapping = propose_mapping(payload)

    replies = parse(payload, mapping=mapping)

    assert (mapping.from_path, mapping.text_path) == ("0.from", "0.text")
    assert [(r.from_number, r.text) for r in replies] == [
        ("+6591000004", "STOP"),
        ("+6591000005", "START"),
    ]


# --- what is not a reply, or not a readable one --------------------------------------

TWILIO = InboundMapping(from_path="From", to_path="To", text_path="Body")


def test_without_a_mapping_only_8x8s_format_is_a_reply() -> None:
    assert parse(sample("inbound/twilio_inbound.txt"), mapping=NO_MAPPING) is None


def test_an_empty_text_is_still_a_reply() -> None:
    (reply,) = parse({"From": "+6591000000", "Body": ""}, mapping=TWILIO)

    assert reply.text == ""


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {"From": {"n": 1}, "Body": "STOP"},
            "“From” should hold the sender's number, not dict",
        ),
        ({"From": [], "Body": "STOP"}, "“From” should hold the sender's number, not"),
        ({"From": True, "Body": "STOP"}, "not bool"),
        ({"From": "  ", "Body": "STOP"}, "No sender's number at “From”."),
        ({"From": "+6591000000", "Body": {"t": "x"}}, "“Body” should hold the text"),
    ],
)
def test_a_reply_that_cannot_be_read_says_why(payload: dict, reason: str) -> None:
    with pytest.raises(InboundError, match=reason.replace("(", r"\(")):
        parse(payload, mapping=TWILIO)


def test_an_8x8_reply_without_its_source_is_refused() -> None:
    payload = sample("inbound/8x8_inbound.json")
    del payload["payload"]["source"]

    with pytest.raises(InboundError, match="No sender's number at “payload.source”"):
        parse(payload, mapping=NO_MAPPING)


def test_too_many_replies_in_one_callback_are_refused() -> None:
    payload = [{"from": "+6591000000", "text": "hi"}] * 1001

    with pytest.raises(InboundError, match="1,001 replies; send at most 1,000"):
        parse(payload, mapping=propose_mapping(payload))


def test_nul_characters_are_dropped_and_long_texts_cut() -> None:
    payload = {"From": "+65\x0091000000", "Body": "ST\x00OP" + "x" * 3000}

    (reply,) = parse(payload, mapping=TWILIO)

    assert reply.from_number == "+6591000000"
    assert "\x00" not in reply.text
    assert len(reply.text) == 1999  # cut at 2,000, then the NUL dropped


def test_a_number_sent_as_a_json_number_reads_as_its_digits() -> None:
    (reply,) = parse({"From": 6591000000.0, "Body": "hi"}, mapping=TWILIO)

    assert reply.from_number == "6591000000"


def test_a_clevertap_reply_event_is_a_delivery_report_event_not_a_mapped_reply() -> (
    None
):
    groups = sample("dlr/clevertap_replied.json")

    assert parse(groups, mapping=propose_mapping(groups)) is None
    (update,) = parse_dlr(groups)[1]
    assert (update.event, update.text, update.to_phone) == ("replied", "STOP", "5555")


# --- keywords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("STOP", (KeywordAction.OPT_OUT, "STOP")),
        ("stop", (KeywordAction.OPT_OUT, "STOP")),
        ("  Stop \n", (KeywordAction.OPT_OUT, "STOP")),
        ("STOP!", (KeywordAction.OPT_OUT, "STOP")),
        ("“stop.”", (KeywordAction.OPT_OUT, "STOP")),
        ("Stop all", (KeywordAction.OPT_OUT, "STOPALL")),
        ("ＳＴＯＰ", (KeywordAction.OPT_OUT, "STOP")),  # full-width letters
        ("Unsubscribe", (KeywordAction.OPT_OUT, "UNSUBSCRIBE")),
        ("end", (KeywordAction.OPT_OUT, "END")),
        ("QUIT", (KeywordAction.OPT_OUT, "QUIT")),
        ("start", (KeywordAction.OPT_IN, "START")),
        (" UNSTOP ", (KeywordAction.OPT_IN, "UNSTOP")),
        ("stop sending me these", ("", "")),
        ("stopped", ("", "")),
        ("", ("", "")),
        ("!!!", ("", "")),
    ],
)
def test_the_default_keywords_match_whatever_the_case_and_spacing(
    text: str, matched: tuple[str, str]
) -> None:
    assert DEFAULT_KEYWORDS.match(text) == matched


def test_a_senders_own_keywords_replace_the_defaults() -> None:
    keywords = Keywords.of("ARRET, Stop now", "")

    assert keywords.match("arrêt") == ("", "")  # accents are letters of their own
    assert keywords.match("Arret") == (KeywordAction.OPT_OUT, "ARRET")
    assert keywords.match("stop NOW") == (KeywordAction.OPT_OUT, "STOPNOW")
    assert keywords.match("STOP") == ("", "")
    assert keywords.match("START") == ("", "")


def test_keyword_lists_are_read_from_commas_or_lines_and_shown_in_capitals() -> None:
    words = keyword_list("stop, End\nquit,, stop ")

    assert words == ["stop", "end", "quit"]
    assert shown(words) == "STOP, END, QUIT"


# --- the numbers replies come from ----------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "e164"),
    [
        ("+6591000000", "+6591000000"),
        ("6591000000", "+6591000000"),  # Vonage's msisdn, Infobip's from
        ("006591000000", "+6591000000"),
        ("+65 9100 0000", "+6591000000"),
        ("5555", ""),  # a short code
        ("ACME", ""),
        ("+6512", ""),
        ("", ""),
    ],
)
def test_a_reported_number_reads_as_e164_when_it_is_a_valid_one(
    reported: str, e164: str
) -> None:
    assert phones.reported(reported) == e164
