"""Campaign text with audience columns: $$first_name and friends."""

from __future__ import annotations

import re
from collections.abc import Mapping

FIELD = re.compile(r"\$\$([A-Za-z_][A-Za-z0-9_]*)")
BUILT_IN = frozenset({"To"})


def fields_in(template: str) -> set[str]:
    return {name for name in FIELD.findall(template) if name not in BUILT_IN}


def missing_fields(template: str, available: set[str]) -> list[str]:
    return sorted(fields_in(template) - available)


def personalise(template: str, *, to: str, fields: Mapping[str, str]) -> str:
    """One pass, so a value that itself contains $$name is never expanded."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        return to if name == "To" else str(fields.get(name, match[0]))

    return FIELD.sub(value, template)
