"""GET /metrics: Prometheus' text format behind METRICS_TOKEN, computed from
the database, so its figures are those of the rows whatever process sent them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from campaigns import sending
from campaigns.models import DeliveryReport, Message, OptOut
from config.celery import app
from providers.models import Sender
from providers.send_test_sms import send_test_sms
from tests import servers
from tests.campaigns.fake_provider import (
    ACCEPT,
    FakeProvider,
    campaign_to,
    connect,
    fail,
    numbers,
    script,
)

TOKEN = "metrics-token-for-tests"
Status = Message.Status


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKENS = ["an-older-token", TOKEN]
    return TOKEN


def scrape(client, token: str = TOKEN) -> dict[str, list]:
    """Each metric's samples, (labels, value), by sample name."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


@pytest.mark.django_db
def test_without_a_token_setting_there_is_no_metrics_page(client, settings) -> None:
    settings.METRICS_TOKENS = []

    answer = client.get("/metrics", headers={"Authorization": "Bearer anything"})

    assert answer.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer ", TOKEN]
)
def test_it_requires_the_bearer_token(client, token, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    answer = client.get("/metrics", headers=headers)

    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"smsbridge_" not in answer.content


@pytest.mark.django_db
def test_every_configured_token_opens_it(client, token) -> None:
    assert "smsbridge_messages" in scrape(client, "an-older-token")
    assert "smsbridge_messages" in scrape(client, TOKEN)


def messages_in_database() -> Counter:
    """(provider, state, failure) -> messages, read from the rows themselves."""
    found: Counter = Counter()
    decided = (Status.SENT, Status.DELIVERED, Status.FAILED)
    for nickname, status, failure in Message.objects.values_list(
        "sender__provider__nickname", "status", "failure_category"
    ):
        found[nickname if status in decided else "", status, failure] += 1
    return found


def messages_in_metrics(scraped: dict) -> Counter:
    return Counter(
        {
            (labels["provider"], labels["state"], labels["failure"]): int(value)
            for labels, value in scraped["smsbridge_messages"]
            if value
        }
    )


def histogram(scraped: dict, provider: str, suffix: str) -> dict[str, float]:
    name = f"smsbridge_send_latency_seconds_{suffix}"
    return {
        labels.get("le", ""): value
        for labels, value in scraped[name]
        if labels["provider"] == provider
    }


@pytest.mark.django_db(transaction=True)
def test_its_figures_match_the_database_after_campaigns(
    client, token, django_capture_on_commit_callbacks
) -> None:
    first = FakeProvider(script(ACCEPT, fail(400), ACCEPT, fail(400)), delay=0.12)
    second = FakeProvider(delay=0.12)
    with first, second:
        promotional = connect(
            first.url, nickname="Fake A", sender_type=Sender.SenderType.PROMOTIONAL
        )
        transactional = connect(second.url, nickname="Fake B")
        spring = campaign_to(numbers(12), sender_type=promotional.sender_type)
        spring.sender = promotional
        spring.save()
        OptOut.objects.create(to=numbers(1)[0])
        summer = campaign_to(numbers(7, start=100), name="Summer")
        summer.sender = transactional
        summer.save()
        with django_capture_on_commit_callbacks(execute=True):
            sending.launch(campaign=spring)
            sending.launch(campaign=summer)
        # Test sends are counted by result, not in the campaigns' histogram.
        campaign_requests = {
            "Fake A": len(first.requests),
            "Fake B": len(second.requests),
        }
        send_test_sms(
            provider=transactional.provider, sender=None, to="+6591234567", text="Hi"
        )
    down = f"http://127.0.0.1:{servers.free_port()}/send"  # nothing listens
    unreachable = connect(down, nickname="Down").provider
    send_test_sms(provider=unreachable, sender=None, to="+6591234567", text="Hi")
    now = timezone.now()
    for seconds in (30, 5):
        DeliveryReport.objects.create(
            provider=unreachable,
            received_at=now - timedelta(seconds=seconds),
            method="POST",
            response_status=200,
            result="Waiting",
        )

    scraped = scrape(client)

    expected = messages_in_database()
    assert expected[("Fake A", Status.FAILED, "bad_request")] == 2
    assert expected[("", Status.SKIPPED, "opted_out")] == 1
    assert messages_in_metrics(scraped) == expected
    assert campaign_requests == {"Fake A": 11, "Fake B": 7}
    for nickname, requests in campaign_requests.items():
        buckets = histogram(scraped, nickname, "bucket")
        assert histogram(scraped, nickname, "count") == {"": requests}
        assert buckets["+Inf"] == requests
        # Each answer came 0.12 s after its request, so none in 0.1 s or less.
        assert buckets["0.1"] == 0
        assert histogram(scraped, nickname, "sum")[""] >= 0.12 * requests
    assert sorted(
        (labels["provider"], labels["result"], value)
        for labels, value in scraped["smsbridge_test_sends"]
    ) == [("Down", "connection", 1), ("Fake B", "accepted", 1)]
    assert scraped["smsbridge_delivery_reports_waiting"] == [({}, 2)]
    [(_, oldest)] = scraped["smsbridge_delivery_reports_oldest_waiting_seconds"]
    assert 30 <= oldest < 40


@pytest.mark.django_db
def test_queued_messages_and_waiting_tasks_are_counted(
    client, token, filesystem_broker, django_capture_on_commit_callbacks
) -> None:
    """Launched with the broker holding the tasks: no worker has run them."""
    saved = {name: app.conf[name] for name in ("task_always_eager", "broker_url")}
    saved["broker_transport_options"] = app.conf.broker_transport_options
    from django.conf import settings

    app.conf.update(
        task_always_eager=False,
        broker_url="filesystem://",
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    )
    # The connections and producers made for the old broker are let go too,
    # or the launch publishes to the folders an earlier test's app used.
    app._pool = None
    app.amqp._producer_pool = None
    try:
        campaign = campaign_to(numbers(25))
        campaign.sender = connect("http://127.0.0.1:9/send")
        campaign.save()
        with django_capture_on_commit_callbacks(execute=True):
            sending.launch(campaign=campaign)
        Message.objects.filter(pk__in=campaign.messages.values("pk")[:3]).update(
            status=Status.SENDING
        )

        scraped = scrape(client)
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None

    assert messages_in_metrics(scraped) == {
        ("", Status.QUEUED, ""): 22,
        ("", Status.SENDING, ""): 3,
    }
    tasks = len(list((filesystem_broker / "queue").glob("*.celery.msg")))
    assert tasks == 1
    assert scraped["smsbridge_task_queue_length"] == [({}, tasks)]
