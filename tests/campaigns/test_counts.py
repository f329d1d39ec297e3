"""A campaign's counters (campaigns/counts.py) always equal a count of its
messages, whatever mix of acceptances, refusals, retries, delivery reports,
cancelling and "Retry failed" it went through."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
import responses
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import actions, counts, sending
from campaigns.dlr.tracking import apply_updates
from campaigns.models import Message, OptOut
from providers.dlr import StatusUpdate

from .fake_provider import campaign_to, connect, numbers

ENDPOINT = "https://sms.example.test/send"
# What the provider answers a number, attempt after attempt (the last repeats).
ANSWERS = {
    "accepts": [200],
    "refuses": [400],
    "fails then accepts": [500, 200],
    "always fails": [500],
}
REPORTS = ["delivered", "failed", "sent", None]


def counted(campaign) -> dict:
    counters = counts.read([campaign.pk]).get(campaign.pk, Counter())
    sending_now = campaign.messages.filter(status=Message.Status.SENDING).count()
    failures = {
        key: n
        for key, n in counters.items()
        if key[0] in (Message.Status.FAILED, Message.Status.SKIPPED) and n
    }
    return {
        "by status": counts.by_status(counters, sending=sending_now),
        "total": counters[counts.TOTAL, ""],
        "failures": failures,
    }


def real(campaign) -> dict:
    rows = campaign.messages.order_by()
    by_status = dict.fromkeys(Message.Status.values, 0)
    by_status |= dict(rows.values_list("status").annotate(n=Count("pk")))
    final = rows.filter(status__in=[Message.Status.FAILED, Message.Status.SKIPPED])
    failures = {
        (status, category): n
        for status, category, n in final.values_list("status", "failure_category")
        .annotate(n=Count("pk"))
        .values_list("status", "failure_category", "n")
    }
    return {"by status": by_status, "total": rows.count(), "failures": failures}


class Provider:
    """Answers each number by its script, attempt after attempt."""

    def __init__(self, mock, scripts: dict[str, list[int]]) -> None:
        self.scripts = scripts
        self.tries: Counter[str] = Counter()
        mock.add_callback(responses.POST, ENDPOINT, callback=self.answer)

    def answer(self, request):
        sent = json.loads(request.body)
        script = self.scripts[sent["to"]]
        status = script[min(self.tries[sent["to"]], len(script) - 1)]
        self.tries[sent["to"]] += 1
        body = {"id": "p-" + sent["mid"]} if status == 200 else {"error": "no"}
        return status, {"Content-Type": "application/json"}, json.dumps(body)


def send_everything(campaign, *, rounds: int = 6) -> None:
    later = timezone.now()
    for _ in range(rounds):
        later += timedelta(hours=1)  # every retry is due
        while sending.process_chunk(campaign_id=campaign.pk, now=later):
            pass


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    answers=st.lists(st.sampled_from(sorted(ANSWERS)), min_size=1, max_size=8),
    reports=st.lists(st.sampled_from(REPORTS), min_size=8, max_size=8),
    opted_out=st.integers(min_value=0, max_value=2),
    cancel_first=st.booleans(),
    retry_failed=st.booleans(),
)
def test_counters_equal_the_messages_whatever_happens(
    settings, answers, reports, opted_out, cancel_first, retry_failed
) -> None:
    settings.SEND_MAX_ATTEMPTS = 2
    # Each example in a transaction of its own, rolled back: they share a test.
    with transaction.atomic():
        run_campaign(answers, reports, opted_out, cancel_first, retry_failed)
        transaction.set_rollback(True)


def run_campaign(answers, reports, opted_out, cancel_first, retry_failed) -> None:
    audience = numbers(len(answers))
    sender = connect(ENDPOINT, sender_type="promotional")
    campaign = campaign_to(audience, sender_type="promotional")
    for to in audience[:opted_out]:
        OptOut.objects.get_or_create(to=to)
    scripts = {to: ANSWERS[name] for to, name in zip(audience, answers, strict=True)}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        Provider(mock, scripts)
        sending.launch(campaign=campaign)
        assert counted(campaign) == real(campaign)
        if cancel_first:
            actions.cancel(campaign=campaign)
        send_everything(campaign)
        assert counted(campaign) == real(campaign)
        for message, state in zip(
            campaign.messages.order_by("pk"), reports, strict=False
        ):
            if state:
                update = StatusUpdate(message_id=message.message_id, state=state)
                apply_updates(provider=sender.provider, updates=[update])
        assert counted(campaign) == real(campaign)
        if retry_failed and not cancel_first:
            actions.retry_failed(campaign=campaign)
            assert counted(campaign) == real(campaign)
            send_everything(campaign)
    assert counted(campaign) == real(campaign)
