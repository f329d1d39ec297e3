"""Inbound replies (MO): from a provider's callback to the replies it carries,
and what a reply's keyword asks for.

Pure functions over plain data, like dlr.py. 8x8's inbound webhook is read as
8x8 documents it; any other provider's through its inbound mapping (where the
sender's number, our number, the text, the time and the provider's id are),
which `propose_mapping` suggests from a pasted sample. A list of replies in one
callback (Infobip's `results`) is read reply by reply.

Keywords match the whole text, whatever its letter case, its spaces and the
punctuation around it: "Stop", " STOP! " and "stop all" (as STOPALL) all count.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from django.db import models

from .dlr import TIME_KEYS, DlrMapping, find_path, leaf_paths, parse_time
from .outbound.outcomes import dig

# The Provider fields saying how its inbound replies are read, in the order the
# setup screens show them.
INBOUND_PATH_FIELDS = (
    "inbound_from_path",
    "inbound_to_path",
    "inbound_text_path",
    "inbound_time_path",
    "inbound_id_path",
)
INBOUND_FIELDS = ("inbound_sample", *INBOUND_PATH_FIELDS)
# A reply longer than this is kept cut short: CleverTap trims to 512 characters,
# Twilio sends at most 1,600.
MAX_TEXT = 2000
# More replies than this in one callback are refused rather than half-kept.
MAX_REPLIES = 1000

DEFAULT_OPT_OUT = "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT"
DEFAULT_OPT_IN = "START, UNSTOP"
MAX_KEYWORD = 30


class InboundError(ValueError):
    """A reply that cannot be read; the message is the 400 answer's reason."""


class KeywordAction(models.TextChoices):
    OPT_OUT = "opt_out", "Opted out"
    OPT_IN = "opt_in", "Opted back in"


@dataclass(frozen=True)
class Reply:
    from_number: str
    to_number: str = ""
    text: str = ""
    occurred_at: datetime | None = None
    provider_message_id: str = ""


