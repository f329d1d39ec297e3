"""The audit history of campaigns and API tokens: launch, cancel, retry,
a token created and deactivated, each with its user."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from campaigns.models import ApiToken, Campaign

from .admin.test_campaigns import ENDPOINT, Wire, do
from .fake_provider import campaign_to, connect, numbers

pytestmark = pytest.mark.django_db


@pytest.fixture
def wire():
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Wire(mock)


def labelled(obj) -> list[tuple[str, str]]:
    return [
        (
            (e.additional_data or {}).get("action", ""),
            e.actor.username if e.actor else "",
        )
        for e in LogEntry.objects.get_for_object(obj).order_by("pk")
    ]


def test_launch_cancel_and_retry_are_entries_with_their_user(
    admin_client, wire, django_capture_on_commit_callbacks
) -> None:
    connect(ENDPOINT)
    cancelled = campaign_to(numbers(2))
    do(admin_client, cancelled, "launch")  # its chunks queued, not run
    do(admin_client, cancelled, "cancel")
    retried = campaign_to(numbers(2))
    wire.refused = set(numbers(2))
    with django_capture_on_commit_callbacks(execute=True):
        do(admin_client, retried, "launch")
    wire.refused = set()
    do(admin_client, retried, "retry")

    assert labelled(cancelled)[-3:] == [
        ("Launched", "admin"),
        ("Launched", "admin"),
        ("Cancelled", "admin"),
    ]
    assert labelled(retried)[-1] == ("Retried failed", "admin")
    launch = LogEntry.objects.get_for_object(cancelled).order_by("pk")[2]
    assert launch.changes["status"] == ["draft", "sending"]
    page = admin_client.get(
        reverse("admin:campaigns_campaign_history", args=[cancelled.pk])
    ).content.decode()
    assert "Cancelled" in page
    assert Campaign.objects.get(pk=cancelled.pk).status == "cancelled"


def test_a_refused_launch_records_nothing(admin_client) -> None:
    campaign = campaign_to(numbers(1))  # no sender: the launch is refused

    do(admin_client, campaign, "launch")

    assert ("Launched", "admin") not in labelled(campaign)


def test_token_created_and_deactivated_with_the_user_never_the_token(
    admin_client,
) -> None:
    added = admin_client.post(
        reverse("admin:campaigns_apitoken_add"),
        {"name": "app-backend", "can_send": "on", "can_read": "on"},
        follow=True,
    )
    token = ApiToken.objects.get()
    shown = [str(m) for m in added.context["messages"]][0].split()[3]
    admin_client.post(
        reverse("admin:campaigns_apitoken_changelist"),
        {"action": "deactivate", "_selected_action": [token.pk]},
    )

    created, deactivated = LogEntry.objects.get_for_object(token).order_by("pk")
    assert created.additional_data == {"action": "Token created"}
    assert deactivated.additional_data == {"action": "Token deactivated"}
    assert deactivated.changes == {"is_active": ["True", "False"]}
    assert {created.actor.username, deactivated.actor.username} == {"admin"}
    assert shown.startswith("sb_")
    for entry in (created, deactivated):
        text = str(entry.changes) + entry.object_repr
        assert shown not in text
        assert token.token_hash not in text
