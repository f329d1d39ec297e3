"""The campaign composer's server side: the live preview's starting point and
the launch confirmation page.

static/campaigns/composer.js personalises the message in the browser as
campaigns/personalise.py does, from the first audience row given here (or from
the first row of a file chosen but not uploaded yet).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.admin import ModelAdmin
from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from providers import encoding
from providers.message_templates import Mismatch
from providers.outbound.pipeline import Message as Outgoing
from providers.outbound.pipeline import Outbound, TemplateError
from providers.outbound.spec import SAMPLE_MESSAGE

from .. import placeholders, sending
from ..audience import PHONE_COLUMNS
from ..estimate import Estimate, estimate
from ..models import Campaign
from ..personalise import personalise

NO_AUDIENCE = "Upload an audience to preview the first message."


def segment_line(text: str) -> str:
    """The Send Test SMS counter's line, with the limit when it is passed."""
    info = encoding.analyse(text)
    limit = settings.SMS_MAX_SEGMENTS
    if info.segments <= limit:
        return info.summary
    return f"{info.summary} — over the limit of {limit}; shorten it."


def preview_html(campaign: Campaign) -> str:
    first = campaign.audience.order_by("pk").first() if campaign.pk else None
    row = {"to": first.to, "fields": first.fields} if first else None
    text = personalise(campaign.message, **row) if row else ""
    return format_html(
        '<output class="campaign-preview{}" id="campaign-preview" for="id_message" '
        'data-row="{}" data-phone-columns="{}" data-max-segments="{}" '
        'data-empty="{}">{}</output><div class="help" id="campaign-segments">{}</div>',
        "" if row else " empty",
        json.dumps(row) if row else "",
        ",".join(PHONE_COLUMNS),
        settings.SMS_MAX_SEGMENTS,
        NO_AUDIENCE,
        text if row else NO_AUDIENCE,
        segment_line(text if row else campaign.message),
    )


ROWS = ("headers", "url_parameters", "variables")


def request_preview_html(campaign: Campaign) -> str:
    """The request the first message would make, secrets masked, with the
    provider's placeholders filled as that message fills them."""
    sender = campaign.resolved_sender() if campaign.pk else None
    if sender is None:
        return "Save the campaign with a sender to preview its request."
    # The provider's rows once, for the request and for the secrets to mask.
    prefetch_related_objects([sender.provider], *ROWS)
    try:
        outbound = Outbound(sender.provider, sender)
    except TemplateError as err:
        return format_html('<p class="errornote">{}</p>', err.message)
    needs = outbound.compiled.custom_placeholders()
    first = campaign.audience.order_by("pk").first()
    if first is not None:
        to, fields = first.to, first.fields
    else:  # an event campaign's properties come with each event
        to, fields = SAMPLE_MESSAGE.to, {n: f"sample-{n}" for n in needs.per_message}
    body = personalise(campaign.message, to=to, fields=fields)
    values = placeholders.values_for(
        needs, given=campaign.placeholder_values, fields=fields
    )
    try:
        if campaign.template:
            template = campaign.template
            values |= placeholders.template_values(template, sender.provider, body)
        message = Outgoing(
            to=to,
            body=body,
            message_id="preview-message-id",
            campaign_id=str(campaign.pk),
            template_id=values.get("TemplateID", ""),
            template_variables=values.get("TemplateVariables", ""),
            extra=values,
        )
        shown = outbound.shown(outbound.render([message]))
    except (TemplateError, Mismatch) as err:
        return format_html('<p class="errornote">{}</p>', getattr(err, "message", err))
    headers = "\n".join(f"{name}: {value}" for name, value in shown.headers)
    return format_html(
        '<pre class="request-preview">{} {}\n{}\n\n{}</pre>',
        shown.method,
        shown.url,
        headers,
        shown.body.decode("utf-8", errors="replace"),
    )


@dataclass(frozen=True)
class ToLaunch:
    campaign: Campaign
    estimate: Estimate
    sender: str
    starts_at: str  # empty when it starts at once


def to_launch(campaign: Campaign) -> ToLaunch:
    """What the confirmation says about `campaign`; LaunchError if it cannot go."""
    sending.check_launchable(campaign)
    later = campaign.scheduled_at and campaign.scheduled_at > timezone.now()
    return ToLaunch(
        campaign=campaign,
        estimate=estimate(campaign),
        sender=str(campaign.resolved_sender()),
        starts_at=f"{timezone.localtime(campaign.scheduled_at):%Y-%m-%d %H:%M}"
        if later
        else "",
    )


def confirmation_page(
    request: HttpRequest,
    model_admin: ModelAdmin,
    launches: Iterable[ToLaunch],
    *,
    hidden: dict[str, list[str]],
    back_url: str,
) -> TemplateResponse:
    """Asks before launching; the form posts `hidden` back with `confirm`."""
    launches = list(launches)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Launch campaign?" if len(launches) == 1 else "Launch campaigns?",
        "launches": launches,
        "hidden": [(name, v) for name, values in hidden.items() for v in values],
        "back_url": back_url,
    }
    return TemplateResponse(
        request, "admin/campaigns/campaign/launch_confirmation.html", context
    )
