"""Turn a provider's request template and messages into the exact HTTP request.

Pure functions over plain data: no database, no network. A template is compiled
once into literal text and slots; every slot value is escaped for where it lands
(JSON string, URL, header, form field) and substituted in a single pass, so text
inside a message can never add structure to the request or expand a placeholder.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any
from urllib.parse import quote, urlencode

from .. import bounded_json

TOKEN = re.compile(
    r"\$\$(?P<dollar>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<moe>Moesms_(?:destination|message))"
    r"|\{(?P<var>[A-Za-z_][A-Za-z0-9_]*)\}"
)

# Placeholders every screen offers, with what each one carries.
CLEVERTAP_PLACEHOLDERS = {
    "$$To": "Recipient's mobile number (mandatory)",
    "$$Body": "Message text",
    "$$MessageID": "smsbridge's id for the message; echoed back in delivery reports",
    "$$CampaignID": "Campaign id",
    "$$TemplateID": "DLT template id (India)",
    "$$TemplateVariables": "Template variables",
}
MOENGAGE_PLACEHOLDERS = {
    "Moesms_destination": "Recipient's mobile number (mandatory)",
    "Moesms_message": "Message text",
    "$$MessageID": CLEVERTAP_PLACEHOLDERS["$$MessageID"],
}
BUILTIN_VARIABLES = {
    "sender_id": "The sender ID / virtual number of the sending sender",
    "callback_url": "This provider's delivery-report callback URL",
}
PER_MESSAGE = frozenset({"To", "Body", "MessageID", "moe:destination", "moe:message"})
# What smsbridge fills itself; any other $$name is a custom placeholder, whose
# value the campaign, the audience, the event or the test gives (Message.extra).
BUILT_IN_KEYS = PER_MESSAGE | {"CampaignID", "TemplateID", "TemplateVariables"}


class TemplateError(ValueError):
    """A template that cannot be compiled; `where` names the part at fault."""

    def __init__(self, message: str, *, where: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.code = code


@dataclass(frozen=True)
class Message:
    to: str
    body: str = ""
    message_id: str = ""
    campaign_id: str = ""
    template_id: str = ""
    template_variables: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestSpec:
    """A provider's request template as plain data."""

    method: str
    endpoint: str
    body_type: str = "json"
    payload: str = ""
    url_parameters: Sequence[tuple[str, str]] = ()
    headers: Sequence[tuple[str, str]] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    batch_key: str = ""
    number_format: str = "e164"
    basic_auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass(frozen=True)
class Token:
    key: str  # "To", "moe:message", "var:apiKey", ...

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Token:
        if match["dollar"]:
            return cls(match["dollar"])
        if match["moe"]:
            return cls("moe:" + match["moe"].removeprefix("Moesms_"))
        return cls("var:" + match["var"])


Segments = tuple[str | Token, ...]


def split(text: str) -> Segments:
    """Literal text and tokens, in order; nothing inside a token is parsed again."""
    parts: list[str | Token] = []
    position = 0
    for match in TOKEN.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(Token.from_match(match))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def tokens_in(text: str) -> list[Token]:
    return [part for part in split(text) if isinstance(part, Token)]


class Context:
    """Values for one message's placeholders."""

    def __init__(self, spec: RequestSpec, message: Message) -> None:
        number = message.to
        if spec.number_format == "digits":
            number = number.lstrip("+")
        self.values: dict[str, str] = {
            "To": number,
            "Body": message.body,
            "MessageID": message.message_id,
            "CampaignID": message.campaign_id,
            "TemplateID": message.template_id,
            "TemplateVariables": message.template_variables,
            "moe:destination": number,
            "moe:message": message.body,
        }
        self.extra = message.extra
        self.variables = spec.variables

    def get(self, token: Token) -> str:
        if token.key in self.values:
            return required(token.key, self.values[token.key])
        if token.key.startswith("var:"):
            return self.variables[token.key[4:]]
        return custom_value(self.extra, token.key)


def required(key: str, value: str) -> str:
    """A DLT template's id is never sent empty: the operator would refuse it."""
    if key == "TemplateID" and not value:
        raise TemplateError(
            "$$TemplateID has no value: choose a DLT message template on the "
            "campaign or on Send Test SMS, as this provider's request needs one.",
            where="payload",
            code="missing_template",
        )
    return value


def custom_value(extra: Mapping[str, str], name: str) -> str:
    """A custom placeholder's value; never an empty string in its place."""
    try:
        return extra[name]
    except KeyError:
        raise TemplateError(
            f"$${name} has no value: give it on the campaign (Provider "
            "placeholders), as an audience column or event property of that name, "
            "or on Send Test SMS.",
            where="payload",
            code="missing_placeholder",
        ) from None


