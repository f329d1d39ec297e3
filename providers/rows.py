"""Key/value rows (headers, URL parameters, provider variables) as one form field.

The rows live on the provider's main form, so that the setup screens can show
them in the order of the guides and validate them together with the payload.
Secret values are write-only: the form never renders them, and a secret row left
blank keeps the value already stored under its name, or the one typed into a
save that failed (held sealed by held_secrets, never put back into the page).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from . import crypto, validators


@dataclass(frozen=True)
class RowValue:
    name: str
    value: str
    secret: bool = False


class KeyValueRowsWidget(forms.Widget):
    template_name = "providers/widgets/key_value_rows.html"

    def __init__(self, *, name_label: str = "Key", attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.name_label = name_label
        self.masks: Mapping[str, str] = {}
        # Lower-cased names of rows whose value the server holds from a failed
        # save (see held_secrets), and of plain rows whose typed value is a key.
        self.held_names: set[str] = set()
        self.withheld: set[str] = set()

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict]:
        names = data.getlist(f"{name}-name")
        values = data.getlist(f"{name}-value")
        secrets = data.getlist(f"{name}-secret")
        return [
            {"name": n, "value": v, "secret": s == "1"}
            for n, v, s in zip(names, values, secrets, strict=False)
        ]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-name" not in data

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        rows = [self.shown_row(dict(row)) for row in value or []]
        context["widget"].update(rows=rows, name_label=self.name_label)
        return context

    def shown_row(self, row: dict) -> dict:
        name = row.get("name", "").lower()
        if row.get("secret") or name in self.withheld:
            # Write-only, like a password field: even a value just typed into a
            # form that failed validation is not sent back to the browser.
            row["value"] = ""
            mask = self.masks.get(name)
            if mask:
                row["hint"] = f"{mask} stored — leave blank to keep"
        if name in self.held_names and not row["value"]:
            row["hint"] = "kept from your last attempt — leave blank to keep"
        return row

    def format_value(self, value: Any) -> Any:
        return value


class KeyValueRowsField(forms.Field):
    widget = KeyValueRowsWidget
    row_label = "Row"

    def __init__(
        self,
        *,
        row_label: str,
        name_validator: Callable[[str], None] | None = None,
        case_insensitive: bool = False,
        value_required: bool = False,
        reserved: frozenset[str] = frozenset(),
        name_label: str = "Key",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("required", False)
        super().__init__(widget=KeyValueRowsWidget(name_label=name_label), **kwargs)
        self.row_label = row_label
        self.name_validator = name_validator
        self.case_insensitive = case_insensitive
        self.value_required = value_required
        self.reserved = reserved
        self.kept: dict[str, str] = {}
        self.held: dict[str, str] = {}

    def keep_secrets(self, rows: list[RowValue]) -> None:
        """Remember stored secret values so blank secret inputs keep them."""
        self.kept = {self.key(r.name): r.value for r in rows if r.secret}
        self.widget.masks = {
            r.name.lower(): crypto.mask(r.value) for r in rows if r.secret
        }

    def hold(self, values: dict[str, str]) -> None:
        """Values typed into a failed save: blank rows of these names take them."""
        self.held = dict(values)
        self.widget.held_names = {name.lower() for name in values}

    def key(self, name: str) -> str:
        return name.lower() if self.case_insensitive else name

    def clean(self, value: Any) -> list[RowValue]:
        rows = [
            row for row in value or [] if row["name"].strip() or row["value"].strip()
        ]
        errors: list[ValidationError] = []
        cleaned: list[RowValue] = []
        seen: set[str] = set()
        for number, row in enumerate(rows, start=1):
            name = row["name"].strip()
            try:
                cleaned.append(self.clean_row(name, row["value"], row["secret"], seen))
            except ValidationError as err:
                label = f"{self.row_label} {number}"
                if name and not validators.control_character(name):
                    label += f" ({name})"
                errors.extend(
                    ValidationError(f"{label}: {message}", code=e.code, params=e.params)
                    for e, message in zip(err.error_list, err.messages, strict=True)
                )
        if errors:
            raise ValidationError(errors)
        return cleaned

    def clean_row(
        self, name: str, value: str, secret: bool, seen: set[str]
    ) -> RowValue:
        if not name:
            raise ValidationError("enter a name.", code="missing_name")
        validators.validate_no_control_characters(name, what="The name")
        if self.name_validator:
            self.name_validator(name)
        if name in self.reserved:
            raise ValidationError(
                "“%(name)s” is built in; choose another name.",
                code="reserved_name",
                params={"name": name},
            )
        if self.key(name) in seen:
            raise ValidationError("appears twice; keep one.", code="duplicate_name")
        seen.add(self.key(name))
        value = value.strip()
        if not value:
            value = self.held.get(self.key(name), "")
        if secret and not value:
            value = self.kept.get(self.key(name), "")
        # After filling in a kept value too: one stored before this check existed
        # must not reach a request either.
        validators.validate_no_control_characters(value, what="The value")
        if not value and (secret or self.value_required):
            raise ValidationError("enter a value.", code="missing_value")
        return RowValue(name, value, secret)
