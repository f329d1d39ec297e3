"""DLT message templates (India): a registered text whose {#var#} slots are the
only parts a message may change. Operators refuse a commercial SMS whose text
does not match its registered template, the usual cause of DLT rejections, so
smsbridge checks every text before it is sent and reads its variables from it.

Template and its functions are pure; MessageTemplate is the record an admin
keeps, and DltSettings what a provider's request needs of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.validators import RegexValidator
from django.db import models

SLOT = "{#var#}"
# TRAI's limit for the text one {#var#} stands for.
MOST_VARIABLE_CHARS = 30
SPACES = re.compile(r"\s+")


class Mismatch(ValueError):
    """A text that its template would not let through, said where and why."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str  # as registered, with {#var#} slots

    @property
    def literals(self) -> list[str]:
        return self.text.split(SLOT)

    @property
    def slots(self) -> int:
        return self.text.count(SLOT)

    def variables_of(self, text: str) -> list[str]:
        """The values `text` gives the slots; Mismatch if it is not the
        registered text with only its slots changed."""
        match = pattern(self.literals).fullmatch(text)
        if match is None:
            raise Mismatch(self.mismatch(text))
        values = list(match.groups())
        for number, value in enumerate(values, start=1):
            if len(value) > MOST_VARIABLE_CHARS:
                raise Mismatch(
                    f"Variable {number} of the template “{self.name}” is "
                    f"{len(value)} characters (“{value[:40]}…”); DLT allows at most "
                    f"{MOST_VARIABLE_CHARS}."
                )
        return values

    def mismatch(self, text: str) -> str:
        """Where `text` leaves its template: after the longest run of the
        template's parts that it does follow."""
        literals = self.literals
        for count in range(len(literals), 0, -1):
            if pattern(literals[:count]).match(text):
                break
        else:
            count = 0
        if count == 0:
            expected = literals[0]
            return (
                f"The text does not match the DLT template “{self.name}”: it must "
                f"start with “{shown(expected)}”."
            )
        if count == len(literals):
            return (
                f"The text does not match the DLT template “{self.name}”: it goes on "
                f"after “{shown(literals[-1])}”, where the template ends."
            )
        return (
            f"The text does not match the DLT template “{self.name}”: after "
            f"“{shown(literals[count - 1])}” it must go on with a variable and then "
            f"“{shown(literals[count])}”. Only the template's {{#var#}} parts may "
            "change."
        )


def pattern(literals: Sequence[str]) -> re.Pattern[str]:
    """A regex for the template's parts with a variable between each two; runs
    of white space match any white space."""
    parts = [r"\s+".join(map(re.escape, SPACES.split(part))) for part in literals]
    return re.compile(r"(.*?)".join(parts), re.S)


def shown(literal: str, most: int = 40) -> str:
    literal = literal.strip() or literal
    return literal if len(literal) <= most else "…" + literal[-most:]


def formatted(values: Sequence[str], style: str) -> str:
    """$$TemplateVariables as the provider reads them."""
    if style == "pipe":
        return "|".join(values)
    if style == "comma":
        return ",".join(values)
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


class VariablesFormat(models.TextChoices):
    JSON = "json", "JSON array"
    PIPE = "pipe", "Pipe-separated (a|b)"
    COMMA = "comma", "Comma-separated (a,b)"


class DltSettings(models.Model):
    """A provider's part: how its request writes $$TemplateVariables."""

    template_variables_format = models.CharField(
        "template variables format",
        max_length=10,
        choices=VariablesFormat,
        default=VariablesFormat.JSON,
        help_text="How $$TemplateVariables is written: a JSON array "
        '(["Ann","1234"]), or the values separated by | or by commas.',
    )

    class Meta:
        abstract = True


DLT_ID = RegexValidator(
    r"^\d{1,30}$", "Enter the ID's digits as the DLT platform gives it."
)


class MessageTemplate(models.Model):
    """A DLT template as registered for a sender ID (header)."""

    name = models.CharField("name", max_length=100, unique=True)
    template_id = models.CharField(
        "DLT template ID",
        max_length=30,
        validators=[DLT_ID],
        help_text="The template's ID on the DLT platform, e.g. 1107161234567890123.",
    )
    text = models.TextField(
        "registered text",
        help_text="Exactly as registered, with {#var#} for each part a message may "
        "change (at most 30 characters each).",
    )
    sender = models.ForeignKey(
        "providers.Sender",
        on_delete=models.PROTECT,
        related_name="message_templates",
        help_text="The sender ID (header) the template is registered for; its "
        "sender type is the template's.",
    )
    entity_id = models.CharField(
        "DLT entity ID (PE ID)",
        max_length=30,
        validators=[DLT_ID],
        help_text="The principal entity the sender belongs to.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "DLT message template"

    def __str__(self) -> str:
        return f"{self.name} ({self.template_id})"

    @property
    def registered(self) -> Template:
        return Template(self.name, self.text)

    def placeholders(self, text: str, *, variables_format: str) -> dict[str, str]:
        """$$TemplateID and $$TemplateVariables of one text, the variables read
        from it; Mismatch if the text leaves this template."""
        variables = self.registered.variables_of(text)
        return {
            "TemplateID": self.template_id,
            "TemplateVariables": formatted(variables, variables_format),
        }