@dataclass(frozen=True)
class CustomPlaceholders:
    """The custom $$names of a request: those rendered once a request (outside
    a batch's records), whose value must be the same for every message, and
    those rendered for each message."""

    per_request: frozenset[str] = frozenset()
    per_message: frozenset[str] = frozenset()
    # $$TemplateID or $$TemplateVariables: every message needs a DLT template.
    template: bool = False

    @property
    def names(self) -> frozenset[str]:
        return self.per_request | self.per_message


Escape = Callable[[str], str]


def url_escape(value: str) -> str:
    return quote(value, safe="")


# C0 controls and DEL: none can travel in a request line or a header, and a
# CR/LF there would start a new header line.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_NAMES = {
    "\r": "a line break (CR/LF)",
    "\n": "a line break (CR/LF)",
    "\x00": "a NUL character",
    "\t": "a tab",
    "\x7f": "a DEL character",
}


def control_character(text: str) -> tuple[str, int] | None:
    """The first control character in `text`, named, with its 1-based position."""
    match = CONTROL_CHARACTER.search(text)
    if match is None:
        return None
    char = match[0]
    name = CONTROL_NAMES.get(char, f"the control character U+{ord(char):04X}")
    return name, match.start() + 1


def _check_url(url: str) -> None:
    # Substituted values are percent-encoded, so only an endpoint saved before
    # its own check existed can get here.
    found = control_character(url)
    if found:
        raise TemplateError(
            f"The endpoint contains {found[0]} (character {found[1]}); remove it "
            "on the provider's setup screen.",
            where="endpoint",
            code="control_character",
        )


def _checked_header(name: str, value: str) -> tuple[str, str]:
    # Refused, not stripped: a value changed behind the sender's back could
    # reach the provider as something else than was written.
    found = control_character(name + value)
    if found:
        raise TemplateError(
            f"The header {name} would contain {found[0]} from a provider variable "
            "or the message; remove it, as an HTTP header cannot carry control "
            "characters.",
            where="headers",
            code="control_character",
        )
    return name, value


def _plain(value: str) -> str:
    return value


def fill(segments: Segments, context: Context, escape: Escape = _plain) -> str:
    return "".join(
        escape(context.get(part)) if isinstance(part, Token) else part
        for part in segments
    )


# --- JSON templates -------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A JSON string whose text has placeholders; rendered as one JSON string."""

    segments: Segments


Fragments = tuple[str | Slot, ...]


def _json_fragments(node: Any, out: list[str | Slot]) -> None:
    if isinstance(node, dict):
        out.append("{")
        for index, (key, value) in enumerate(node.items()):
            if index:
                out.append(",")
            _json_fragments(key, out)
            out.append(":")
            _json_fragments(value, out)
        out.append("}")
    elif isinstance(node, list):
        out.append("[")
        for index, item in enumerate(node):
            if index:
                out.append(",")
            _json_fragments(item, out)
        out.append("]")
    elif isinstance(node, str) and TOKEN.search(node):
        out.append(Slot(split(node)))
    else:
        out.append(json.dumps(node, ensure_ascii=False))


def compile_json(node: Any) -> Fragments:
    raw: list[str | Slot] = []
    _json_fragments(node, raw)
    merged: list[str | Slot] = []
    for part in raw:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return tuple(merged)


def render_fragments(fragments: Fragments, context: Context) -> str:
    return "".join(
        part
        if isinstance(part, str)
        else encode_basestring(fill(part.segments, context))
        for part in fragments
    )


def parse_json_payload(payload: str) -> Any:
    try:
        return bounded_json.loads(payload)
    except bounded_json.TooDeep as err:
        raise TemplateError(str(err), where="payload", code="too_deep") from err
    except json.JSONDecodeError as err:
        raise TemplateError(
            json_error_message(payload, err), where="payload", code="invalid_json"
        ) from err


def json_error_message(payload: str, err: json.JSONDecodeError) -> str:
    message = f"Invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}."
    rest = payload[err.pos :]
    # "/" is never valid outside a string, so the parser stops exactly on a
    # comment; looking for "//" anywhere on the line would also match URLs.
    if rest.startswith("/"):
        return message + (
            " JSON does not allow // comments; delete the comment (the provider's "
            "sample payload may include one)."
        )
    if (
        rest[:1] in ("<", "$", "{")
        or rest.startswith("Moesms_")
        or _unquoted_variable_at(payload, err.pos)
    ):
        return message + (
            " Put placeholders and values inside double quotes, e.g. "
            '"partnerCallbackUrl": "{callback_url}" or "destination": "$$To".'
        )
    return message


