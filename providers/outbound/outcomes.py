"""What became of a send: one category and a diagnosis a support person can act on.

Pure: judges a response's status, headers and body against a provider's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models

from .. import bounded_json, dlt_failures
from .redaction import redact_text

EXCERPT_CHARS = 2000


class Category(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected by provider"
    # India's DLT platform refused it: a sender, entity or template problem.
    DLT = "dlt", "Blocked by DLT (India)"
    AUTH = "auth", "Authentication failed"
    BAD_REQUEST = "bad_request", "Bad request"
    NOT_FOUND = "not_found", "Endpoint not found"
    RATE_LIMITED = "rate_limited", "Rate limited"
    SERVER_ERROR = "server_error", "Provider server error"
    BAD_RESPONSE = "bad_response", "Unreadable answer"
    REDIRECT = "redirect", "Redirect not followed"
    TIMEOUT = "timeout", "Timed out"
    DNS = "dns", "Host not found"
    TLS = "tls", "TLS failed"
    CONNECTION = "connection", "Connection failed"
    BLOCKED = "blocked", "Blocked by policy"
    # No OAuth access token could be had, so nothing reached the provider.
    TOKEN = "token", "Token endpoint failed"
    INVALID = "invalid", "Not sent: invalid input"
    # Some records of a batch were refused and the answer does not say which.
    UNCONFIRMED = "unconfirmed", "Unconfirmed: the provider may have it"
    PENDING = "pending", "Sending…"


# Worth trying again later with the same message id; everything else is permanent.
TRANSIENT = frozenset(
    {
        Category.RATE_LIMITED,
        Category.SERVER_ERROR,
        Category.TIMEOUT,
        Category.CONNECTION,
        Category.DNS,
    }
)


@dataclass(frozen=True)
class ResponseRules:
    message_id_path: str = ""
    rule: str = ""  # "", "accept_if" or "reject_if"
    rule_path: str = ""
    rule_values: tuple[str, ...] = ()
    accepted_count_path: str = ""
    record_id_path: str = ""

    @property
    def needs_json(self) -> bool:
        return bool(
            self.message_id_path
            or self.rule
            or self.accepted_count_path
            or self.record_id_path
        )


@dataclass(frozen=True)
class Outcome:
    category: str
    diagnosis: str
    status_code: int | None = None
    provider_message_id: str = ""
    response_excerpt: str = ""
    retry_after: float | None = None
    latency_ms: int = 0
    host: str = ""
    # The provider's own codes for a refusal (a response rule's value, the
    # answer's "code"), matched against the codes it marks as its own.
    refusal_codes: tuple[str, ...] = ()
    # The request went out but no answer came back (it timed out or was cut
    # off): the provider may have the message.
    unanswered: bool = False
    # The parsed answer, for reading per-record ids of a batch; never stored.
    data: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def failure(cls, category: str, diagnosis: str, **kwargs: Any) -> Outcome:
        return cls(category=category, diagnosis=diagnosis, **kwargs)

    @property
    def accepted(self) -> bool:
        return self.category == Category.ACCEPTED

    @property
    def transient(self) -> bool:
        return self.category in TRANSIENT

    def finish(self, *, latency_ms: int, secrets: list[str]) -> Outcome:
        return replace(
            self,
            latency_ms=latency_ms,
            diagnosis=redact_text(self.diagnosis, secrets),
            response_excerpt=redact_text(self.response_excerpt, secrets),
        )


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path such as messages.0.status through dicts and lists."""
    for step in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


# Where providers put their own words: 8x8 and Twilio "message", Vonage
# "error-text", Sinch "text", Infobip requestError.serviceException.text.
SAYS_KEYS = (
    "message",
    "error_description",
    "error",
    "error-text",
    "detail",
    "description",
    "text",
    "requestError",
    "serviceException",
)


def provider_says(data: Any) -> str:
    """The provider's own error text, when its JSON carries one."""
    if not isinstance(data, Mapping):
        return ""
    parts = []
    for key in SAYS_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
            break
        if isinstance(value, Mapping):
            return provider_says(value)
    code = data.get("code") or data.get("error_code")
    if code not in (None, ""):
        parts.append(f"code {code}")
    return ", ".join(parts)


def provider_codes(data: Any) -> tuple[str, ...]:
    """The error code a provider's JSON answer gives, as Twilio's 21408."""
    if not isinstance(data, Mapping):
        return ()
    code = data.get("code", data.get("error_code"))
    if code in (None, "") or isinstance(code, Mapping | list):
        return ()
    return (str(code),)


