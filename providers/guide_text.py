"""Text pasted from a provider's setup guide, read leniently before it is parsed.

Guides show values to replace as `<API_KEY>` or `<Your Sender ID>`, and their
sample payloads carry `//` comments. A JSON parser stops at the first of these,
which would make the user fix them one save at a time; this scan finds every one
of them, with its line, in one pass. Pure functions over strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rendering import TOKEN

ANGLE = re.compile(r"<([^<>\n]{1,80})>")
# `{Api Key}`: a guide's placeholder in braces, which no variable name can match.
SPACED_BRACES = re.compile(r"\{([A-Za-z][^{}\n]*\s[^{}\n]*)\}")
# Words that mark `<...>` inside a string as a guide placeholder rather than
# message text such as "Reply <STOP> to opt out".
GUIDE_WORDS = re.compile(
    r"api|key|token|secret|password|sender|source|number|callback|url|account|"
    r"your|here|insert|enter|replace|\bid\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Suggestion:
    use: str  # what to write instead, e.g. "{sender_id}"
    note: str = ""  # where its value goes


@dataclass(frozen=True)
class Finding:
    line: int
    column: int
    code: str
    message: str


@dataclass(frozen=True)
class Scan:
    findings: tuple[Finding, ...]
    # The text with every finding blanked out at the same positions, so that a
    # JSON parse of it reports the remaining errors at their true line and column.
    repaired: str


def suggestion_for(placeholder: str) -> Suggestion:
    """What to use in place of a guide placeholder such as `API_KEY`."""
    words = placeholder.lower().replace("_", " ").replace("-", " ")
    if words.startswith(("http://", "https://")):
        return Suggestion(placeholder, "remove the < and > around the URL")
    if any(w in words for w in ("callback", "delivery report", "dlr", "webhook")):
        return Suggestion("{callback_url}", "smsbridge fills in this provider's URL")
    if any(w in words for w in ("sender", "source", "virtual number", "originator")):
        return Suggestion(
            "{sender_id}", "enter the sender ID in Sender ID / Virtual Number"
        )
    if any(w in words for w in ("key", "token", "secret", "password", "auth")):
        return Suggestion(
            "{apiKey}",
            "add a provider variable apiKey holding the key, marked Secret",
        )
    name = variable_name(placeholder)
    return Suggestion(
        "{" + name + "}", f"add a provider variable {name} holding the value"
    )


def variable_name(text: str) -> str:
    """`Subaccount ID` -> `subaccountId`: a provider variable name for a label."""
    words = re.findall(r"[A-Za-z0-9]+", text) or ["value"]
    name = words[0].lower() + "".join(w.capitalize() for w in words[1:])
    return name if name[0].isalpha() else "v" + name


def placeholder_message(
    placeholder: str, *, key: str = "", quoted: bool, braces: str = "<>"
) -> str:
    shown = braces[0] + placeholder + braces[1]
    hint = suggestion_for(placeholder)
    if hint.use == placeholder:  # a URL in angle brackets
        return f"{shown} is in angle brackets: {hint.note}."
    use = f'"{key}": "{hint.use}"' if key else f'"{hint.use}"'
    if quoted:
        use = hint.use
    return (
        f"{shown} is a placeholder from the provider's guide, not a value: "
        f"write {use} instead ({hint.note})."
    )


def scan_value(text: str) -> list[str]:
    """Guide placeholders in a one-line value (endpoint, header, URL parameter)."""
    found = [
        placeholder_message(m[1], quoted=True)
        for m in ANGLE.finditer(text)
        if GUIDE_WORDS.search(m[1]) or m[1].startswith("http")
    ]
    found += [
        placeholder_message(m[1], quoted=True, braces="{}")
        for m in SPACED_BRACES.finditer(text)
    ]
    return found


def scan_json(text: str) -> Scan:
    """Every comment and guide placeholder in a JSON payload, quoted or not."""
    return _JsonScanner(text).run()


class _JsonScanner:
    """Walks the text once, knowing whether each character is inside a string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out = list(text)
        self.findings: list[Finding] = []
        self.key = ""  # the last object key seen, for "key": "value" hints
        self.last_string = ""

    def run(self) -> Scan:
        pos = 0
        while pos < len(self.text):
            pos = self.step(pos)
        return Scan(tuple(self.findings), "".join(self.out))

    def step(self, pos: int) -> int:
        text, char = self.text, self.text[pos]
        if char == '"':
            return self.string(pos)
        if char == ":":
            self.key = self.last_string
        elif char in ",{[":
            self.key = ""
        if text.startswith("//", pos) or text.startswith("/*", pos):
            return self.comment(pos)
        angle = ANGLE.match(text, pos)
        if char == "<" and angle:
            message = placeholder_message(angle[1], key=self.key, quoted=False)
            return self.blank(pos, angle.end(), "guide_placeholder", message, '""')
        token = TOKEN.match(text, pos)
        if token:
            message = (
                "Put placeholders and values inside double quotes, e.g. "
                f'"{self.key or "destination"}": "{token[0]}".'
            )
            return self.blank(pos, token.end(), "invalid_json", message, '""')
        return pos + 1

    def string(self, start: int) -> int:
        pos = start + 1
        while pos < len(self.text) and self.text[pos] not in '"\n':
            pos += 2 if self.text[pos] == "\\" else 1
        content = self.text[start + 1 : pos]
        self.last_string = content
        for match in ANGLE.finditer(content):
            if GUIDE_WORDS.search(match[1]):
                message = placeholder_message(match[1], quoted=True)
                self.add(start + 1 + match.start(), "guide_placeholder", message)
        return pos + 1

    def comment(self, start: int) -> int:
        block = self.text.startswith("/*", start)
        end = self.text.find("*/", start) + 2 if block else -1
        if end < 2:
            end = self.text.find("\n", start) if not block else len(self.text)
            end = len(self.text) if end < 0 else end
        shown = " ".join(self.text[start:end].split())
        shown = shown if len(shown) <= 50 else shown[:47] + "…"
        message = (
            f"JSON does not allow // comments; delete “{shown}” (the provider's "
            "sample payload may include one)."
        )
        return self.blank(start, end, "invalid_json", message, "")

    def blank(self, start: int, end: int, code: str, message: str, fill: str) -> int:
        """Record a finding and blank its text, keeping line breaks and length."""
        self.add(start, code, message)
        for pos in range(start, end):
            if self.out[pos] != "\n":
                self.out[pos] = " "
        for offset, char in enumerate(fill):
            self.out[start + offset] = char
        return end

    def add(self, pos: int, code: str, message: str) -> None:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        self.findings.append(
            Finding(line, column, code, f"Line {line}, column {column}: {message}")
        )
