"""Admin lists of many rows (providers/admin/volume.py)."""

from __future__ import annotations

import pytest
from django.contrib import admin

from campaigns.models import Campaign, Message
from providers.admin.volume import LargeList

pytestmark = pytest.mark.django_db


def test_a_large_list_writes_the_same_action_checkbox_django_renders() -> None:
    campaign = Campaign.objects.create(name="Sale <b>", message="Hi")
    message = Message.objects.create(
        campaign=campaign, message_id="m-1", to="+6591234567", body="Hi"
    )
    model_admin = admin.site._registry[Message]
    assert isinstance(model_admin, LargeList)
    ours = model_admin.action_checkbox(message)
    assert ours == admin.ModelAdmin.action_checkbox(model_admin, message)
    assert 'aria-label="Select this object for an action - +6591234567' in ours
