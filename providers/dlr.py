"""Delivery reports: from a provider's callback to normalised status updates.

Pure functions over plain data. Three shapes are understood: 8x8's native
webhook, CleverTap's event groups, and anything else through a per-provider
mapping (field paths plus a value table), which `propose_mapping` can suggest
from a pasted sample.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from django.db import models

from .outbound.outcomes import dig

# The Provider fields saying how its delivery reports are checked and read, in
# the order the setup screens show them; the callback URL loads these and the
# token fields alone.
DLR_FIELDS = (
    "dlr_credentials",
    "dlr_sample",
    "dlr_id_path",
    "dlr_provider_id_path",
    "dlr_status_path",
    "dlr_error_code_path",
    "dlr_description_path",
    "dlr_timestamp_path",
    "dlr_status_values",
)


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


# Later states win; delivered and failed are both final.
RANK = {
    "": 0,
    DeliveryState.QUEUED: 1,
    DeliveryState.SENT: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.FAILED: 3,
}

EIGHT_BY_EIGHT_STATES = {
    "queued": DeliveryState.QUEUED,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "error": DeliveryState.FAILED,
}
CLEVERTAP_EVENTS = {
    "delivered": DeliveryState.DELIVERED,
    "failed": DeliveryState.FAILED,
}

# Status words providers commonly use, for automatic mapping (lower case).
COMMON_VALUES = {
    DeliveryState.DELIVERED: (
        "delivered",
        "delivrd",
        "delivered_to_handset",
        "delivered_to_recipient",
        "success",
        "read",
        "d",
    ),
    DeliveryState.FAILED: (
        "failed",
        "undelivered",
        "undeliv",
        "undeliverable",
        "rejected",
        "rejectd",
        "expired",
        "deleted",
        "error",
        "blocked",
        "f",
    ),
    DeliveryState.SENT: (
        "sent",
        "enroute",
        "submitted",
        "acceptd",
        "sent_to_operator",
        "s",
    ),
    DeliveryState.QUEUED: (
        "queued",
        "accepted",
        "pending",
        "buffered",
        "scheduled",
        "q",
    ),
}
ID_KEYS = (
    "meta",
    "mid",
    "clientMessageId",
    "client_message_id",
    "message_id",
    "messageId",
    "msgId",
    "msg_id",
    "client-ref",
    "client_ref",
    "clientRef",
    "reference",
    "ref",
    "moengageMsgId",
    "callbackData",
    "requestId",
    "request_id",
    "uuid",
    "id",
)
PROVIDER_ID_KEYS = (
    "umid",
    "sid",
    "MessageSid",
    "message_uuid",
    "message-id",
    "messageUuid",
)
STATUS_KEYS = (
    "state",
    "status",
    "stat",
    "event",
    "deliveryStatus",
    "delivery_status",
    "MessageStatus",
    "dlr_status",
    "groupName",
    "report",
)
CODE_KEYS = ("errorCode", "error_code", "err", "ErrorCode", "code", "errCode")
DESCRIPTION_KEYS = (
    "errorMessage",
    "error_message",
    "description",
    "desc",
    "error_description",
    "reason",
    "detail",
)
TIME_KEYS = ("timestamp", "ts", "time", "date", "done_date", "doneDate", "updated_at")


class DlrError(ValueError):
    """A callback that cannot be read; the message is the 400 answer's reason."""


@dataclass(frozen=True)
class StatusUpdate:
    message_id: str = ""
    provider_message_id: str = ""
    state: str = ""
    error_code: str = ""
    description: str = ""
    occurred_at: datetime | None = None
    raw_status: str = ""
    event: str = "status"  # or "replied" / "clicked"
    text: str = ""  # the reply's text for "replied"
    to_phone: str = ""  # the number a "replied" reply was sent to


@dataclass(frozen=True)
class DlrMapping:
    id_path: str = ""
    provider_id_path: str = ""
    status_path: str = ""
    error_code_path: str = ""
    description_path: str = ""
    timestamp_path: str = ""
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return bool((self.id_path or self.provider_id_path) and self.status_path)

    def state_for(self, raw: str) -> str:
        wanted = raw.strip().lower()
        table = {k.strip().lower(): v for k, v in self.values.items()}
        return table.get(wanted, "")