def _unquoted_variable_at(payload: str, pos: int) -> bool:
    # An unquoted {name} parses as the start of an object, so the error lands
    # one character after its brace.
    return pos > 0 and payload[pos - 1] == "{" and bool(TOKEN.match(payload, pos - 1))


# --- form bodies -----------------------------------------------------------------


def parse_form_payload(payload: str) -> list[tuple[str, str]]:
    """`key=value` per line; blank lines are ignored."""
    pairs = []
    for number, line in enumerate(payload.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise TemplateError(
                f"Line {number} is not a key=value pair: write one parameter per "
                "line, e.g. To=$$To.",
                where="payload",
                code="invalid_form_line",
            )
        pairs.append((key.strip(), value.strip()))
    return pairs


# --- the compiled request ---------------------------------------------------------


class CompiledRequest:
    """A RequestSpec parsed once, ready to render any number of messages."""

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.endpoint = split(spec.endpoint)
        self.params = [(split(k), split(v)) for k, v in spec.url_parameters]
        self.headers = [(name, split(value)) for name, value in spec.headers]
        self.basic_username = split(spec.basic_auth[0]) if spec.basic_auth else ()
        self.form: list[tuple[Segments, Segments]] = []
        self.json_outer: Fragments = ()
        self.json_record: Fragments = ()
        self.json_tail: Fragments = ()
        if spec.method == "POST":
            self._compile_body()
        self._check_variables()

    def _compile_body(self) -> None:
        spec = self.spec
        if spec.body_type == "form":
            pairs = parse_form_payload(spec.payload)
            self.form = [(split(k), split(v)) for k, v in pairs]
            return
        document = parse_json_payload(spec.payload)
        if not spec.batch_key:
            self.json_outer = compile_json(document)
            return
        record = batch_record(document, spec.batch_key)
        marker = object()
        document = {**document, spec.batch_key: marker}
        head, tail = _split_at_marker(document, marker)
        self.json_outer, self.json_tail = head, tail
        self.json_record = compile_json(record)

    def _check_variables(self) -> None:
        for where, text in self.texts():
            for token in tokens_in(text):
                name = token.key.removeprefix("var:")
                if token.key.startswith("var:") and name not in self.spec.variables:
                    raise TemplateError(
                        f"{{{name}}} is not defined: add it under Provider variables "
                        "or use one of: "
                        + ", ".join(f"{{{v}}}" for v in sorted(self.spec.variables)),
                        where=where,
                        code="undefined_variable",
                    )

    def texts(self) -> list[tuple[str, str]]:
        """Every template text of the spec, with the part it belongs to."""
        spec = self.spec
        found = [("endpoint", spec.endpoint)]
        found += [("url_parameters", f"{k}={v}") for k, v in spec.url_parameters]
        found += [("headers", value) for _, value in spec.headers]
        if spec.basic_auth:
            found.append(("basic_username", spec.basic_auth[0]))
        if spec.method == "POST":
            found.append(("payload", spec.payload))
        return found

    def render(self, messages: Sequence[Message]) -> HttpRequest:
        if not messages:
            raise ValueError("render() needs at least one message")
        context = Context(self.spec, messages[0])
        url = fill(self.endpoint, context, url_escape)
        params = [(fill(k, context), fill(v, context)) for k, v in self.params]
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        _check_url(url)
        headers = tuple(
            _checked_header(name, fill(value, context)) for name, value in self.headers
        )
        if self.spec.basic_auth:
            headers += (("Authorization", self._basic_credentials(context)),)
        body = self._body(messages, context)
        return HttpRequest(self.spec.method, url, headers, body)

    def _basic_credentials(self, context: Context) -> str:
        username = fill(self.basic_username, context)
        pair = f"{username}:{self.spec.basic_auth[1]}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def custom_placeholders(self) -> CustomPlaceholders:
        keys = {token.key for _, text in self.texts() for token in tokens_in(text)}
        custom = {key for key in keys if key not in BUILT_IN_KEYS and ":" not in key}
        template = bool(keys & {"TemplateID", "TemplateVariables"})
        if not self.spec.batch_key:
            return CustomPlaceholders(per_message=frozenset(custom), template=template)
        once = custom & self.batch_level_tokens()
        return CustomPlaceholders(frozenset(once), frozenset(custom - once), template)

    def batch_level_tokens(self) -> set[str]:
        """Keys of the placeholders rendered once per request in batch mode."""
        texts = [text for where, text in self.texts() if where != "payload"]
        keys = {token.key for text in texts for token in tokens_in(text)}
        for part in self.json_outer + self.json_tail:
            if isinstance(part, Slot):
                keys |= {p.key for p in part.segments if isinstance(p, Token)}
        return keys

    def _body(self, messages: Sequence[Message], context: Context) -> bytes:
        if self.spec.method != "POST":
            return b""
        if self.form:
            pairs = [(fill(k, context), fill(v, context)) for k, v in self.form]
            return urlencode(pairs).encode()
        if not self.spec.batch_key:
            return self.single_plan.render(messages[0]).encode()
        records = ",".join(self.record_plan.render_all(messages))
        head = render_fragments(self.json_outer, context)
        tail = render_fragments(self.json_tail, context)
        return (head + "[" + records + "]" + tail).encode()

    @cached_property
    def single_plan(self) -> Plan:
        return compile_plan(self.json_outer, self.spec)

    @cached_property
    def record_plan(self) -> Plan:
        return compile_plan(self.json_record, self.spec)


# --- fast per-message rendering ------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """JSON fragments folded into one %-format string and per-message getters.

    Provider variables are the same for every message, so they are substituted
    once, here; what remains per message is one getter and one JSON string
    encoding per placeholder, which keeps a 1,000-record batch near the cost of
    json.dumps.
    """

    fmt: str
    getters: tuple[Callable[[Message], str], ...]

    def render(self, message: Message) -> str:
        return self.fmt % tuple(
            [encode_basestring(get(message)) for get in self.getters]
        )

    def render_all(self, messages: Sequence[Message]) -> list[str]:
        """render() of each message, a column of values at a time: map() runs
        the (mostly built-in) getters and the encoder without a Python-level
        loop per value."""
        if not self.getters:  # a record without placeholders
            return [self.fmt % ()] * len(messages)
        columns = [map(encode_basestring, map(get, messages)) for get in self.getters]
        return [self.fmt % values for values in zip(*columns, strict=True)]


MESSAGE_FIELDS = {
    "Body": "body",
    "moe:message": "body",
    "MessageID": "message_id",
    "CampaignID": "campaign_id",
    "TemplateID": "template_id",
    "TemplateVariables": "template_variables",
}


def getter_for(token: Token, spec: RequestSpec) -> Callable[[Message], str]:
    if token.key in ("To", "moe:destination"):
        if spec.number_format == "digits":
            return lambda message: message.to.lstrip("+")
        return attrgetter("to")
    if token.key == "TemplateID":
        return lambda message: required("TemplateID", message.template_id)
    if token.key in MESSAGE_FIELDS:
        return attrgetter(MESSAGE_FIELDS[token.key])
    return lambda message: custom_value(message.extra, token.key)


def mixed_getter(segments: Segments, spec: RequestSpec) -> Callable[[Message], str]:
    """For text that mixes literal words and placeholders, e.g. "Hi $$first_name"."""
    return lambda message: fill(segments, Context(spec, message))


def compile_plan(fragments: Fragments, spec: RequestSpec) -> Plan:
    constant = Context(spec, Message(to=""))
    parts: list[str] = []
    getters: list[Callable[[Message], str]] = []
    for part in fragments:
        if isinstance(part, str):
            parts.append(part.replace("%", "%%"))
            continue
        tokens = [p for p in part.segments if isinstance(p, Token)]
        if all(t.key.startswith("var:") for t in tokens):
            folded = encode_basestring(fill(part.segments, constant))
            parts.append(folded.replace("%", "%%"))
            continue
        parts.append("%s")
        if len(part.segments) == 1:
            getters.append(getter_for(tokens[0], spec))
        else:
            getters.append(mixed_getter(part.segments, spec))
    return Plan("".join(parts), tuple(getters))


def batch_record(document: Any, key: str) -> dict:
    if not isinstance(document, dict) or key not in document:
        raise TemplateError(
            f"The batch key “{key}” is not a top-level key of the JSON payload.",
            where="batch_key",
            code="batch_key_missing",
        )
    records = document[key]
    if not (
        isinstance(records, list) and len(records) == 1 and isinstance(records[0], dict)
    ):
        raise TemplateError(
            f"“{key}” must be an array holding exactly one record (a JSON object), "
            "which is repeated once per message.",
            where="batch_key",
            code="batch_key_not_one_record",
        )
    return records[0]


def _split_at_marker(document: dict, marker: object) -> tuple[Fragments, Fragments]:
    sentinel = "\x00batch\x00"
    fragments = compile_json(
        {k: (sentinel if v is marker else v) for k, v in document.items()}
    )
    encoded = json.dumps(sentinel)
    for index, part in enumerate(fragments):
        if isinstance(part, str) and encoded in part:
            before, after = part.split(encoded, 1)
            return fragments[:index] + (before,), (after,) + fragments[index + 1 :]
    raise AssertionError("batch marker lost")  # pragma: no cover


def compile_request(spec: RequestSpec) -> CompiledRequest:
    return CompiledRequest(spec)
