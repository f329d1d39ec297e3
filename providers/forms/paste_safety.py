"""The setup screens' checks for text pasted from a provider's guide, and the
courtesy of keeping typed secrets across a failed save.

A mixin of ProviderForm, kept apart so that forms.py stays about fields. Every
check here runs whatever else is wrong with the form, so that one save reports
every problem of a pasted guide at once.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError

from .. import bounded_json, validators
from ..outbound.rendering import BUILTIN_VARIABLES, json_error_message
from . import credentials, guide_text, held_secrets
from .credentials import CredentialFix

VALUE_FIELDS = ("endpoint", "basic_username")
ROW_FIELDS = ("headers", "url_parameters")
# The errors "Use smsbridge's placeholders" answers.
GUIDE_FIX_CODES = frozenset({"guide_placeholder", "invalid_json", "undefined_variable"})


class PasteSafetyMixin:
    """Needs a Django form with `headers`, `variables` and `payload` fields."""

    def start_paste_safety(self) -> None:
        self.credential_fixes: list[CredentialFix] = []
        self.held_token = ""
        token = self.data.get(held_secrets.FIELD, "") if self.is_bound else ""
        self.held = held_secrets.unseal(token, provider_pk=self.instance.pk)
        for name, _ in self.row_models():
            self.fields[name].hold(self.held.rows.get(name, {}))
        if self.held.basic_password and "basic_password" in self.fields:
            self.fields["basic_password"].widget.attrs["placeholder"] = (
                "Kept from your last attempt — leave blank to keep"
            )

    @property
    def secrets_held_note(self) -> str:
        return held_secrets.NOTE if self.held_token else ""

    def fixes_json(self) -> list[dict[str, str]]:
        return [fix.public() for fix in self.credential_fixes]

    # --- guide placeholders --------------------------------------------------------

    def check_guide_text(self, cleaned: dict[str, Any]) -> None:
        for name in VALUE_FIELDS:
            for message in guide_text.scan_value(cleaned.get(name) or ""):
                self.add_error(name, ValidationError(message, code="guide_placeholder"))
        for name in ROW_FIELDS:
            self._check_rows_guide_text(name, cleaned.get(name) or [])
        if cleaned.get("method") == "POST" and (cleaned.get("payload") or "").strip():
            self._check_payload_text(cleaned["payload"], cleaned.get("body_type"))

    def _check_rows_guide_text(self, name: str, rows: list) -> None:
        if name not in self.fields:
            return
        label = self.fields[name].row_label
        errors = [
            ValidationError(
                f"{label} {number} ({row.name}): {message}", code="guide_placeholder"
            )
            for number, row in enumerate(rows, start=1)
            for message in guide_text.scan_value(row.value)
        ]
        if errors:
            self.add_error(name, errors)

    def _check_payload_text(self, payload: str, body_type: str | None) -> None:
        if body_type == "form":
            errors = [
                ValidationError(f"Line {number}: {message}", code="guide_placeholder")
                for number, line in enumerate(payload.splitlines(), start=1)
                for message in guide_text.scan_value(line)
            ]
        else:
            errors = json_payload_errors(payload)
        if errors:
            self.add_error("payload", errors)

    # --- the one-click fix ------------------------------------------------------------

    def guide_fix(self) -> dict[str, Any] | None:
        """The texts of a failed form rewritten as its guide-placeholder messages
        say, and the provider variables they then need, added blank; None when no
        error asks for it. Built from the form's data as the page shows it, so a
        secret the page does not show is not in it either."""
        where = [
            name
            for name, errors in (self.errors.as_data() if self.is_bound else {}).items()
            if any(error.code in GUIDE_FIX_CODES for error in errors)
        ]
        if not where:
            return None
        fields, rows = self._fixed_fields(), self._fixed_rows()
        variables = self._variables_needed(fields, rows)
        if not (fields or rows or variables):
            return None
        names = ", ".join(v["name"] for v in variables)
        label = "Use smsbridge's placeholders"
        if not (fields or rows):
            label = f"Add variable{'s' if len(variables) > 1 else ''} {names}"
        return {
            "label": label,
            "where": where,
            "fields": fields,
            "rows": rows,
            "variables": variables,
        }

    def _fixed_fields(self) -> dict[str, str]:
        """Changed single fields only, payload included."""
        fixed = {
            name: guide_text.fix_value(self.data.get(name, ""))
            for name in VALUE_FIELDS
            if name in self.fields
        }
        payload = self.data.get("payload", "")
        if payload.strip():
            fixed["payload"] = self._fixed_payload(payload)
        return {k: v for k, v in fixed.items() if v != self.data.get(k, "")}

    def _fixed_payload(self, payload: str) -> str:
        body_type = self.data.get("body_type") or "json"
        if body_type != "form":
            fixed = guide_text.fix_json(payload)
        else:
            lines = payload.splitlines(keepends=True)
            fixed = "".join(guide_text.fix_value(line) for line in lines)
        # A key typed into a payload that only now parses goes to its variable,
        # as the page would otherwise get it back in the clear.
        for fix in credentials.in_payload(fixed, body_type, self._variable_names()):
            fixed = credentials.withhold_in_payload(fixed, fix, body_type)
        return fixed

    def _fixed_rows(self) -> list[dict[str, str]]:
        """Changed rows only; never a secret row, whose value the page lacks."""
        fixed = []
        for name in ROW_FIELDS:
            for row in self._raw_rows(name):
                new = guide_text.fix_value(row["value"])
                withheld = row["name"].lower() in self.fields[name].widget.withheld
                if new != row["value"] and not (row["secret"] or withheld):
                    fixed.append(
                        {"field": name, "name": row["name"].strip(), "value": new}
                    )
        return fixed

    def _variables_needed(
        self, fields: dict[str, str], rows: list[dict[str, str]]
    ) -> list[dict[str, Any]]:
        """Variables the fixed texts use that no row defines yet, in order."""
        fixed_rows = {(r["field"], r["name"]): r["value"] for r in rows}
        texts = [fields.get(name, self.data.get(name, "")) for name in VALUE_FIELDS]
        texts += [
            fixed_rows.get((name, row["name"].strip()), row["value"])
            for name in ROW_FIELDS
            for row in self._raw_rows(name)
        ]
        texts.append(fields.get("payload", self.data.get("payload", "")))
        known = self._variable_names() | set(BUILTIN_VARIABLES)
        return [
            {"name": name, "secret": bool(credentials.CREDENTIAL_NAME.search(name))}
            for name in guide_text.variables_used(texts)
            if name not in known
        ]

    def _variable_names(self) -> set[str]:
        return {
            row["name"].strip()
            for row in self._raw_rows("variables")
            if row["name"].strip()
        }

    def _raw_rows(self, name: str) -> list[dict[str, Any]]:
        """A row field's rows as posted, before any validation."""
        if name not in self.fields:
            return []
        widget = self.fields[name].widget
        return widget.value_from_datadict(self.data, self.files, name)

    # --- keys typed in the clear ----------------------------------------------------

    def check_credentials(self, cleaned: dict[str, Any]) -> None:
        taken = {row.name for row in cleaned.get("variables") or []}
        for name in ROW_FIELDS:
            if name not in self.fields or name not in cleaned:
                continue
            found = credentials.in_rows(name, cleaned[name], taken)
            label = self.fields[name].row_label
            for number, fix in found:
                self._refuse(fix, f"{label} {number} ({fix.name})")
        if cleaned.get("method") == "POST":
            payload, body_type = cleaned.get("payload") or "", cleaned.get("body_type")
            for fix in credentials.in_payload(payload, body_type or "json", taken):
                self._refuse(fix, f"“{fix.name}”")

    def _refuse(self, fix: CredentialFix, where: str) -> None:
        self.credential_fixes.append(fix)
        use = (
            f'"{fix.name}": "{fix.template}"'
            if fix.field == "payload"
            else (fix.template)
        )
        message = (
            f"{where} holds a key typed in the clear, which everyone who opens this "
            f"page would see. Move it to a secret variable: a provider variable "
            f"{fix.variable} marked Secret holding the key, and {use} here"
            + (" — or mark this row Secret." if fix.field != "payload" else ".")
        )
        self.add_error(fix.field, ValidationError(message, code="literal_credential"))

    # --- sender-ID limits of a known provider ---------------------------------------

    def check_sender_rules(self, cleaned: dict[str, Any]) -> None:
        try:
            validators.validate_sender_for_endpoint(
                cleaned.get("sender_id") or "", cleaned.get("endpoint") or ""
            )
        except ValidationError as err:
            self.add_error("sender_id", err)

    # --- secrets kept across a failed save ------------------------------------------

    def hold_typed_secrets(self) -> None:
        """Seal what this attempt typed, and keep it out of the re-rendered page."""
        held = self.held
        data = self.data.copy()
        for name, _ in self.row_models():
            self._hold_rows(name, held)
        for fix in self.credential_fixes:
            self._hold_fix(fix, held, data)
        typed_password = self.data.get("basic_password", "")
        if typed_password and "basic_password" in self.fields:
            held.basic_password = typed_password
        typed_secret = self.data.get("oauth_client_secret", "")
        if typed_secret and "oauth_client_secret" not in self.errors:
            held.oauth_client_secret = typed_secret
        self._hold_dlr_credentials(held, data)
        self.data = data
        self.held_token = held_secrets.seal(held, provider_pk=self.instance.pk)

    def _hold_rows(self, name: str, held: held_secrets.Held) -> None:
        field = self.fields[name]
        raw = field.widget.value_from_datadict(self.data, self.files, name)
        for row in raw:
            if row["secret"] and row["value"].strip() and row["name"].strip():
                held.hold_row(
                    name, field.key(row["name"].strip()), row["value"].strip()
                )
        field.hold(held.rows.get(name, {}))

    def _hold_fix(self, fix: CredentialFix, held: held_secrets.Held, data: Any) -> None:
        held.hold_row("variables", fix.variable, fix.secret)
        if fix.field == "payload":
            data["payload"] = credentials.withhold_in_payload(
                data.get("payload", ""), fix, data.get("body_type", "json")
            )
        else:
            field = self.fields[fix.field]
            held.hold_row(fix.field, field.key(fix.name), fix.literal)
            # A new set: the widget's own is shared with every other form (Django
            # copies widgets shallowly), so adding to it would hide this row's
            # value on every later page.
            field.widget.withheld = field.widget.withheld | {fix.name.lower()}
            field.hold(held.rows[fix.field])

    def _hold_dlr_credentials(self, held: held_secrets.Held, data: Any) -> None:
        typed = self.data.get("dlr_credentials", "").strip()
        if typed and typed != "-" and "dlr_credentials" not in self.errors:
            held.dlr_credentials = typed
        if "dlr_credentials" in data:
            data["dlr_credentials"] = ""


def json_payload_errors(payload: str) -> list[ValidationError]:
    """Every comment and guide placeholder, then the first other JSON error."""
    scan = guide_text.scan_json(payload)
    errors = [ValidationError(f.message, code=f.code) for f in scan.findings]
    try:
        bounded_json.loads(scan.repaired)
    except bounded_json.TooDeep as err:
        errors.append(ValidationError(str(err), code="too_deep"))
    except json.JSONDecodeError as err:
        message = json_error_message(scan.repaired, err)
        errors.append(ValidationError(message, code="invalid_json"))
    return errors
