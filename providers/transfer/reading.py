"""One provider of the file, read into its setup screen's POST data: every
value checked for its type, every secret taken from where secrets.py finds it,
every problem noted with its path in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from ..models import Provider
from .fileformat import (
    FIELDS,
    ROWS,
    SECRET,
    SECRET_FIELDS,
    SENDER_FIELDS,
    get_path,
    screen_fields,
    secret_name,
)
from .secrets import Secrets

MISSING = object()
BOOLEANS = frozenset({"is_active", "batch_enabled"})
NUMBERS = frozenset({"batch_size", "rate_limit"})
VALUE_IN_FILE = (
    'a secret is never written in the file: write {"secret": true} here and '
    "give its value when importing"
)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def key_tree() -> dict:
    """Every key a provider's object may have, nested as in the file."""
    tree: dict = {"setup_screen": None, "senders": None, **dict.fromkeys(ROWS)}
    paths = [p for p, _ in FIELDS] + [p for p, _ in SECRET_FIELDS.values()]
    for path in paths:
        *parents, last = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = None
    return tree


def unknown_keys(value: Any, tree: dict, path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "expected an object ({…})")]
    found = []
    for key, inner in value.items():
        if key not in tree:
            found.append(Problem(f"{path}.{key}", "unknown key; see the file format"))
        elif tree[key] is not None:
            found += unknown_keys(inner, tree[key], f"{path}.{key}")
    return found


def default(name: str) -> Any:
    return Provider._meta.get_field(name).get_default()


def type_problem(name: str, value: Any) -> str:
    if name in BOOLEANS:
        return "" if isinstance(value, bool) else "expected true or false"
    if name in NUMBERS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return "" if ok else "expected a whole number"
    if name == "dlr_status_values":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return "" if ok else 'expected an object of "provider value": "state"'
    return "" if isinstance(value, str) else "expected text"


def put(data: QueryDict, name: str, value: Any) -> None:
    if isinstance(value, bool):
        if value:
            data[name] = "on"
    elif isinstance(value, dict):
        data[name] = "\n".join(f"{k} = {v}" for k, v in value.items())
    else:
        data[name] = str(value)


@dataclass
class Reader:
    entry: dict
    path: str
    secrets: Secrets
    problems: list[Problem] = field(default_factory=list)
    # For each kind of row, the file index of each row the form receives.
    row_index: dict[str, list[int]] = field(default_factory=dict)
    # The names of the secrets the provider asks for.
    asked: list[str] = field(default_factory=list)

    @property
    def screen(self) -> str:
        return self.entry.get("setup_screen") or Provider.SetupScreen.CLEVERTAP

    @property
    def nickname(self) -> str:
        nickname = self.entry.get("nickname")
        return nickname if isinstance(nickname, str) else ""

    def note(self, where: str, message: str) -> None:
        self.problems.append(Problem(f"{self.path}.{where}", message))

    def form_data(self) -> QueryDict:
        data = QueryDict(mutable=True)
        fields = screen_fields(self.screen)
        self.problems += unknown_keys(self.entry, key_tree(), self.path)
        for where, name in FIELDS:
            self.read_field(data, where, name, fields)
        for name, (where, secret) in SECRET_FIELDS.items():
            self.read_secret(data, where, name, secret, fields)
        for kind in ROWS:
            self.read_rows(data, kind, fields)
        self.read_first_sender(data, fields)
        return data

    def read_field(self, data: QueryDict, where: str, name: str, fields) -> None:
        value = get_path(self.entry, where, MISSING)
        if name not in fields:
            if value is not MISSING and value != default(name):
                self.note(where, f"the {self.screen} setup screen has no such field")
            return
        value = default(name) if value is MISSING else value
        wrong = type_problem(name, value)
        if wrong:
            self.note(where, wrong)
            value = default(name)
        put(data, name, value)

    def read_secret(self, data, where: str, name: str, secret: str, fields) -> None:
        value = get_path(self.entry, where, MISSING)
        if value is MISSING:
            return
        if name not in fields:
            self.note(where, f"the {self.screen} setup screen has no such field")
        elif value != SECRET:
            self.note(where, VALUE_IN_FILE)
        else:
            self.asked.append(secret)
            found = self.secrets.find(self.nickname, secret)
            if not found:
                self.note(where, self.secrets.missing(self.nickname, secret))
            data[name] = found

    def read_rows(self, data: QueryDict, kind: str, fields) -> None:
        rows = self.entry.get(kind, [])
        if kind not in fields:
            if rows:
                self.note(kind, f"the {self.screen} setup screen has no {kind}")
            return
        if not isinstance(rows, list):
            self.note(kind, "expected a list of rows ([…])")
            rows = []
        taken = [(j, self.read_row(kind, j, row)) for j, row in enumerate(rows)]
        taken = [(j, row) for j, row in taken if row]
        self.row_index[kind] = [j for j, _ in taken]
        data.setlist(f"{kind}-name", [row[0] for _, row in taken])
        data.setlist(f"{kind}-value", [row[1] for _, row in taken])
        data.setlist(f"{kind}-secret", ["1" if row[2] else "0" for _, row in taken])

    def read_row(self, kind: str, j: int, row: Any) -> tuple[str, str, bool] | None:
        where = f"{kind}[{j}]"
        if not isinstance(row, dict):
            self.note(where, 'expected {"name": …, "value": …}')
            return None
        for key in row.keys() - {"name", "value", "secret"}:
            self.note(f"{where}.{key}", "unknown key; a row has name, value, secret")
        name, value, secret = row.get("name"), row.get("value", ""), row.get("secret")
        if not isinstance(name, str) or not name.strip():
            self.note(f"{where}.name", "enter the row's name")
            return None
        if secret not in (None, True, False):
            self.note(f"{where}.secret", "expected true or false")
            return None
        if secret:
            # The row still goes to the form (with the value given on import, or
            # blank), so that nothing else is refused for want of it.
            wanted = secret_name(kind, name)
            self.asked.append(wanted)
            value = self.secrets.find(self.nickname, wanted)
            if "value" in row:
                self.note(f"{where}.value", VALUE_IN_FILE)
            elif not value:
                self.note(f"{where}.value", self.secrets.missing(self.nickname, wanted))
        elif not isinstance(value, str):
            self.note(f"{where}.value", "expected text")
            return None
        return name, value, bool(secret)

    def read_first_sender(self, data: QueryDict, fields) -> None:
        """The setup screen's own sender fields, from the first sender."""
        first = self.senders()[:1]
        sender = first[0] if first and isinstance(first[0], dict) else {}
        pairs = (
            ("sender_name", "name"),
            ("sender_id", "sender_id"),
            ("sender_type", "sender_type"),
        )
        for name, key in pairs:
            value = sender.get(key, "")
            if name in fields and isinstance(value, str):
                data[name] = value
        if sender.get("default") is True:
            data["is_default"] = "on"

    def senders(self) -> list:
        senders = self.entry.get("senders", [])
        return senders if isinstance(senders, list) else []


__all__ = ["SENDER_FIELDS", "Problem", "Reader"]