def detect_format(payload: Any) -> str:
    if (
        isinstance(payload, Mapping)
        and payload.get("namespace") == "SMS"
        and (payload.get("eventType") == "outbound_message_status_changed")
    ):
        return "8x8"
    if (
        isinstance(payload, list)
        and payload
        and all(
            isinstance(g, Mapping) and "event" in g and isinstance(g.get("data"), list)
            for g in payload
        )
    ):
        return "clevertap"
    return "mapped"


def parse(
    payload: Any, *, mapping: DlrMapping | None = None
) -> tuple[str, list[StatusUpdate]]:
    """The format recognised and the updates the callback carries."""
    kind = detect_format(payload)
    return kind, [without_nul(u) for u in updates_of(kind, payload, mapping)]


def updates_of(
    kind: str, payload: Any, mapping: DlrMapping | None
) -> list[StatusUpdate]:
    if kind == "8x8":
        return [parse_8x8(payload)]
    if kind == "clevertap":
        return list(parse_clevertap(payload))
    if mapping is None or not mapping.usable:
        raise DlrError(
            "Unrecognised delivery report: it is neither 8x8's nor CleverTap's format, "
            "and this provider has no delivery report mapping."
        )
    records = payload if isinstance(payload, list) else [payload]
    return [parse_mapped(record, mapping) for record in records]


TEXT_FIELDS = [f.name for f in fields(StatusUpdate) if f.type == "str"]


def without_nul(update: StatusUpdate) -> StatusUpdate:
    """PostgreSQL cannot store NUL in text, and a JSON \\u0000 or a form's %00
    puts one there: drop it, so the report is applied like any other."""
    found = {
        name: value.replace("\x00", "")
        for name in TEXT_FIELDS
        if "\x00" in (value := getattr(update, name))
    }
    return replace(update, **found) if found else update


def parse_8x8(payload: Mapping) -> StatusUpdate:
    body = payload.get("payload")
    if not isinstance(body, Mapping) or not isinstance(body.get("status"), Mapping):
        raise DlrError("8x8 delivery report without payload.status.")
    status = body["status"]
    raw = str(status.get("state", ""))
    code = status.get("errorCode")
    return StatusUpdate(
        message_id=str(body.get("clientMessageId") or ""),
        provider_message_id=str(body.get("umid") or ""),
        state=EIGHT_BY_EIGHT_STATES.get(raw.lower(), ""),
        error_code="" if code in (None, "", 0) else str(code),
        description=str(status.get("errorMessage") or status.get("detail") or ""),
        occurred_at=parse_time(status.get("timestamp")),
        raw_status=raw,
    )


def parse_clevertap(groups: list) -> Iterator[StatusUpdate]:
    for group in groups:
        event = str(group.get("event", ""))
        for item in group["data"]:
            if not isinstance(item, Mapping) or not item.get("meta"):
                raise DlrError(
                    f"CleverTap “{event}” record without meta (the message id)."
                )
            yield StatusUpdate(
                message_id=str(item["meta"]),
                state=CLEVERTAP_EVENTS.get(event, ""),
                error_code=str(item.get("code") or ""),
                description=str(item.get("description") or ""),
                occurred_at=parse_time(item.get("ts")),
                raw_status=event,
                event=event if event in ("replied", "clicked") else "status",
                text=str(item.get("incomingText") or "")[:512],
                to_phone=str(item.get("toPhone") or "")[:40],
            )


def parse_mapped(record: Any, mapping: DlrMapping) -> StatusUpdate:
    def read(path: str) -> str:
        value = dig(record, path) if path else None
        return "" if value is None else str(value)

    message_id, provider_id = read(mapping.id_path), read(mapping.provider_id_path)
    if not (message_id or provider_id):
        raise DlrError(
            f"No message id at “{mapping.id_path or mapping.provider_id_path}”."
        )
    raw = read(mapping.status_path)
    return StatusUpdate(
        message_id=message_id,
        provider_message_id=provider_id,
        state=mapping.state_for(raw),
        error_code=read(mapping.error_code_path),
        description=read(mapping.description_path),
        occurred_at=parse_time(
            read(mapping.timestamp_path) or None, key=mapping.timestamp_path
        ),
        raw_status=raw,
    )


