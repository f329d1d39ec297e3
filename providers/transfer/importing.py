"""Importing a provider file: each provider through its own setup screen's
form, each further sender through the sender form, all in one transaction.
Every problem is reported with its path in the file; with any, nothing is
kept."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from .. import audit, bounded_json
from ..forms.sender import SenderForm
from ..forms.setup import FORMS
from ..models import Provider
from .fileformat import FIELDS, FORMAT, SECRET_FIELDS, SENDER_FIELDS, VERSION
from .reading import Problem, Reader
from .secrets import Secrets

MAX_BYTES = 1024 * 1024
# Where each setup-screen field's problems point in the file.
FIELD_PATHS = {
    **{name: path for path, name in FIELDS},
    **{name: path for name, (path, _) in SECRET_FIELDS.items()},
    "sender_name": "senders[0].name",
    "sender_id": "senders[0].sender_id",
    "sender_type": "senders[0].sender_type",
    "is_default": "senders[0].default",
}
SENDER_PATHS = {"is_default": "default", "provider": "name"}
# "Header 2 (X-Key): enter a value." is the rows field's way to name a row.
ROW_MESSAGE = re.compile(r"^(?:Header|URL parameter|Variable) (\d+)(?: \([^)]*\))?: ")
NAME_CODES = frozenset(
    {"missing_name", "reserved_name", "duplicate_name", "invalid_header_name"}
    | {"invalid_variable_name"}
)


class ImportRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = problems


def parse(text: str | bytes) -> dict[str, Any]:
    """The file's document; ImportRefused with the problem if it is not one."""
    if len(text) > MAX_BYTES:
        raise ImportRefused([Problem("(file)", "larger than 1 MiB")])
    try:
        document = bounded_json.loads(text)
    except bounded_json.TooDeep as err:
        raise ImportRefused([Problem("(file)", str(err))]) from None
    except ValueError as err:
        where = getattr(err, "lineno", None)
        at = f"line {where}, column {err.colno}" if where else "(file)"
        reason = getattr(err, "msg", "not UTF-8 text")
        raise ImportRefused([Problem(at, f"not JSON: {reason}")]) from None
    problems = document_problems(document)
    if problems:
        raise ImportRefused(problems)
    return document


def document_problems(document: Any) -> list[Problem]:
    if not isinstance(document, dict):
        return [Problem("(file)", "expected an object with format and providers")]
    found = []
    if document.get("format") != FORMAT:
        found.append(Problem("format", f'expected "{FORMAT}"'))
    if document.get("version") != VERSION:
        found.append(
            Problem("version", f"expected {VERSION}; this smsbridge reads {VERSION}")
        )
    if not isinstance(document.get("providers"), list):
        found.append(Problem("providers", "expected a list of providers ([…])"))
    for key in document.keys() - {"format", "version", "providers", "exported_at"}:
        found.append(Problem(key, "unknown key; see the file format"))
    return found


