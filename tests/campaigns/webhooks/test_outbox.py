"""Which status changes write webhook deliveries, in the transaction that makes
them: each one of a message an API token queued with a webhook listening, and
nothing at all (not even a query) for a campaign launched from the admin."""

from __future__ import annotations

from functools import partial

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import actions, fallback, sending
from campaigns.dlr.tracking import apply_updates
from campaigns.events import trigger_event
from campaigns.models import Campaign, Message, WebhookDelivery
from campaigns.recording import record
from providers import health
from providers.dlr import DeliveryState, StatusUpdate
from providers.models import Provider, Sender
from providers.outbound.outcomes import Category, Outcome
from providers.routes import Route, RouteStep

from ..fake_provider import FakeProvider, campaign_to, connect, numbers
from .conftest import NUMBER, new_endpoint

pytestmark = pytest.mark.django_db

Status = Message.Status
ACCEPTED = Outcome(Category.ACCEPTED, "Accepted.", provider_message_id="p-1")


def otp(api_token) -> Message:
    [message] = trigger_event(
        event="otp_requested", to=NUMBER, properties={"code": "1"}, api_token=api_token
    )
    return message


def told() -> list[tuple[str, str | None, str]]:
    """(status, previous status, failure category) of each delivery, in order."""
    return [
        (d.event, d.payload["previous_status"], d.payload["failure_category"])
        for d in WebhookDelivery.objects.order_by("pk")
    ]


def claimed(campaign: Campaign):
    return sending.claim(campaign_id=campaign.pk, limit=10, now=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_an_admin_campaign_asks_nothing_of_webhooks_while_sending_and_tracking() -> (
    None
):
    new_endpoint(None, "https://hooks.example.test/every-token")
    with FakeProvider() as fake:
        connect(fake.url)
        campaign = campaign_to(numbers(5))
        with CaptureQueriesContext(connection) as queries:
            sending.launch(campaign=campaign)
            sender = campaign.messages.first().sender
            apply_updates(
                provider=sender.provider,
                updates=[
                    StatusUpdate(message_id=m.message_id, state=DeliveryState.DELIVERED)
                    for m in campaign.messages.all()
                ],
            )
    assert fake.accepted_ids()
    assert set(campaign.messages.values_list("status", flat=True)) == {Status.DELIVERED}
    assert not [q for q in queries.captured_queries if "webhook" in q["sql"]]
    assert not WebhookDelivery.objects.exists()


def test_a_claim_carries_the_token_of_an_event_message(api_token, campaign) -> None:
    message = otp(api_token)

    [mine] = claimed(campaign)

    assert (mine.pk, mine.api_token_id) == (message.pk, api_token.pk)


def test_a_retry_and_a_final_failure_are_each_told_with_their_reason(
    api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    otp(api_token)
    now = timezone.now()
    server_error = Outcome.failure(Category.SERVER_ERROR, "500 from sms.example.test")
    refused = Outcome.failure(Category.BAD_REQUEST, "400 from sms.example.test")

    [first] = claimed(campaign)
    record([(first, server_error)], whole_claim=True, now=now)
    Message.objects.update(next_attempt_at=None)
    [second] = claimed(campaign)
    record([(second, refused)], whole_claim=True, now=now)

    assert told() == [
        ("queued", None, ""),
        ("queued", "queued", "server_error"),
        ("failed", "queued", "bad_request"),
    ]
    retry = WebhookDelivery.objects.order_by("pk")[1].payload
    assert retry["failure_reason"] == "500 from sms.example.test"
    assert retry["attempts"] == 1
    assert retry["next_attempt_at"] is not None


def test_a_report_that_beat_the_answer_leaves_no_stale_sent(
    api_token, campaign, provider
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    message = otp(api_token)
    [mine] = claimed(campaign)
    delivered = StatusUpdate(message_id=message.message_id, state="delivered")

    apply_updates(provider=provider, updates=[delivered])
    record([(mine, ACCEPTED)], whole_claim=True, now=timezone.now())

    assert told() == [("queued", None, ""), ("delivered", "sending", "")]


def test_a_change_rolled_back_writes_nothing_and_queues_nothing(
    api_token, campaign, django_capture_on_commit_callbacks
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")

    written = []

    def rolled_back() -> None:
        with transaction.atomic():
            otp(api_token)
            written.append(WebhookDelivery.objects.count())
            raise RuntimeError

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        rolled_back()

    assert written == [1]
    assert not WebhookDelivery.objects.exists()
    assert callbacks == []


def test_cancelling_an_event_campaign_tells_its_queued_messages(
    api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    otp(api_token)

    actions.cancel(campaign=campaign)

    assert told() == [("queued", None, ""), ("cancelled", "queued", "")]


def two_provider_route(campaign: Campaign) -> Route:
    route = Route.objects.create(name="Main route")
    for position, nickname in enumerate(["First SMS", "Second SMS"]):
        provider = Provider.objects.create(
            nickname=nickname, endpoint=f"https://{position + 1}.sms.example.test/"
        )
        sender = Sender.objects.create(provider=provider, name=nickname)
        RouteStep.objects.create(route=route, sender=sender, position=position)
    Campaign.objects.filter(pk=campaign.pk).update(route=route)
    return route


def test_a_message_a_route_hands_on_is_told_with_its_next_provider(
    api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    route = two_provider_route(campaign)
    otp(api_token)
    plan = route.plan()
    [mine] = claimed(campaign)
    refused = Outcome.failure(Category.AUTH, "401 from 1.sms.example.test")

    record(
        [(mine, refused)],
        whole_claim=True,
        now=timezone.now(),
        hand_on=partial(fallback.hand_on, plan=plan, sender=plan.lead),
    )

    [created, handed_on] = WebhookDelivery.objects.order_by("pk")
    assert created.payload["provider"] == "First SMS"
    assert handed_on.payload["status"] == "queued"
    assert handed_on.payload["provider"] == "Second SMS"
    assert handed_on.payload["failure_reason"].endswith("Handed to Second SMS.")


def test_a_message_moved_past_a_paused_provider_is_told_with_the_next_one(
    api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/x")
    route = two_provider_route(campaign)
    otp(api_token)
    plan = route.plan()
    health.pause(plan.lead.provider_id, reason="Outage")
    now = timezone.now()

    fallback.reroute(
        claimed(campaign),
        plan=plan,
        state=health.states([plan.lead.provider_id], now=now)[plan.lead.provider_id],
        now=now,
    )

    [created, moved] = WebhookDelivery.objects.order_by("pk")
    assert (created.payload["provider"], moved.payload["provider"]) == (
        "First SMS",
        "Second SMS",
    )
    assert (moved.payload["previous_status"], moved.payload["status"]) == (
        "queued",
        "queued",
    )