def looks_like_html(headers: Mapping[str, str], body: bytes) -> bool:
    content_type = headers.get("Content-Type", "").lower()
    start = body.lstrip()[:15].lower()
    return "text/html" in content_type or start.startswith((b"<!doctype", b"<html"))


def judge_response(
    *,
    host: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    truncated: bool,
    rules: ResponseRules,
    retry_after: float | None = None,
) -> Outcome:
    text = body.decode("utf-8", errors="replace")
    excerpt = text[:EXCERPT_CHARS] + (
        "…" if truncated or len(text) > EXCERPT_CHARS else ""
    )
    try:
        data = bounded_json.loads(text) if text.strip() and not truncated else None
    except ValueError:
        data = None
    said = provider_says(data)
    said = f" The provider says: {said}." if said else ""
    base = {
        "status_code": status,
        "response_excerpt": excerpt,
        "data": data,
        "host": host,
    }
    if 200 <= status < 300:
        return judge_success(host, status, headers, body, data, truncated, rules, base)
    if 300 <= status < 400:
        target = headers.get("Location", "another URL")
        return Outcome.failure(
            Category.REDIRECT,
            f"{status} from {host}: it redirects to {target}. Redirects are not "
            "followed; put the final URL in the endpoint.",
            **base,
        )
    category, advice = status_advice(status, retry_after)
    return Outcome.failure(
        category,
        f"{status} from {host}: {advice}{said}",
        retry_after=retry_after,
        refusal_codes=provider_codes(data),
        **base,
    )


def status_advice(status: int, retry_after: float | None) -> tuple[str, str]:
    if status in (401, 403):
        return Category.AUTH, (
            "the provider rejected the credentials — check the API key in the "
            "Authorization header (or the Basic Authentication username and password)."
        )
    if status in (404, 405, 410):
        return Category.NOT_FOUND, (
            "the endpoint was not found — check the URL, the method and values such "
            "as {subAccountId}."
        )
    if status == 429:
        wait = (
            f" asks to wait {retry_after:g} s"
            if retry_after is not None
            else " asks to slow down"
        )
        return Category.RATE_LIMITED, f"too many requests; the provider{wait}."
    if status >= 500:
        return Category.SERVER_ERROR, (
            "the provider had an internal error. Try again later; contact the "
            "provider if it persists."
        )
    return Category.BAD_REQUEST, (
        "the provider refused the request's content — check the payload fields and "
        "the recipient's number."
    )


def judge_success(host, status, headers, body, data, truncated, rules, base) -> Outcome:
    if truncated:
        return Outcome.failure(
            Category.BAD_RESPONSE,
            f"{status} from {host}, but the answer is larger than the read limit and "
            "was cut off; check that the endpoint is the provider's API.",
            **base,
        )
    # JSON served as text/html (common with PHP gateways) is still an answer.
    if data is None and looks_like_html(headers, body):
        return Outcome.failure(
            Category.BAD_RESPONSE,
            f"{status} from {host}, but the answer is an HTML page, not an API "
            "response; the endpoint may point at a website or a login page.",
            **base,
        )
    if rules.needs_json and data is None:
        what = "empty" if not body.strip() else "not JSON"
        return Outcome.failure(
            Category.BAD_RESPONSE,
            f"{status} from {host}, but the answer is {what}, so the message id "
            "and status cannot be read; check the endpoint and the response settings.",
            **base,
        )
    # Accepted as a request; read_records() says what became of each message.
    return Outcome(Category.ACCEPTED, f"Accepted by {host} ({status}).", **base)


# --- one outcome per message ----------------------------------------------------------

EACH = "0"  # in a path, the step that stands for each record of a batch answer


def per_record(path: str) -> bool:
    return EACH in path.split(".")


def at_record(path: str, index: int) -> str:
    steps = path.split(".")
    steps[steps.index(EACH)] = str(index)
    return ".".join(steps)


def read_records(
    outcome: Outcome, *, rules: ResponseRules, message_ids: Sequence[str]
) -> list[Outcome]:
    """What the answer to one request says of each message it carried, in order.

    A 2xx answer may still refuse some or all of its messages: by a status
    value (8x8's status.code REJECTED), per record of a batch (Infobip's
    messages.N.status), or only by counting (8x8's partner batch endpoint's
    acceptedCount). A batch the answer cannot tell apart is never all sent.
    """
    if not outcome.accepted:
        return [outcome] * len(message_ids)
    several = len(message_ids) > 1
    if not (
        rules.record_id_path
        or per_record(rules.rule_path)
        or per_record(rules.message_id_path)
    ):
        # Nothing in the answer speaks of one record: one verdict for them all.
        one = read_record(outcome, rules, 0, several=several)
        return check_count(outcome, rules, [one] * len(message_ids))
    positions = record_positions(outcome.data, rules, message_ids)
    found = [
        read_record(outcome, rules, position, several=several) for position in positions
    ]
    return check_count(outcome, rules, found)