def named_secrets(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(nickname, name) of every secret the file asks for, for the import page."""
    found = []
    for entry in document["providers"]:
        if isinstance(entry, dict) and entry.get("setup_screen", "clevertap") in FORMS:
            reader = Reader(entry, "", Secrets(environ={}))
            reader.form_data()
            found += [(reader.nickname, name) for name in reader.asked]
    return found


def import_document(document: dict[str, Any], *, secrets: Secrets) -> list[Provider]:
    """Save every provider of the file, or none: ImportRefused lists why."""
    problems: list[Problem] = []
    with audit.action("Imported from a file"), transaction.atomic():
        saved = [
            import_provider(entry, f"providers[{i}]", secrets, problems)
            for i, entry in enumerate(document["providers"])
        ]
        problems += default_clashes(document["providers"])
        if problems:
            raise ImportRefused(problems)
    return [provider for provider in saved if provider]


def import_provider(
    entry: Any, path: str, secrets: Secrets, problems: list[Problem]
) -> Provider | None:
    if not isinstance(entry, dict):
        problems.append(Problem(path, "expected an object ({…})"))
        return None
    reader = Reader(entry, path, secrets)
    if reader.screen not in FORMS:
        problems.append(
            Problem(f"{path}.setup_screen", "expected clevertap or moengage")
        )
        return None
    form = FORMS[reader.screen](reader.form_data(), instance=Provider())
    problems += reader.problems
    if not form.is_valid():
        # A secret not given is also a blank the form refuses: said once.
        said = {problem.path for problem in reader.problems}
        problems += [p for p in form_problems(form, reader) if p.path not in said]
        for j, sender in enumerate(reader.senders()[1:], start=1):
            problems += save_sender(None, sender, f"{path}.senders[{j}]", first=False)
        return None
    try:
        with transaction.atomic():
            provider = form.save()
    except IntegrityError as err:
        problems.append(Problem(path, f"could not be saved: {err}"))
        return None
    for j, sender in enumerate(reader.senders()):
        problems += save_sender(provider, sender, f"{path}.senders[{j}]", first=j == 0)
    return provider


def form_problems(form, reader: Reader) -> list[Problem]:
    found = []
    for name, errors in form.errors.as_data().items():
        for error in errors:
            for message in error.messages:
                where, text = locate(name, error.code, message, reader)
                found.append(Problem(f"{reader.path}{where}", text))
    return found


def locate(
    name: str, code: str | None, message: str, reader: Reader
) -> tuple[str, str]:
    """A form error's place in the file, and its words without the row label."""
    row = ROW_MESSAGE.match(message)
    if name in reader.row_index and row:
        number = int(row.group(1))
        index = reader.row_index[name]
        j = index[number - 1] if number <= len(index) else number - 1
        text = message[row.end() :]
        part = "name" if code in NAME_CODES or text.startswith("The name") else "value"
        return f".{name}[{j}].{part}", text
    if name in FIELD_PATHS:
        return f".{FIELD_PATHS[name]}", message
    if name in reader.row_index:
        return f".{name}", message
    return "", message


def save_sender(
    provider: Provider | None, sender: Any, path: str, *, first: bool
) -> list[Problem]:
    """Check a sender with the sender form and save it; with no provider (its
    own was refused) check only what does not depend on the provider."""
    if not isinstance(sender, dict):
        return [Problem(path, "expected an object ({…})")]
    found = [
        Problem(f"{path}.{key}", "unknown key; see the file format")
        for key in sender.keys() - set(SENDER_FIELDS)
    ]
    instance = provider.primary_sender if first and provider else None
    data = {
        "provider": provider.pk if provider else "",
        **{key: sender.get(key) or "" for key in SENDER_FIELDS if key != "default"},
    }
    data["time_zone"] = data["time_zone"] or "UTC"
    if sender.get("default") is True:
        data["is_default"] = "on"
    form = SenderForm(data, instance=instance)
    if not form.is_valid():
        for name, errors in form.errors.items():
            if provider is None and name == "provider":
                continue
            where = SENDER_PATHS.get(name, name) if name != "__all__" else ""
            found += [Problem(f"{path}.{where}".rstrip("."), str(e)) for e in errors]
        return found
    if provider is not None:
        form.save()
    return found


def default_clashes(entries: list) -> list[Problem]:
    """Two senders of the file both default for one type: the screens would
    quietly keep the later one, so the file is refused instead."""
    first: dict[str, str] = {}
    found = []
    for i, entry in enumerate(entries):
        senders = entry.get("senders", []) if isinstance(entry, dict) else []
        for j, sender in enumerate(senders if isinstance(senders, list) else []):
            if not (isinstance(sender, dict) and sender.get("default") is True):
                continue
            kind, where = str(sender.get("sender_type")), f"providers[{i}].senders[{j}]"
            if kind in first:
                found.append(
                    Problem(
                        f"{where}.default",
                        f"{first[kind]} is already the default {kind} sender in this "
                        "file; mark one of them default",
                    )
                )
            first.setdefault(kind, where)
    return found
