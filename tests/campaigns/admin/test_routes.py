"""Campaigns on a route in the admin: choosing a route instead of a sender, the
campaign page's breakdown by provider, and the message list's provider column
and filter.

The providers are mocked at the HTTP wire with `responses`; each answers by
the number it is sent, so a test says which provider refuses which number.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from campaigns import sending
from campaigns.dlr import tracking
from campaigns.models import Campaign, Message
from providers.dlr import DeliveryState, StatusUpdate
from providers.models import Sender
from providers.routes import Route, RouteStep

from ..fake_provider import campaign_to, numbers, route_sender
from .test_campaigns import add_form, form_errors

pytestmark = pytest.mark.django_db

FIRST_URL = "https://first.example.test/send"
SECOND_URL = "https://second.example.test/send"
ADD_URL = "/admin/campaigns/campaign/add/"
MESSAGES_URL = "/admin/campaigns/message/"
Status = Message.Status


class Wire:
    """Both providers' end of the wire: `refuses[url]` maps a number to the
    status that provider answers it with; every other number is accepted."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.refuses: dict[str, dict[str, int]] = {FIRST_URL: {}, SECOND_URL: {}}
        self.sent: dict[str, list[str]] = {FIRST_URL: [], SECOND_URL: []}
        for url in (FIRST_URL, SECOND_URL):
            mock.add_callback(responses.POST, url, callback=self.answer(url))

    def answer(self, url: str):
        def reply(request) -> tuple[int, dict[str, str], str]:
            sent = json.loads(request.body)
            self.sent[url].append(sent["to"])
            status = self.refuses[url].get(sent["to"])
            if status:
                return status, {}, json.dumps({"error": f"refused with {status}"})
            headers = {"Content-Type": "application/json"}
            return 200, headers, json.dumps({"id": "p-" + sent["mid"]})

        return reply


@pytest.fixture
def wire():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Wire(mock)


@pytest.fixture
def first() -> Sender:
    return route_sender(FIRST_URL, "First SMS")


@pytest.fixture
def second() -> Sender:
    return route_sender(SECOND_URL, "Second SMS")


@pytest.fixture
def route(first: Sender, second: Sender) -> Route:
    route = Route.objects.create(name="First, else second", attempts_per_provider=1)
    RouteStep.objects.create(route=route, sender=first, position=0)
    RouteStep.objects.create(route=route, sender=second, position=1)
    return route


def routed_campaign(route: Route, audience: list[str]) -> Campaign:
    campaign = campaign_to(audience)
    campaign.route = route
    campaign.save(update_fields=["route"])
    return campaign


def send_all(campaign: Campaign) -> None:
    """Launch, then run later rounds until no message waits (fallbacks wait
    for the next round)."""
    sending.launch(campaign=campaign)
    now = timezone.now()
    for _ in range(10):
        sending.process_chunk(campaign_id=campaign.pk)
        now += timedelta(seconds=30)
        sending.process_chunk(campaign_id=campaign.pk, now=now)
        if not campaign.messages.filter(status=Status.QUEUED).exists():
            return
    raise AssertionError("messages still queued after ten rounds")


def report(sender: Sender, message: Message, state: str) -> None:
    result = tracking.apply_updates(
        provider=sender.provider,
        updates=[StatusUpdate(message_id=message.message_id, state=state)],
    )
    assert result.applied == 1


# --- the campaign form ---------------------------------------------------------------


def campaign_form(**fields: str) -> dict:
    return add_form(message="Sale today", audience_numbers="+6591234567", **fields)


def test_the_form_refuses_a_sender_and_a_route_together(
    admin_client, first, route
) -> None:
    response = admin_client.post(
        ADD_URL,
        campaign_form(sender=str(first.pk), route=str(route.pk)),
    )

    errors = form_errors(response)
    assert list(errors) == ["route"]
    assert [e.code for e in errors.as_data()["route"]] == ["sender_and_route"]
    assert not Campaign.objects.exists()


def test_the_form_saves_a_campaign_on_a_route_alone(admin_client, route) -> None:
    response = admin_client.post(ADD_URL, campaign_form(route=str(route.pk)))

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.route, campaign.sender) == (route, None)
    listed = admin_client.get("/admin/campaigns/campaign/").content.decode()
    assert "Route: First, else second" in listed


