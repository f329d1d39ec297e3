"""What became of a send: one category and a diagnosis a support person can act on.

Pure: judges a response's status, headers and body against a provider's rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models

from .redaction import redact_text

EXCERPT_CHARS = 2000


class Category(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected by provider"
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
    INVALID = "invalid", "Not sent: invalid input"
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


def record_ids(data: Any, path: str, count: int) -> list[str]:
    """Per-record provider ids of a batch answer: the path's first index counts up."""
    steps = path.split(".")
    if "0" not in steps:
        return [""] * count
    at = steps.index("0")
    found = []
    for index in range(count):
        value = dig(data, ".".join([*steps[:at], str(index), *steps[at + 1 :]]))
        found.append("" if value is None else str(value))
    return found


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


def provider_says(data: Any) -> str:
    """The provider's own error text, when its JSON carries one."""
    if not isinstance(data, Mapping):
        return ""
    parts = []
    for key in ("message", "error_description", "error", "detail", "description"):
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
        data = json.loads(text) if text.strip() and not truncated else None
    except ValueError:
        data = None
    said = provider_says(data)
    said = f" The provider says: {said}." if said else ""
    base = {"status_code": status, "response_excerpt": excerpt, "data": data}
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
    return apply_rules(host, status, data, rules, base)


def apply_rules(host, status, data, rules, base) -> Outcome:
    if rules.rule:
        value = dig(data, rules.rule_path)
        listed = str(value) in rules.rule_values
        refused = listed if rules.rule == "reject_if" else not listed
        if refused:
            said = provider_says(dig(data, rules.rule_path.rsplit(".", 1)[0]) or data)
            return Outcome.failure(
                Category.REJECTED,
                f"{status} from {host}, but the provider refused the message: "
                f"{rules.rule_path} is {value!r}" + (f" ({said})." if said else "."),
                **base,
            )
    message_id = dig(data, rules.message_id_path) if rules.message_id_path else None
    if rules.message_id_path and message_id in (None, ""):
        return Outcome.failure(
            Category.BAD_RESPONSE,
            f"{status} from {host}, but its answer has no {rules.message_id_path}; "
            "check the provider message id path.",
            **base,
        )
    found = f"; provider message id {message_id}" if message_id else ""
    return Outcome(
        Category.ACCEPTED,
        f"Accepted by {host} ({status}){found}.",
        provider_message_id=str(message_id or ""),
        **base,
    )
