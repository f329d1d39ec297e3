"""The values of a provider's custom placeholders ($$hid, $$uid, ...), typed
one `name=value` a line on the campaign form and on Send Test SMS."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PlaceholderValuesField(forms.CharField):
    """A textarea of `name=value` lines, cleaned to {name: value}."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Provider placeholders")
        kwargs.setdefault(
            "help_text",
            "One name=value a line for the custom placeholders of the provider's "
            "request, e.g. hid=1234 for $$hid.",
        )
        super().__init__(strip=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return "\n".join(f"{name}={text}" for name, text in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, Mapping):
            return dict(value)
        values: dict[str, str] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, text = line.partition("=")
            name = name.strip().removeprefix("$$")
            if not sep or not NAME.fullmatch(name):
                raise ValidationError(
                    "Line %(line)d is not name=value: write one placeholder a "
                    "line, e.g. hid=1234 for $$hid.",
                    code="invalid_placeholder_line",
                    params={"line": number},
                )
            if name in values:
                raise ValidationError(
                    "$$%(name)s is given twice (line %(line)d); keep one value.",
                    code="duplicate_placeholder",
                    params={"name": name, "line": number},
                )
            values[name] = text.strip()
        return values


def described(names: Iterable[str]) -> str:
    """ "$$hid, $$uid": placeholder names as a message names them."""
    return ", ".join(f"$${name}" for name in sorted(names))