def record_positions(
    data: Any, rules: ResponseRules, message_ids: Sequence[str]
) -> list[int | None]:
    """Which record of the answer speaks of each message; None for none."""
    if not rules.record_id_path:
        return list(range(len(message_ids)))
    path = rules.record_id_path
    records = records_of(data, path)
    echoed = {
        str(dig(data, at_record(path, index))): index for index in range(len(records))
    }
    return [echoed.get(message_id) for message_id in message_ids]


def records_of(data: Any, path: str) -> list:
    """The array a per-record path walks (`messages` for messages.0.id)."""
    steps = path.split(".")
    if EACH not in steps:
        return []
    before = steps[: steps.index(EACH)]
    found = dig(data, ".".join(before)) if before else data
    return found if isinstance(found, list) else []


def read_record(
    outcome: Outcome, rules: ResponseRules, position: int | None, *, several: bool
) -> Outcome:
    data, host, status = outcome.data, outcome.host, outcome.status_code
    if position is None:
        return replace(
            outcome,
            category=Category.UNCONFIRMED,
            diagnosis=f"{status} from {host}, but its answer has no record for this "
            "message, so whether it was accepted is unknown.",
        )
    if rules.rule:
        refused, codes = refusal(data, rules, position)
        if refused:
            dlt = dlt_failures.diagnosis("", refused)
            return replace(
                outcome,
                category=Category.DLT if dlt else Category.REJECTED,
                diagnosis=f"{status} from {host}, but the provider refused the "
                f"message: {dlt or refused}",
                refusal_codes=codes,
            )
    return accepted_record(outcome, rules, position, several=several)


def refusal(
    data: Any, rules: ResponseRules, position: int
) -> tuple[str, tuple[str, ...]]:
    """Why the response rule refuses this record, and the provider's codes for
    it; empty when it does not."""
    path = rules.rule_path
    if per_record(path):
        path = at_record(path, position)
    value = dig(data, path)
    listed = str(value) in rules.rule_values
    if listed != (rules.rule == "reject_if"):
        return "", ()
    parent = dig(data, path.rsplit(".", 1)[0]) if "." in path else None
    said = provider_says(parent or data)
    codes = (str(value), *provider_codes(parent or data))
    return f"{rules.rule_path} is {value!r}" + (f" ({said})." if said else "."), codes


def accepted_record(
    outcome: Outcome, rules: ResponseRules, position: int, *, several: bool
) -> Outcome:
    path = rules.message_id_path
    if per_record(path):
        path = at_record(path, position)
    elif several:
        path = ""  # one id for a whole batch names no message
    message_id = dig(outcome.data, path) if path else None
    if path and message_id in (None, "") and not several:
        return replace(
            outcome,
            category=Category.BAD_RESPONSE,
            diagnosis=f"{outcome.status_code} from {outcome.host}, but its answer has "
            f"no {rules.message_id_path}; check the provider message id path.",
        )
    found = f"; provider message id {message_id}" if message_id else ""
    return replace(
        outcome,
        diagnosis=f"Accepted by {outcome.host} ({outcome.status_code}){found}.",
        provider_message_id="" if message_id is None else str(message_id),
    )


def check_count(
    outcome: Outcome, rules: ResponseRules, found: list[Outcome]
) -> list[Outcome]:
    """Hold per-message verdicts to the answer's own count of accepted records."""
    if not rules.accepted_count_path:
        return found
    counted = dig(outcome.data, rules.accepted_count_path)
    try:
        accepted = int(counted)
    except (TypeError, ValueError):
        return [
            replace(
                o,
                category=Category.BAD_RESPONSE,
                diagnosis=f"{outcome.status_code} from {outcome.host}, but its "
                f"answer has no number at {rules.accepted_count_path}; check the "
                "accepted count field.",
            )
            for o in found
        ]
    if accepted >= sum(1 for o in found if o.accepted):
        return found
    total = len(found)
    said = provider_says(outcome.data)
    of = f"{outcome.status_code} from {outcome.host}: the provider accepted {accepted} "
    of += f"of {total} record{'s' if total > 1 else ''}" + (
        f" ({said})" if said else ""
    )
    if accepted == 0:
        category, tail = Category.REJECTED, "; nothing was sent."
    else:
        category = Category.UNCONFIRMED
        tail = (
            " and does not say which; a delivery report will settle each message. "
            "It is not retried, so nothing is sent twice."
        )
    return [
        replace(o, category=category, diagnosis=of + tail) if o.accepted else o
        for o in found
    ]
