"""make run's demo: an admin, the two sandbox providers and a route through both,
made once however often it runs."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from providers.models import Provider
from providers.routes import Route


@pytest.mark.django_db
def test_the_demo_is_made_once_with_a_route_through_both_sandbox_providers() -> None:
    for _ in range(2):
        call_command("seed_demo", url="http://127.0.0.1:8000", stdout=io.StringIO())

    assert (
        get_user_model().objects.filter(username="admin", is_superuser=True).count()
        == 1
    )
    assert Provider.objects.count() == 2
    route = Route.objects.get()
    steps = [step.sender.provider.nickname for step in route.steps.order_by("position")]
    assert steps == ["8x8 sandbox (MoEngage style)", "8x8 sandbox (CleverTap style)"]
    plan = route.plan()
    assert [s.provider.nickname for s in plan.chain("+6591234567")] == steps
