"""JSON from outside smsbridge (callbacks, the event API, pasted payloads), read
with a limit on how deeply it nests.

Python's parser recurses once per level, so a body of nothing but `[[[[…` ends
in RecursionError, and a document just shallow enough to parse can still break
every recursive walk over it later (reprs, automatic mapping). A limit far
below the interpreter's keeps every later step safe, and names the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Real provider payloads and callbacks nest a handful of levels.
DEFAULT_MAX_DEPTH = 32


class TooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The JSON nests more than {limit} levels of arrays and objects; "
            "flatten it."
        )
        self.limit = limit


def loads(
    text: str | bytes,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """json.loads, raising TooDeep for a document nested over `max_depth`, and
    ValueError (JSONDecodeError, UnicodeDecodeError) for one that is not JSON."""
    try:
        document = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise TooDeep(max_depth) from None
    # Callbacks come by the thousand a second and most hold a few brackets:
    # fewer brackets than the limit cannot nest deeper than it.
    if brackets(text) > max_depth and depth(document) > max_depth:
        raise TooDeep(max_depth)
    return document


def brackets(text: str | bytes) -> int:
    opening = ("[", "{") if isinstance(text, str) else (b"[", b"{")
    return sum(text.count(bracket) for bracket in opening)


def depth(document: Any) -> int:
    """How many arrays and objects nest at the deepest point, without recursing."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node)
    return deepest


def declared_size(request) -> int:
    """The size a request says its body has, to refuse a body too large before
    reading it; 0 when it says nothing readable (the body's own length decides)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