# SMPP receipts write dates as YYMMDDhhmm[ss], which would pass for epoch seconds.
SMPP_DATE_KEYS = ("done_date", "donedate", "submit_date", "submitdate")


# Reports speak of messages sent now. A time outside these years is a
# provider's bug or a probe (1e20, -1, NaN), read as "no usable time" rather
# than stored as a date no one could mean.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def parse_time(value: Any, *, key: str = "") -> datetime | None:
    """The moment a report speaks of, or None when it gives no usable time."""
    if value in (None, "") or isinstance(value, bool):
        return None
    if key.rsplit(".", 1)[-1].lower().replace("-", "_") in SMPP_DATE_KEYS:
        moment = parse_smpp_date(str(value))
    else:
        number = as_number(value)
        moment = from_epoch(number) if number is not None else from_iso(str(value))
    return moment if moment is not None and EARLIEST <= moment < LATEST else None


def as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a huge int
        return None


def from_epoch(number: float) -> datetime | None:
    # Epoch seconds, or milliseconds from providers that send those.
    seconds = number / 1000 if number > 1e11 else number
    if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():  # NaN fails too
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def from_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_smpp_date(value: str) -> datetime | None:
    layout = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(value))
    if layout is None or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, layout).replace(tzinfo=UTC)
    except ValueError:
        return None


# --- automatic mapping --------------------------------------------------------------


def leaf_paths(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from leaf_paths(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        if data:
            yield from leaf_paths(data[0], f"{prefix}0.")
    else:
        yield prefix.rstrip("."), data


def find_path(
    leaves: list[tuple[str, Any]], keys: tuple[str, ...], taken: set[str]
) -> str:
    """The first leaf whose last segment is one of keys, in the keys' order."""
    for key in keys:
        for path, _ in leaves:
            if path not in taken and path.rsplit(".", 1)[-1].lower() == key.lower():
                return path
    return ""


def propose_mapping(sample: Any) -> DlrMapping:
    """Suggest a mapping from a sample callback, for the operator to review."""
    record = sample[0] if isinstance(sample, list) and sample else sample
    leaves = list(leaf_paths(record))
    taken: set[str] = set()
    chosen = {}
    for name, keys in (
        ("status_path", STATUS_KEYS),
        ("provider_id_path", PROVIDER_ID_KEYS),
        ("id_path", ID_KEYS),
        ("error_code_path", CODE_KEYS),
        ("description_path", DESCRIPTION_KEYS),
        ("timestamp_path", TIME_KEYS),
    ):
        chosen[name] = find_path(leaves, keys, taken)
        taken.add(chosen[name])
    values = {word: state for state, words in COMMON_VALUES.items() for word in words}
    return DlrMapping(**chosen, values=values)


# --- which field finds the message ------------------------------------------------

OUR_ID = "$$MessageID"


def correlation_note(
    kind: str, *, payload: str | None = None, message_id_path: str | None = None
) -> str:
    """For a callback in a format read without a mapping: which of its fields
    finds the message, and, when the provider's settings are given, whether the
    provider is set up to capture that id."""
    if kind == "8x8":
        note = (
            "8x8 reports carry umid (8x8's id) and clientMessageId (yours, when the "
            f"payload sends {OUR_ID} as clientMessageId)."
        )
        return note + eight_by_eight_check(payload, message_id_path)
    if kind == "clevertap":
        note = (
            "CleverTap reports carry meta, the id you sent: the payload must send "
            f"{OUR_ID} (as 8x8's partner endpoint's mid)."
        )
        return note + clevertap_check(payload)
    return ""


def eight_by_eight_check(payload: str | None, message_id_path: str | None) -> str:
    if payload is None:
        return ""
    if OUR_ID in payload:
        return f" This payload sends {OUR_ID}, so reports find their message by it."
    if message_id_path:
        return (
            f" 8x8's id is read from its answers at {message_id_path}, so reports "
            "find their message by umid."
        )
    return (
        " Warning: this provider captures neither — set the provider message id "
        f"path to umid under Response handling, or send {OUR_ID} as "
        "clientMessageId in the payload; until then its reports match no message."
    )


def clevertap_check(payload: str | None) -> str:
    if payload is None or OUR_ID in payload:
        return ""
    return (
        f" Warning: this payload does not send {OUR_ID}, so its reports match no "
        "message."
    )
