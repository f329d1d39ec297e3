"""Providers made from a preset through its setup screen, as an admin would make
them, but pointed at another host: the demo's providers on the sandbox, and the
same recipe for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from .. import presets
from ..forms.setup import FORMS
from ..models import Provider

PRESET_HOST = "https://sms.8x8.com"


def provider_from_preset(
    slug: str,
    *,
    base_url: str,
    values: dict[str, str],
    nickname: str,
    sender_type: str,
    sender_id: str = "smsbridge",
    **changes: Any,
) -> Provider:
    """Save a provider and its default sender from the preset `slug`, its host
    replaced by `base_url` and its variables given `values`; `changes` override
    any other field. ValueError, naming the fields, if the screen refuses it."""
    preset = presets.BY_SLUG[slug]
    initial = preset.initial()
    initial["endpoint"] = initial["endpoint"].replace(PRESET_HOST, base_url)
    for row in initial["variables"]:
        row["value"] = values[row["name"]]
    initial.update(
        nickname=nickname,
        sender_name=nickname,
        sender_id=sender_id,
        sender_type=sender_type,
        is_default=True,
        is_active=True,
        **changes,
    )
    form = FORMS[preset.screen](form_data(initial), instance=Provider())
    if not form.is_valid():
        raise ValueError(f"{nickname}: {form.errors.as_text()}")
    return form.save()


def form_data(initial: dict) -> QueryDict:
    """A setup screen's POST data from initial values (rows as parallel lists)."""
    data = QueryDict(mutable=True)
    for key, value in initial.items():
        if isinstance(value, list):
            data.setlist(f"{key}-name", [row["name"] for row in value])
            data.setlist(f"{key}-value", [row["value"] for row in value])
            data.setlist(
                f"{key}-secret", ["1" if row["secret"] else "0" for row in value]
            )
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        else:
            data[key] = str(value)
    return data
