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
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from providers import encoding

from .. import sending
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
