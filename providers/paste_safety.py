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

from . import credentials, guide_text, held_secrets, validators
from .credentials import CredentialFix
from .rendering import json_error_message

VALUE_FIELDS = ("endpoint", "basic_username")
ROW_FIELDS = ("headers", "url_parameters")


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
            field.widget.withheld.add(fix.name.lower())
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
        json.loads(scan.repaired)
    except json.JSONDecodeError as err:
        message = json_error_message(scan.repaired, err)
        errors.append(ValidationError(message, code="invalid_json"))
    return errors