@pytest.mark.parametrize("value", ["abc", "99999", "-1", "1.5"])
def test_the_form_refuses_a_route_that_does_not_exist(
    admin_client, route, value: str
) -> None:
    response = admin_client.post(ADD_URL, campaign_form(route=value))

    assert list(form_errors(response)) == ["route"]
    assert not Campaign.objects.exists()


# --- the campaign page: by provider ---------------------------------------------------


def provider_rows(page: str) -> dict[str, dict[str, int]]:
    """The "By provider" table: each provider's figures by column."""
    match = re.search(r"<table[^>]*data-providers>(.*?)</table>", page, re.S)
    assert match, "no By provider table"
    rows = {}
    for provider, cells in re.findall(
        r'<tr data-provider="([^"]*)">(.*?)</tr>', match.group(1), re.S
    ):
        figures = re.findall(r'<td data-col="(\w+)">(\d+)</td>', cells)
        rows[html.unescape(provider)] = {col: int(n) for col, n in figures}
    return rows


def test_the_campaign_page_breaks_a_route_campaign_down_by_provider(
    admin_client, wire, route, first, second
) -> None:
    audience = numbers(6)
    # The first provider is down for two numbers: both move to the second,
    # which refuses one of them as a bad request (no fallback from that).
    wire.refuses[FIRST_URL] = {audience[4]: 500, audience[5]: 500}
    wire.refuses[SECOND_URL] = {audience[5]: 400}
    campaign = routed_campaign(route, audience)
    send_all(campaign)
    by_number = {m.to: m for m in campaign.messages.all()}
    report(first, by_number[audience[0]], DeliveryState.DELIVERED)
    report(first, by_number[audience[1]], DeliveryState.FAILED)
    report(second, by_number[audience[4]], DeliveryState.DELIVERED)

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")

    assert page.status_code == 200
    assert provider_rows(page.content.decode()) == {
        "First SMS": {
            "accepted": 4,
            "delivered": 1,
            "failed": 0,
            "undelivered": 1,
            "handed_on": 2,
        },
        "Second SMS": {
            "accepted": 1,
            "delivered": 1,
            "failed": 1,
            "undelivered": 0,
            "handed_on": 0,
        },
    }
    assert sorted(wire.sent[SECOND_URL]) == [audience[4], audience[5]]
    assert wire.sent[FIRST_URL].count(audience[4]) == 1  # one attempt, then moved


def test_a_campaign_with_one_sender_has_no_breakdown_by_provider(
    admin_client, wire, first
) -> None:
    campaign = campaign_to(numbers(2))
    campaign.sender = first
    campaign.save(update_fields=["sender"])
    send_all(campaign)

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")

    assert page.status_code == 200
    assert "data-providers" not in page.content.decode()


# --- the message list -----------------------------------------------------------------


def test_the_message_list_names_each_messages_provider_and_filters_by_it(
    admin_client, wire, route, first, second
) -> None:
    audience = numbers(4)
    wire.refuses[FIRST_URL] = {audience[3]: 500}
    send_all(routed_campaign(route, audience))

    def listed(query: str) -> list[tuple[str, str]]:
        response = admin_client.get(f"{MESSAGES_URL}?{query}")
        assert response.status_code == 200
        rows = response.context["cl"].result_list
        return sorted((m.to, m.sender.provider.nickname) for m in rows)

    assert listed(f"provider={first.provider_id}") == [
        (n, "First SMS") for n in audience[:3]
    ]
    assert listed(f"provider={second.provider_id}") == [(audience[3], "Second SMS")]
    page = admin_client.get(MESSAGES_URL).content.decode()
    cells = re.findall(r'<td class="field-provider_display">(.*?)</td>', page)
    assert sorted(cells) == ["First SMS"] * 3 + ["Second SMS"]
    # The filter offers each provider by name.
    assert f'?provider={first.provider_id}"' in page
    assert "Second SMS</a>" in page


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", "99999", "1.5", "1e3", "\x00", "²", "1' OR '1'='1", "9" * 30],
)
def test_the_message_list_answers_an_odd_provider_filter_without_a_500(
    admin_client, wire, route, value: str
) -> None:
    send_all(routed_campaign(route, numbers(2)))

    response = admin_client.get(MESSAGES_URL, {"provider": value})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