@dataclass(frozen=True)
class InboundMapping:
    from_path: str = ""
    to_path: str = ""
    text_path: str = ""
    time_path: str = ""
    id_path: str = ""

    @property
    def usable(self) -> bool:
        return bool(self.from_path and self.text_path)

    @property
    def paths(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def carried_by(self, payload: Any) -> bool:
        """Whether the payload is a reply as this mapping reads one: a sender's
        number and a text (which may be empty) where the mapping says."""
        return dig(payload, self.from_path) is not None and (
            dig(payload, self.text_path) is not None
        )


# 8x8's "Inbound SMS" webhook (developer.8x8.com/connect/docs/inbound-sms).
EIGHT_BY_EIGHT = InboundMapping(
    from_path="payload.source",
    to_path="payload.destination",
    text_path="payload.body",
    time_path="payload.timestamp",
    id_path="payload.umid",
)


def detect_format(payload: Any) -> str:
    """Which format a reply is in: 8x8's inbound webhook, or "mapped"."""
    if (
        isinstance(payload, Mapping)
        and payload.get("namespace") == "SMS"
        and payload.get("eventType") == "inbound_message_received"
    ):
        return "8x8"
    return "mapped"


def parse(
    payload: Any, *, mapping: InboundMapping, reports: DlrMapping | None = None
) -> list[Reply] | None:
    """The replies a callback carries, or None when it is not a reply as far as
    8x8's format and the provider's mapping tell (so it may be a delivery
    report). InboundError for a reply that cannot be read.

    Given the provider's delivery-report mapping (`reports`, on the callback
    URL, which takes both), a payload that carries a status that mapping knows
    is a report, even with a number and a text: some providers' reports echo
    the message they report on."""
    if detect_format(payload) == "8x8":
        mapping = EIGHT_BY_EIGHT
    elif not is_reply(payload, mapping, reports):
        return None
    readings = per_reply(payload, mapping)
    if len(readings) > MAX_REPLIES:
        raise InboundError(
            f"The callback carries {len(readings):,} replies; send at most "
            f"{MAX_REPLIES:,} at a time."
        )
    return [read(payload, reading) for reading in readings]


def is_reply(payload: Any, mapping: InboundMapping, reports: DlrMapping | None) -> bool:
    if not (mapping.usable and mapping.carried_by(payload)):
        return False
    return not reports_on_delivery(payload, reports)


def reports_on_delivery(payload: Any, reports: DlrMapping | None) -> bool:
    if reports is None or not reports.usable:
        return False
    record = payload[0] if isinstance(payload, list) and payload else payload
    status = dig(record, reports.status_path)
    return status is not None and bool(reports.state_for(str(status)))


def per_reply(payload: Any, mapping: InboundMapping) -> list[InboundMapping]:
    """One mapping per reply the payload carries. Paths through the first item
    of a list (results.0.from) read every item of it (results.1.from, ...)."""
    steps = mapping.from_path.split(".")
    others = mapping.text_path.split(".")
    for index, step in enumerate(steps):
        if step != "0" or others[: index + 1] != steps[: index + 1]:
            continue
        head = ".".join(steps[:index])
        items = dig(payload, head) if head else payload
        if isinstance(items, list):
            return [
                at(mapping, f"{head}.0." if head else "0.", i)
                for i in range(len(items))
            ]
    return [mapping]


def at(mapping: InboundMapping, prefix: str, index: int) -> InboundMapping:
    """The mapping read at item `index` of the list that `prefix` ends in."""
    moved = prefix[:-2] + f"{index}."
    return InboundMapping(
        **{
            name: moved + path[len(prefix) :] if path.startswith(prefix) else path
            for name, path in mapping.paths.items()
        }
    )


def read(payload: Any, mapping: InboundMapping) -> Reply:
    sender = value_at(payload, mapping.from_path, what="the sender's number").strip()
    if not sender:
        raise InboundError(f"No sender's number at “{mapping.from_path}”.")
    text = value_at(payload, mapping.text_path, what="the text")
    when = value_at(payload, mapping.time_path, what="the time").strip()
    reply = Reply(
        from_number=sender,
        to_number=value_at(payload, mapping.to_path, what="our number").strip(),
        text=text[:MAX_TEXT],
        occurred_at=parse_time(when or None, key=mapping.time_path),
        provider_message_id=value_at(payload, mapping.id_path, what="its id").strip(),
    )
    return without_nul(reply)


def value_at(payload: Any, path: str, *, what: str) -> str:
    """The value at `path` as text; "" when the path is empty or leads nowhere."""
    value = dig(payload, path) if path else None
    if value is None:
        return ""
    if isinstance(value, Mapping | list | bool):
        raise InboundError(
            f"“{path}” should hold {what}, not {type(value).__name__} {value!r:.40}."
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number sent as a JSON number: 6591234567.0
    return str(value)


def without_nul(reply: Reply) -> Reply:
    """PostgreSQL cannot store NUL in text: drop it, as dlr.without_nul does."""
    found = {
        name: value.replace("\x00", "")
        for name in ("from_number", "to_number", "text", "provider_message_id")
        if "\x00" in (value := getattr(reply, name))
    }
    return replace(reply, **found) if found else reply


# --- keywords -------------------------------------------------------------------------

# Around a keyword; inside one they would make it another word.
PUNCTUATION = ".,;:!?¡¿'\"‘’“”«»()[]-_*~"


def normalised(text: str) -> str:
    """What a keyword match compares: compatibility forms folded (full-width
    letters), spaces removed, surrounding punctuation dropped, case folded."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(folded.split()).strip(PUNCTUATION).casefold()


def keyword_list(text: str) -> list[str]:
    """The keywords of a comma- or line-separated list, as they are matched."""
    words = (normalised(part) for line in text.splitlines() for part in line.split(","))
    return list(dict.fromkeys(word for word in words if word))


def shown(words: Iterable[str]) -> str:
    """A keyword list as it is stored and shown: STOP, END."""
    return ", ".join(word.upper() for word in words)


@dataclass(frozen=True)
class Keywords:
    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def of(cls, opt_out: str, opt_in: str) -> Keywords:
        return cls(frozenset(keyword_list(opt_out)), frozenset(keyword_list(opt_in)))

    def match(self, text: str) -> tuple[str, str]:
        """(action, keyword) for a reply's text; ("", "") when it is no keyword."""
        word = normalised(text)
        if word in self.opt_out:
            return KeywordAction.OPT_OUT, word.upper()
        if word in self.opt_in:
            return KeywordAction.OPT_IN, word.upper()
        return "", ""


DEFAULT_KEYWORDS = Keywords.of(DEFAULT_OPT_OUT, DEFAULT_OPT_IN)


# --- automatic mapping ----------------------------------------------------------------

TEXT_KEYS = (
    "text",
    "body",
    "message",
    "content",
    "incomingText",
    "messageText",
    "message_text",
    "msg",
    "sms",
)
FROM_KEYS = (
    "from",
    "msisdn",
    "source",
    "sender",
    "originator",
    "from_number",
    "fromNumber",
    "mobile",
    "phone",
    "src",
)
TO_KEYS = (
    "to",
    "destination",
    "toPhone",
    "recipient",
    "to_number",
    "toNumber",
    "receiver",
    "shortcode",
    "short_code",
    "dest",
)
REPLY_ID_KEYS = (
    "MessageSid",
    "messageId",
    "message_id",
    "MessageUUID",
    "message_uuid",
    "umid",
    "moMsgId",
    "id",
    "sid",
    "uuid",
)
REPLY_TIME_KEYS = ("receivedAt", "received_at", "message-timestamp", *TIME_KEYS)


def propose_mapping(sample: Any) -> InboundMapping:
    """Suggest a mapping from a sample reply, for the operator to review. Paths
    are of the whole sample, so a list's replies read as 0.from, results.0.from."""
    leaves = list(leaf_paths(sample))
    taken: set[str] = set()
    chosen = {}
    for name, keys in (
        ("text_path", TEXT_KEYS),
        ("from_path", FROM_KEYS),
        ("to_path", TO_KEYS),
        ("id_path", REPLY_ID_KEYS),
        ("time_path", REPLY_TIME_KEYS),
    ):
        chosen[name] = find_path(leaves, keys, taken)
        taken.add(chosen[name])
    return InboundMapping(**chosen)
