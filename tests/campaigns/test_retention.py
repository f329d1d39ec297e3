"""`manage.py purge`: old delivery-report log rows, test sends, webhook
deliveries and finished campaigns' messages go, in batches; statistics, waiting
reports and deliveries, and anything recent or still running stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns import retention
from campaigns.models import (
    Campaign,
    DeliveryReport,
    Message,
    WebhookDelivery,
    WebhookEndpoint,
)
from campaigns.stats import campaign_stats
from providers.models import TestSend as SentTest

from .fake_provider import accepted_test_send, campaign_to, connect, numbers
from .rows import stored_message

pytestmark = pytest.mark.django_db
OLD = timezone.now() - timedelta(days=200)
Status = Message.Status


def aged(model, rows, field: str = "created_at") -> None:
    model.objects.filter(pk__in=[r.pk for r in rows]).update(**{field: OLD})


def campaign_with(status: str, kind: str = Campaign.Kind.ONE_TIME, *, name: str):
    campaign = campaign_to(numbers(1), name=name)
    Campaign.objects.filter(pk=campaign.pk).update(status=status, kind=kind)
    campaign.refresh_from_db()
    return campaign


def messages(campaign, *states: tuple[str, str]) -> list[Message]:
    return [
        stored_message(
            campaign=campaign,
            message_id=f"{campaign.pk}-{n}",
            to=numbers(1, start=n)[0],
            body="x",
            status=status,
            failure_category=category,
        )
        for n, (status, category) in enumerate(states)
    ]


def report(provider, state: str) -> DeliveryReport:
    return DeliveryReport.objects.create(
        provider=provider, method="POST", response_status=200, result="", state=state
    )


@pytest.fixture
def sender():
    return connect("https://sms.example.test/send")


def test_it_deletes_old_rows_and_keeps_statistics_waiting_and_recent_ones(
    sender, monkeypatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches
    done = campaign_with(Campaign.Status.COMPLETED, name="Done")
    states = [(Status.DELIVERED, ""), (Status.SENT, ""), (Status.FAILED, "rejected")]
    aged(Message, messages(done, *states, (Status.DELIVERED, "")))
    before = campaign_stats(done)
    running = campaign_with(Campaign.Status.SENDING, name="Running")
    aged(Message, messages(running, (Status.SENT, ""), (Status.QUEUED, "")))
    events = campaign_with(Campaign.Status.SENDING, Campaign.Kind.EVENT, name="OTP")
    otp_sent, otp_queued = messages(events, (Status.SENT, ""), (Status.QUEUED, ""))
    aged(Message, [otp_sent, otp_queued])
    provider = sender.provider
    old_reports = [report(provider, "applied"), report(provider, "refused")]
    waiting = report(provider, "waiting")
    aged(DeliveryReport, [*old_reports, waiting], "received_at")
    recent = report(provider, "applied")
    old_test = accepted_test_send(provider, "t-old")
    aged(SentTest, [old_test])
    new_test = accepted_test_send(provider, "t-new")

    purged = retention.purge()

    assert (purged.delivery_reports, purged.test_sends, purged.messages) == (2, 1, 5)
    assert not done.messages.exists()
    assert list(running.messages.values_list("status", flat=True)) == [
        Status.SENT,
        Status.QUEUED,
    ]
    assert list(events.messages.all()) == [otp_queued]
    assert set(DeliveryReport.objects.all()) == {waiting, recent}
    assert list(SentTest.objects.all()) == [new_test]
    after = campaign_stats(done)
    for figure in ("total", "counts", "done", "delivery_rate"):
        assert after[figure] == before[figure]
    assert [f["count"] for f in after["failures"]] == [1]


def test_the_command_says_what_it_deleted_and_takes_an_age(sender, capsys) -> None:
    old_test = accepted_test_send(sender.provider, "t-old")
    SentTest.objects.filter(pk=old_test.pk).update(
        created_at=timezone.now() - timedelta(days=10)
    )

    call_command("purge", "--older-than", "30")
    call_command("purge", "--older-than", "7")

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Deleted 0 delivery-report log rows, 0 test sends, 0 messages, 0 "
        "expired idempotency keys and 0 webhook deliveries.",
        "Deleted 0 delivery-report log rows, 1 test sends, 0 messages, 0 "
        "expired idempotency keys and 0 webhook deliveries.",
    ]
    with pytest.raises(CommandError, match="at least 1 day"):
        call_command("purge", "--older-than", "0")


def test_old_delivered_and_failed_webhook_deliveries_go_waiting_ones_stay(
    sender,
) -> None:
    running = campaign_with(Campaign.Status.SENDING, Campaign.Kind.EVENT, name="OTP")
    [message] = messages(running, (Status.QUEUED, ""))
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.test/x")
    Delivery = WebhookDelivery.Status

    def delivery(status: str) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            endpoint=endpoint,
            message=message,
            event="queued",
            occurred_at=timezone.now(),
            payload={},
            status=status,
        )

    old = [delivery(Delivery.DELIVERED), delivery(Delivery.FAILED)]
    waiting = delivery(Delivery.PENDING)
    aged(WebhookDelivery, [*old, waiting])
    recent = delivery(Delivery.DELIVERED)

    purged = retention.purge()

    assert purged.webhook_deliveries == 2
    assert set(WebhookDelivery.objects.all()) == {waiting, recent}
