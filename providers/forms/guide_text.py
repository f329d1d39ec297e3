"""Text pasted from a provider's setup guide, read leniently before it is parsed.

Guides show values to replace as `<API_KEY>` or `<Your Sender ID>`, and their
sample payloads carry `//` comments. A JSON parser stops at the first of these,
which would make the user fix them one save at a time; this scan finds every one
of them, with its line, in one pass, and rewrites the text the way each message
says to write it instead. Pure functions over strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..outbound.rendering import TOKEN

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
    # What the message says to write in place of text[start:end].
    start: int = 0
    end: int = 0
    fix: str = ""


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


def is_guide_placeholder(inside: str) -> bool:
    """Whether `<inside>` in a one-line value is a guide's, not literal text."""
    return bool(GUIDE_WORDS.search(inside)) or inside.startswith("http")


def scan_value(text: str) -> list[str]:
    """Guide placeholders in a one-line value (endpoint, header, URL parameter)."""
    found = [
        placeholder_message(m[1], quoted=True)
        for m in ANGLE.finditer(text)
        if is_guide_placeholder(m[1])
    ]
    found += [
        placeholder_message(m[1], quoted=True, braces="{}")
        for m in SPACED_BRACES.finditer(text)
    ]
    return found


def fix_value(text: str) -> str:
    """The value with each placeholder scan_value reports replaced by what its
    message says to write: `Bearer <API_KEY>` -> `Bearer {apiKey}`."""

    def use(match: re.Match[str]) -> str:
        if match.re is ANGLE and not is_guide_placeholder(match[1]):
            return match[0]
        return suggestion_for(match[1]).use

    return SPACED_BRACES.sub(use, ANGLE.sub(use, text))


def scan_json(text: str) -> Scan:
    """Every comment and guide placeholder in a JSON payload, quoted or not."""
    return _JsonScanner(text).run()


def fix_json(text: str) -> str:
    """The payload written as scan_json's messages say: placeholders replaced and
    quoted, comments deleted. Other JSON errors are left for the user."""
    parts, pos = [], 0
    for finding in sorted(scan_json(text).findings, key=lambda f: f.start):
        parts += [text[pos : finding.start], finding.fix]
        pos = finding.end
    return "".join(parts) + text[pos:]


def variables_used(texts: Iterable[str]) -> list[str]:
    """The `{name}` variables the texts use, in order of first use."""
    names = (m["var"] for text in texts for m in TOKEN.finditer(text) if m["var"])
    return list(dict.fromkeys(names))


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
            use = '"' + suggestion_for(angle[1]).use + '"'
            return self.replace(pos, angle.end(), "guide_placeholder", message, use)
        token = TOKEN.match(text, pos)
        if token:
            message = (
                "Put placeholders and values inside double quotes, e.g. "
                f'"{self.key or "destination"}": "{token[0]}".'
            )
            use = f'"{token[0]}"'
            return self.replace(pos, token.end(), "invalid_json", message, use)
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
                at, end = start + 1 + match.start(), start + 1 + match.end()
                use = suggestion_for(match[1]).use
                self.add(at, "guide_placeholder", message, span=(at, end), fix=use)
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
        self.add(start, "invalid_json", message, span=self.deletion(start, end))
        return self.blank(start, end, "")

    def deletion(self, start: int, end: int) -> tuple[int, int]:
        """The span that deletes a comment: with the spaces before it, or with its
        whole line when nothing else is on it."""
        line_start = self.text.rfind("\n", 0, start) + 1
        before = len(self.text[:start].rstrip(" \t"))
        if before > line_start:
            return before, end
        if self.text.startswith("\n", end):
            return line_start, end + 1
        rest = self.text[end:]
        return start, end + len(rest) - len(rest.lstrip(" \t"))

    def replace(self, start: int, end: int, code: str, message: str, fix: str) -> int:
        """Record a finding to be fixed with `fix`, and blank it out as `""`."""
        self.add(start, code, message, span=(start, end), fix=fix)
        return self.blank(start, end, '""')

    def blank(self, start: int, end: int, fill: str) -> int:
        """Blank the text out, keeping line breaks and length."""
        for pos in range(start, end):
            if self.out[pos] != "\n":
                self.out[pos] = " "
        for offset, char in enumerate(fill):
            self.out[start + offset] = char
        return end

    def add(
        self, pos: int, code: str, message: str, *, span: tuple[int, int], fix: str = ""
    ) -> None:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        shown = f"Line {line}, column {column}: {message}"
        self.findings.append(Finding(line, column, code, shown, *span, fix))
