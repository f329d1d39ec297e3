"""Where an import finds the secrets a file names: a value given for that
provider (`--secret "NICKNAME/NAME=value"`, or the import page's field), the
environment (SMSBRIDGE_SECRET_<NICKNAME>_<NAME>), then a value given for every
provider that names it (`--secret NAME=value`)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

PREFIX = "SMSBRIDGE_SECRET_"


def env_name(nickname: str, name: str) -> str:
    """SMSBRIDGE_SECRET_8X8_SMS_APIKEY for 8x8 SMS's apiKey."""
    words = re.sub(r"[^A-Z0-9]+", "_", f"{nickname}_{name}".upper()).strip("_")
    return PREFIX + words


def parse_given(pairs: Iterable[str]) -> dict[str, str]:
    """["apiKey=...", "8x8 SMS/apiKey=..."] -> {name or nickname/name: value};
    ValueError (never naming the value) for a pair without "=" or a name."""
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(
                "Give each secret as NAME=value or NICKNAME/NAME=value "
                f"(one was “{name.strip()[:40]}” with no “=”)."
            )
        given[name.strip()] = value
    return given


class Secrets:
    def __init__(
        self,
        given: Mapping[str, str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.given = dict(given or {})
        self.environ = os.environ if environ is None else environ

    def find(self, nickname: str, name: str) -> str:
        """The secret's value, or "" when none was given."""
        for value in (
            self.given.get(f"{nickname}/{name}"),
            self.environ.get(env_name(nickname, name)),
            self.given.get(name),
        ):
            if value:
                return value
        return ""

    def missing(self, nickname: str, name: str) -> str:
        return (
            f"the secret {name} was not given: pass --secret "
            f"“{nickname}/{name}=…” (or {name}=… for every provider), or set "
            f"{env_name(nickname, name)}"
        )
