"""Keys typed in the clear where a secret variable belongs.

A guide says `Authorization: Bearer <API_KEY>`; users paste their real key there,
in a row that is not marked Secret, so it would be shown to everyone who opens
the provider. These pure functions find such values and propose the fix: a
provider variable marked Secret, referenced as `Bearer {apiKey}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import bounded_json
from ..outbound.rendering import TOKEN
from .guide_text import ANGLE, SPACED_BRACES

AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
# Names whose value is a credential, as header, URL parameter or payload field.
CREDENTIAL_NAME = re.compile(
    r"api[-_]?key|apikey|access[-_]?key|secret|token|passw(or)?d|\bpwd\b|^key$"
    r"|^pass$",
    re.IGNORECASE,
)
# Shorter values are flags or types ("token_type": "bearer" is not a key either).
MIN_LENGTH = 6
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9-]*) +(\S.*)\Z")
NOT_KEYS = frozenset({"bearer", "basic", "true", "false", "none", "null"})


@dataclass(frozen=True)
class CredentialFix:
    """A literal credential and the secret variable it should move to."""

    field: str  # "headers", "url_parameters" or "payload"
    name: str  # the header, parameter or payload key
    literal: str  # the value as typed
    secret: str  # the part that moves into the variable
    variable: str  # the proposed variable, e.g. apiKey
    template: str  # what replaces the value, e.g. "Bearer {apiKey}"

    def public(self) -> dict[str, str]:
        """What the page may know of the fix: never the value itself."""
        return {
            "field": self.field,
            "name": self.name,
            "variable": self.variable,
            "template": self.template,
        }


def split_credential(name: str, value: str) -> tuple[str, str] | None:
    """(prefix, key) when `value` is a credential typed in the clear, else None.

    Values with a placeholder ({apiKey}, $$To) or a guide placeholder (<API_KEY>,
    reported on its own) are not credentials.
    """
    value = value.strip()
    if TOKEN.search(value) or ANGLE.search(value) or SPACED_BRACES.search(value):
        return None
    is_auth = name.lower() in AUTH_HEADERS
    if not (is_auth or CREDENTIAL_NAME.search(name)):
        return None
    scheme = SCHEME.match(value) if is_auth else None
    prefix, key = (scheme[1] + " ", scheme[2]) if scheme else ("", value)
    if len(key) < MIN_LENGTH or key.lower() in NOT_KEYS:
        return None
    return prefix, key


def variable_for(name: str, taken: set[str]) -> str:
    """A variable name for the key, unused by the provider's variables."""
    lowered = name.lower()
    base = "apiKey"
    if "pass" in lowered or "pwd" in lowered:
        base = "password"
    elif "secret" in lowered:
        base = "apiSecret"
    elif "token" in lowered:
        base = "apiToken"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}{number}", number + 1
    taken.add(candidate)
    return candidate


def propose(
    field: str, name: str, value: str, taken: set[str], *, quote: str = ""
) -> CredentialFix | None:
    found = split_credential(name, value)
    if found is None:
        return None
    prefix, key = found
    variable = variable_for(name, taken)
    template = f"{quote}{prefix}{{{variable}}}{quote}"
    return CredentialFix(field, name, value.strip(), key, variable, template)


def in_rows(
    field: str, rows: Iterable[Any], taken: set[str]
) -> list[tuple[int, CredentialFix]]:
    """(row number, fix) for each row holding a credential not marked Secret."""
    found = []
    for number, row in enumerate(rows, start=1):
        fix = None if row.secret else propose(field, row.name, row.value, taken)
        if fix:
            found.append((number, fix))
    return found


def in_payload(payload: str, body_type: str, taken: set[str]) -> list[CredentialFix]:
    pairs = form_pairs(payload) if body_type == "form" else json_pairs(payload)
    fixes = (propose("payload", key, value, taken) for key, value in pairs)
    return [fix for fix in fixes if fix]


def json_pairs(payload: str) -> list[tuple[str, str]]:
    try:
        document = bounded_json.loads(payload)
    except ValueError:
        return []  # reported by the payload's own checks
    return list(_string_fields(document))


def _string_fields(node: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(node, dict | list):
        return
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str) and isinstance(key, str):
            yield key, value
        else:
            yield from _string_fields(value)


def form_pairs(payload: str) -> list[tuple[str, str]]:
    pairs = (line.partition("=") for line in payload.splitlines())
    return [(key.strip(), value.strip()) for key, sep, value in pairs if sep]


def withhold_in_payload(payload: str, fix: CredentialFix, body_type: str) -> str:
    """The payload with the typed key replaced by its variable, for re-display."""
    if body_type == "form":
        pattern = re.compile(
            rf"^(\s*{re.escape(fix.name)}\s*=\s*){re.escape(fix.literal)}\s*$",
            re.MULTILINE,
        )
        return pattern.sub(lambda m: m[1] + fix.template, payload)
    encoded = json.dumps(fix.literal)
    return payload.replace(encoded, json.dumps(fix.template))
