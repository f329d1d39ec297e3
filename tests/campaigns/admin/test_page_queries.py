"""Every admin page a user opens runs as many queries with a hundred times the
rows: more data makes a query slower (bench/bench_admin_pages.py measures by
how much), never more numerous.

Each page is fetched once with a few messages, delivery reports and test sends
and once with a hundred times as many, in every state and failure category
(counted by the workflow's counters), and the two query counts must be equal.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import counts
from campaigns.models import Campaign, DeliveryReport, Message
from providers import models as providers
from providers.routes import Route, RouteStep

from ..fake_provider import connect

pytestmark = pytest.mark.django_db

FEW, MANY = 3, 300
# Cycled through by the rows made: each state, and failures of several kinds.
STATES = [
    ("delivered", "", ""),
    ("failed", "undelivered", "Absent subscriber"),
    ("sent", "", ""),
    ("failed", "rejected", "Invalid destination"),
    ("skipped", "opted_out", "The number is on the opt-out list."),
    ("failed", "server_error", "HTTP 503"),
    ("queued", "", ""),
]
REPORT_STATES = [("applied", 200), ("refused", 400), ("waiting", 200)]


class Volume:
    """A sending campaign whose messages, reports and test sends can be added to."""

    def __init__(self) -> None:
        self.sender = connect("https://sms.example.test/send")
        self.campaign = Campaign.objects.create(
            name="Sale",
            sender=self.sender,
            message="Hi",
            status=Campaign.Status.SENDING,
            launched_at=timezone.now(),
        )
        self.made = 0

    def grow_to(self, size: int) -> None:
        indexes = range(self.made, size)
        self.messages([STATES[i % len(STATES)] for i in indexes], start=self.made)
        self.reports([REPORT_STATES[i % len(REPORT_STATES)] for i in indexes])
        self.test_sends(indexes)
        self.made = size

    def messages(self, states: list[tuple[str, str, str]], *, start: int) -> None:
        Message.objects.bulk_create(
            Message(
                campaign=self.campaign,
                sender=self.sender,
                message_id=uuid.uuid4().hex,
                to=f"+6591{start + offset:06d}",
                body="Hi",
                status=status,
                failure_category=category,
                failure_reason=reason,
            )
            for offset, (status, category, reason) in enumerate(states)
        )
        made = counts.created([(status, category) for status, category, _ in states])
        counts.add(self.campaign.pk, made)

    def reports(self, states: list[tuple[str, int]]) -> None:
        DeliveryReport.objects.bulk_create(
            DeliveryReport(
                provider=self.sender.provider,
                receipt=uuid.uuid4(),
                method="POST",
                body="{}",
                response_status=answered,
                state=state,
                result="read",
            )
            for state, answered in states
        )

    def test_sends(self, indexes: range) -> None:
        providers.TestSend.objects.bulk_create(
            providers.TestSend(
                provider=self.sender.provider,
                to=f"+6592{index:06d}",
                message="Test",
                message_id=uuid.uuid4().hex,
                category="accepted",
                diagnosis="Accepted.",
            )
            for index in indexes
        )

    def pages(self) -> dict[str, str]:
        campaign = f"/admin/campaigns/campaign/{self.campaign.pk}"
        messages = "/admin/campaigns/message/"
        reports = "/admin/campaigns/deliveryreport/"
        message_id = Message.objects.values_list("message_id", flat=True).last()
        receipt = DeliveryReport.objects.values_list("receipt", flat=True).first()
        return {
            "campaigns list": "/admin/campaigns/campaign/",
            "campaign page": f"{campaign}/change/",
            "campaign progress": f"{campaign}/progress/",
            "messages": messages,
            "messages, failed": f"{messages}?status__exact=failed",
            "messages, rejected": f"{messages}?failure_category__exact=rejected",
            "messages, number prefix": f"{messages}?q={quote('+659100')}",
            "messages, message id": f"{messages}?q={message_id}",
            "delivery reports": reports,
            "delivery reports, refused": f"{reports}?state__exact=refused",
            "delivery reports, answered 400": f"{reports}?response_status=400",
            "delivery reports, receipt": f"{reports}?q={receipt}",
            "test sends": "/admin/providers/testsend/",
            "providers": "/admin/providers/provider/",
        }


class RouteVolume(Volume):
    """A sending campaign on a route of two providers, its messages and their
    counters shared between the two (by provider on the campaign page)."""

    def __init__(self) -> None:
        super().__init__()
        self.second = connect("https://second.example.test/send", nickname="Second")
        self.route = Route.objects.create(name="Two providers")
        for position, sender in enumerate((self.sender, self.second)):
            RouteStep.objects.create(route=self.route, sender=sender, position=position)
        Campaign.objects.filter(pk=self.campaign.pk).update(
            sender=None, route=self.route
        )

    def messages(self, states: list[tuple[str, str, str]], *, start: int) -> None:
        senders = (self.sender, self.second)
        Message.objects.bulk_create(
            Message(
                campaign=self.campaign,
                sender=senders[(start + offset) % 2],
                hop=(start + offset) % 2,
                message_id=uuid.uuid4().hex,
                to=f"+6591{start + offset:06d}",
                body="Hi",
                status=status,
                failure_category=category,
                failure_reason=reason,
            )
            for offset, (status, category, reason) in enumerate(states)
        )
        for parity, sender in enumerate(senders):
            mine = [
                (status, category)
                for offset, (status, category, _) in enumerate(states)
                if (start + offset) % 2 == parity
            ]
            counts.add(self.campaign.pk, counts.created(mine), sender_id=sender.pk)

    def pages(self) -> dict[str, str]:
        campaign = f"/admin/campaigns/campaign/{self.campaign.pk}"
        messages = "/admin/campaigns/message/"
        return {
            "route campaign page": f"{campaign}/change/",
            "route campaign progress": f"{campaign}/progress/",
            "messages of a route": messages,
            "messages, one provider": f"{messages}?provider={self.second.provider_id}",
            "routes": "/admin/providers/route/",
            "route test": f"/admin/providers/route/{self.route.pk}/test/"
            "?number=%2B6591234567&country=SG",
        }


def queries(client, url: str) -> int:
    client.get(url)  # sessions and caches settle on a first fetch
    with CaptureQueriesContext(connection) as captured:
        answered = client.get(url)
    assert answered.status_code == 200, url
    return len(captured)


def counted(client, volume: Volume, size: int) -> dict[str, int]:
    volume.grow_to(size)
    return {name: queries(client, url) for name, url in volume.pages().items()}


def test_no_admin_page_runs_more_queries_with_a_hundred_times_the_rows(
    admin_client,
) -> None:
    volume = Volume()
    few = counted(admin_client, volume, FEW)
    many = counted(admin_client, volume, MANY)
    assert many == few


def test_the_campaign_page_reads_its_latest_failure_reasons_in_one_query(
    admin_client,
) -> None:
    volume = Volume()
    volume.grow_to(2)  # one failure category
    url = volume.pages()["campaign progress"]
    one_category = queries(admin_client, url)
    volume.grow_to(len(STATES))  # four categories
    assert queries(admin_client, url) == one_category
    shown = admin_client.get(url).json()["failures"]
    reasons = {f["failure_category"]: f["failure_reason"] for f in shown}
    assert reasons == {
        "undelivered": "Absent subscriber",
        "rejected": "Invalid destination",
        "opted_out": "The number is on the opt-out list.",
        "server_error": "HTTP 503",
    }


def test_no_route_page_runs_more_queries_with_a_hundred_times_the_rows(
    admin_client,
) -> None:
    volume = RouteVolume()
    few = counted(admin_client, volume, FEW)
    many = counted(admin_client, volume, MANY)
    assert many == few
    page = admin_client.get(volume.pages()["route campaign page"]).content.decode()
    assert page.count("<tr data-provider=") == 2  # the breakdown is shown


@pytest.mark.parametrize("kind", [Volume, RouteVolume], ids=["sender", "route"])
def test_every_admin_page_runs_at_most_twelve_queries(admin_client, kind) -> None:
    volume = kind()
    found = counted(admin_client, volume, FEW)
    assert {name: n for name, n in found.items() if n > 12} == {}


def plans(client, url: str, *, naming: str) -> list[str]:
    """SQLite's plan of each query the page runs that names `naming`."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    found = []
    with connection.cursor() as cursor:
        for query in captured:
            if naming in query["sql"]:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                found.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
    return found


