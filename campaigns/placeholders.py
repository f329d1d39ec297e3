"""Where a message's custom provider placeholders get their values.

A placeholder rendered once a request (outside a batch's records, or in the
endpoint and headers of a batch) takes the campaign's value, as CleverTap asks
for custom replacements on the campaign. One rendered per message takes the
recipient's audience column or event property of the same name, else the
campaign's value. None is ever sent empty: a campaign whose values are missing
cannot launch, and an event that lacks one is refused.

A campaign's DLT template gives every message $$TemplateID and the
$$TemplateVariables read from its text, which must follow the template.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from providers.message_templates import MessageTemplate
from providers.models import Provider, Sender
from providers.outbound.rendering import CustomPlaceholders
from providers.outbound.spec import custom_placeholders


def needed(sender: Sender) -> CustomPlaceholders:
    return custom_placeholders(sender.provider, sender=sender)


def missing(
    needs: CustomPlaceholders, *, given: Mapping[str, str], columns: Set[str]
) -> list[str]:
    """Names without a value: per-request ones not given, per-message ones
    neither given nor among the recipient's `columns`."""
    absent = {name for name in needs.per_request if name not in given}
    absent |= {n for n in needs.per_message if n not in given and n not in columns}
    return sorted(absent)


def values_for(
    needs: CustomPlaceholders, *, given: Mapping[str, str], fields: Mapping[str, Any]
) -> dict[str, str]:
    """What one message fills its placeholders with."""
    values = {name: given[name] for name in needs.names if name in given}
    values.update(
        {name: str(fields[name]) for name in needs.per_message if name in fields}
    )
    return values


def template_values(
    template: MessageTemplate, provider: Provider, text: str
) -> dict[str, str]:
    """$$TemplateID and $$TemplateVariables for one text; Mismatch if the text
    leaves its template."""
    return template.placeholders(
        text, variables_format=provider.template_variables_format
    )


def template_problem(
    template: MessageTemplate | None, sender: Sender, needs: CustomPlaceholders
) -> str:
    """Why messages of `sender`, whose request `needs`, cannot go out under
    `template`, or ""."""
    if template is None:
        if needs.template:
            return (
                f"The request of {sender.provider} uses $$TemplateID: choose the DLT "
                "template the message follows."
            )
        return ""
    if template.sender_id != sender.pk and not same_header(template.sender, sender):
        return (
            f"The DLT template “{template.name}” is registered for the sender "
            f"{template.sender}; this campaign sends as {sender}."
        )
    return ""


def same_header(registered: Sender, sender: Sender) -> bool:
    """A route's other providers may send under the template too when they
    send as the same DLT header (sender ID) it is registered for."""
    return bool(registered.sender_id) and registered.sender_id == sender.sender_id
