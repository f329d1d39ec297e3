"""Which field of a provider's answer is its message id.

A delivery report that carries only the provider's own id (8x8's umid) finds
its message through `provider_message_id`, which is read from the answer at the
provider's message id path. Users who set a provider up by hand rarely know to
fill that path in, so a test's stored answer is searched for a likely id and the
path offered, or set, for them.

Pure: plain data in, plain data out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import bounded_json
from ..outbound.outcomes import dig

# In the order they are tried: a provider's own name for its id before the
# generic `id`, which some answers also use for an account or a request.
LIKELY_ID_PATHS = (
    "umid",
    "messageId",
    "message_id",
    "message_uuid",
    "message_uuid.0",
    "sid",
    "messages.0.umid",
    "messages.0.messageId",
    "messages.0.message_id",
    "messages.0.message-id",
    "messages.0.id",
    "data.messageId",
    "data.message_id",
    "data.id",
    "id",
)


@dataclass(frozen=True)
class Proposal:
    """A path of the answer and the provider message id found there."""

    path: str
    value: str


def read_answer(excerpt: str) -> Any:
    """A stored answer as JSON; None when it is not JSON (or was cut short)."""
    try:
        return bounded_json.loads(excerpt)
    except ValueError:
        return None


def id_at(answer: Any, path: str) -> str:
    """The id at `path`, when it is a non-empty string or number; else ""."""
    value = dig(answer, path) if path else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()


def propose(
    excerpt: str, *, paths: tuple[str, ...] = LIKELY_ID_PATHS
) -> Proposal | None:
    """The first of `paths` under which the stored answer holds an id."""
    answer = read_answer(excerpt)
    for path in paths:
        value = id_at(answer, path)
        if value:
            return Proposal(path=path, value=value)
    return None


def is_likely_path(path: str) -> bool:
    """Only paths from the list are offered, so only those are accepted back."""
    return path in LIKELY_ID_PATHS


def captures_our_id(payload: str) -> bool:
    """Whether the request template sends smsbridge's id for reports to echo."""
    return "$$MessageID" in payload


def unmatched_reason(
    *, message_id_path: str, payload: str, proposal: Proposal | None
) -> str:
    """Why a delivery report for this provider found no message, in the
    user's words, with the setting that fixes it."""
    if message_id_path:
        if captures_our_id(payload):
            return (
                "the ids it names are not ones smsbridge sent or read from the "
                f"provider's answers at {message_id_path}; check that the callback "
                "URL belongs to this provider only."
            )
        return (
            f"its id matches no answer read at {message_id_path}; check the provider "
            "message id path against the provider's answer."
        )
    fix = f" (Use {proposal.path} below)" if proposal else ""
    return (
        "this provider's answers are not read for a message id — set the provider "
        f"message id path{fix}."
    )