@pytest.mark.parametrize(
    ("listing", "chosen", "index"),
    [
        ("messages, rejected", {"failure_category": "rejected"}, "message_failure"),
        ("messages, failed", {"status": "failed"}, "message_failed"),
    ],
)
def test_the_message_filters_list_their_rows_only_read_through_an_index(
    admin_client, listing: str, chosen: dict[str, str], index: str
) -> None:
    volume = Volume()
    volume.grow_to(MANY)
    url = volume.pages()[listing]
    changelist = admin_client.get(url).context["cl"]
    ((field, value),) = chosen.items()
    assert {getattr(m, field) for m in changelist.result_list} == {value}
    assert changelist.result_count == Message.objects.filter(**chosen).count()
    found = plans(admin_client, url, naming=f"'{value}'")
    assert len(found) == 2  # the capped count and the page
    assert all(f"INDEX {index}" in plan for plan in found), found


@pytest.mark.parametrize(
    ("listing", "naming", "index", "state", "answered"),
    [
        ("delivery reports, refused", "'refused'", "dlr_refused", "refused", 400),
        ("delivery reports, answered 400", "= 400", "dlr_answered", "refused", 400),
    ],
)
def test_the_delivery_report_filters_list_their_rows_read_through_an_index(
    admin_client, listing: str, naming: str, index: str, state: str, answered: int
) -> None:
    volume = Volume()
    volume.grow_to(MANY)
    url = volume.pages()[listing]
    listed = admin_client.get(url).context["cl"].result_list
    assert {(r.state, r.response_status) for r in listed} == {(state, answered)}
    assert len(listed) == MANY // len(REPORT_STATES)
    found = plans(admin_client, url, naming=naming)
    assert len(found) == 2  # the capped count and the page
    assert all(f"INDEX {index}" in plan for plan in found), found


def test_the_answered_filter_still_lists_the_accepted_callbacks(admin_client) -> None:
    volume = Volume()
    volume.grow_to(6)
    reports = "/admin/campaigns/deliveryreport/?response_status=200"
    listed = admin_client.get(reports).context["cl"].result_list
    assert [r.response_status for r in listed] == [200] * 4
