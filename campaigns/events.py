"""Event-triggered campaigns: one event in, one message per active campaign out.

An event campaign becomes active when it is launched (launch creates no messages
for it and sets it sending); every matching event then adds a message to it and
wakes a worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from providers.message_templates import Mismatch
from providers.models import Sender
from providers.validators import validate_segment_count

from . import counts, placeholders, tasks
from .models import ApiToken, Campaign, Message, OptOut
from .personalise import missing_fields, personalise
from .senders import Senders
from .webhooks import outbox


class EventError(Exception):
    """Why an event sent nothing, in words for the API caller."""


class UnknownEvent(EventError):
    def __init__(self, event: str) -> None:
        super().__init__(
            f"No active campaign is triggered by the event “{event}”; launch an "
            "event-triggered campaign with this event name first."
        )
        self.event = event


class MissingProperties(EventError):
    def __init__(
        self, event: str, missing: list[str], *, user: str = "the message"
    ) -> None:
        names = ", ".join(missing)
        super().__init__(f"The event “{event}” lacks properties {user} uses: {names}.")
        self.event, self.missing = event, missing


class CampaignNotSendable(EventError):
    def __init__(self, campaign: Campaign, reason: str) -> None:
        super().__init__(f"The campaign “{campaign}” cannot send: {reason}")
        self.campaign = campaign


class OffTemplate(EventError):
    """The event's text leaves its campaign's DLT template."""

    def __init__(self, campaign: Campaign, error: Mismatch) -> None:
        super().__init__(f"The campaign “{campaign}”: {error}")
        self.campaign = campaign


class MessageTooLong(EventError):
    def __init__(self, campaign: Campaign, error: ValidationError) -> None:
        super().__init__(f"The campaign “{campaign}”: {error.messages[0]}")
        self.campaign = campaign
        self.segments = error.params["segments"]
        self.limit = error.params["limit"]


def active_campaigns(event: str) -> list[Campaign]:
    return list(
        Campaign.objects.select_related("sender__provider", "route")
        .filter(
            kind=Campaign.Kind.EVENT,
            status=Campaign.Status.SENDING,
            event_name=event,
        )
        .order_by("pk")
    )


def trigger_event(
    *,
    event: str,
    to: str,
    properties: Mapping[str, Any],
    api_token: ApiToken | None = None,
) -> list[Message]:
    """Queue a message to `to` (E.164) for every active campaign of `event`,
    each remembering `api_token` for its status webhooks.

    Every campaign is checked before any message is created, so an event that
    fails for one campaign sends nothing at all.
    """
    campaigns = active_campaigns(event)
    if not campaigns:
        raise UnknownEvent(event)
    missing = sorted(
        {name for c in campaigns for name in missing_fields(c.message, {*properties})}
    )
    if missing:
        raise MissingProperties(event, missing)
    routes = {c.pk: Senders(c) for c in campaigns}
    senders = {c.pk: sender_for(c, routes[c.pk], to) for c in campaigns}
    # The providers' requests, compiled once: what each message must fill in.
    needs = {c.pk: routes[c.pk].needs() for c in campaigns}
    for c in campaigns:
        problem = routes[c.pk].template_problem()
        if problem:
            raise CampaignNotSendable(c, problem)
    fields = {name: str(value) for name, value in properties.items()}
    values = {
        c.pk: placeholder_values(c, senders[c.pk], needs[c.pk], event, fields)
        for c in campaigns
    }
    bodies = {c.pk: checked_body(c, to=to, fields=fields) for c in campaigns}
    for campaign in campaigns:
        values[campaign.pk] |= template_values(
            campaign, senders[campaign.pk], bodies[campaign.pk]
        )
    opted_out = OptOut.objects.filter(to=to).exists()
    with transaction.atomic():
        created = [
            Message.objects.create(
                **message_fields(
                    campaign,
                    sender=senders[campaign.pk],
                    to=to,
                    body=bodies[campaign.pk],
                ),
                placeholders=values[campaign.pk],
                api_token=api_token,
                **skipped_fields(routes[campaign.pk], opted_out=opted_out),
            )
            for campaign in campaigns
        ]
        # Before the wake-ups, so a webhook hears "queued" before "sent".
        tell_webhooks(created)
        for message in created:
            state = (message.status, message.failure_category)
            counts.add(message.campaign_id, counts.created([state]))
            if message.status == Message.Status.QUEUED:
                wake(message.campaign_id)
    return created


def tell_webhooks(created: list[Message]) -> None:
    now = timezone.now()
    for status in sorted({m.status for m in created}):
        same = [m for m in created if m.status == status]
        outbox.note(outbox.changed(same, status=status, previous=None, at=now))


def sender_for(campaign: Campaign, senders: Senders, to: str) -> Sender:
    # Checked again at every event: the default sender, the route or their
    # providers may have changed since the campaign was launched.
    problem = senders.problem()
    if problem:
        raise CampaignNotSendable(campaign, problem[0].lower() + problem[1:])
    sender, _ = senders.first(to)
    if sender is None:
        raise CampaignNotSendable(campaign, senders.unroutable(to))
    return sender


def placeholder_values(
    campaign: Campaign,
    sender: Sender,
    needs: placeholders.CustomPlaceholders,
    event: str,
    fields: Mapping[str, str],
) -> dict[str, str]:
    """The provider's custom placeholders for this event's message: from its
    properties, else the campaign's values."""
    given = campaign.placeholder_values
    missing = placeholders.missing(needs, given=given, columns=set(fields))
    if missing:
        user = f"the request of {sender.provider}"
        raise MissingProperties(event, missing, user=user)
    return placeholders.values_for(needs, given=given, fields=fields)


def template_values(campaign: Campaign, sender: Sender, body: str) -> dict[str, str]:
    if not campaign.template:
        return {}
    try:
        return placeholders.template_values(campaign.template, sender.provider, body)
    except Mismatch as err:
        raise OffTemplate(campaign, err) from err


def checked_body(campaign: Campaign, *, to: str, fields: Mapping[str, str]) -> str:
    # Properties can make any message long: the limit holds for the text as sent.
    body = personalise(campaign.message, to=to, fields=fields)
    try:
        validate_segment_count(body)
    except ValidationError as err:
        raise MessageTooLong(campaign, err.error_list[0]) from err
    return body


def message_fields(
    campaign: Campaign, *, sender: Sender, to: str, body: str
) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "sender": sender,
        "message_id": uuid.uuid4().hex,
        "to": to,
        "body": body,
    }


def skipped_fields(senders: Senders, *, opted_out: bool) -> dict[str, Any]:
    if opted_out and senders.honours_opt_outs:
        return {
            "status": Message.Status.SKIPPED,
            "failure_category": "opted_out",
            "failure_reason": "The number is on the opt-out list.",
        }
    return {"status": Message.Status.QUEUED}


def wake(campaign_id: int) -> None:
    # After commit, so the worker finds the row it is woken for.
    transaction.on_commit(lambda: tasks.wake(campaign_id))
