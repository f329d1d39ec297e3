"""campaigns.sending against a fake provider over real HTTP (tests/campaigns/
fake_provider.py): batches, concurrency, claims, retries, dead workers, opt-outs,
quiet hours, and delivery reports meeting the send path.

Celery runs eagerly in tests and ignores countdowns, so a retried message stays
QUEUED with next_attempt_at in the future; the tests move time forward by calling
process_chunk (or sweep) with a later `now`. Where the code schedules work for
later (quiet hours), tasks go to an in-memory broker instead (conftest.broker_queue).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns import actions, recording, sending
from campaigns.dlr import applying, tracking
from campaigns.models import Campaign, Message, OptOut
from providers.dlr import parse
from providers.models import Sender

from .fake_provider import (
    ACCEPT,
    FakeProvider,
    always,
    campaign_to,
    connect,
    fail,
    flaky,
    hang,
    numbers,
    rate_limited,
    script,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dlr"
Status = Message.Status
PROMOTIONAL = Sender.SenderType.PROMOTIONAL
TRANSACTIONAL = Sender.SenderType.TRANSACTIONAL


def statuses(campaign: Campaign) -> Counter:
    return Counter(campaign.messages.values_list("status", flat=True))


def launched(campaign: Campaign) -> Campaign:
    """Launch. Inside a test's transaction the on-commit chunks never run, so
    nothing is sent until the test calls process_chunk."""
    sending.launch(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def fixture_with_id(name: str, message_id: str) -> bytes:
    """A provider's real callback, naming one of our messages."""
    data = json.loads((FIXTURES / name).read_text())
    if isinstance(data, list):
        data[0]["data"][0]["meta"] = message_id
    else:
        data["payload"]["clientMessageId"] = message_id
    return json.dumps(data).encode()


# --- the happy paths ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_batch_campaign_in_requests_of_batch_size(fake_provider) -> None:
    connect(fake_provider.url, batch_size=1000)
    campaign = campaign_to(numbers(2500))

    queued = sending.launch(campaign=campaign)

    campaign.refresh_from_db()
    requests = fake_provider.requests
    assert queued == 2500
    assert [len(r.records) for r in requests] == [1000, 1000, 500]
    assert campaign.status == Campaign.Status.COMPLETED
    messages = {m.message_id: m for m in campaign.messages.all()}
    assert statuses(campaign) == {Status.SENT: 2500}
    records = [record for r in requests for record in r.records]
    assert sorted(r["mid"] for r in records) == sorted(messages)
    for record in records:
        message = messages[record["mid"]]
        assert record["to"] == message.to
        assert record["text"] == message.body
        assert message.provider_message_id == "p-" + message.message_id
    assert requests[0].json["from"] == "ACME"


@pytest.mark.django_db(transaction=True)
def test_it_sends_one_request_per_message_at_bounded_concurrency(
    fake_provider, settings
) -> None:
    settings.SEND_CONCURRENCY = 4
    fake_provider.delay = 0.05
    connect(fake_provider.url)
    campaign = campaign_to(numbers(50))

    sending.launch(campaign=campaign)

    campaign.refresh_from_db()
    assert len(fake_provider.requests) == 50
    assert 2 <= fake_provider.max_in_flight <= 4
    assert statuses(campaign) == {Status.SENT: 50}
    assert campaign.status == Campaign.Status.COMPLETED
    for message in campaign.messages.all():
        assert message.provider_message_id == "p-" + message.message_id
        assert message.sent_at is not None
        assert message.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_it_ends_every_recipient_in_one_terminal_state(fake_provider) -> None:
    audience = numbers(20)
    OptOut.objects.create(to=audience[7])
    fake_provider.plan = script(ACCEPT, fail(400))  # the second request is refused
    connect(fake_provider.url, sender_type=PROMOTIONAL)
    campaign = campaign_to(audience, sender_type=PROMOTIONAL)

    sending.launch(campaign=campaign)

    campaign.refresh_from_db()
    messages = list(campaign.messages.all())
    assert len(messages) == 20
    assert {m.to for m in messages} == set(audience)
    assert all(m.status in Message.TERMINAL for m in messages)
    assert statuses(campaign) == {Status.SENT: 18, Status.FAILED: 1, Status.SKIPPED: 1}
    posted = Counter(fake_provider.posted_ids())
    assert max(posted.values()) == 1
    assert set(posted) == {m.message_id for m in messages if m.status != "skipped"}
    assert campaign.status == Campaign.Status.COMPLETED


WORKER = """
import json, os, time
from pathlib import Path
from campaigns import sending

print("ready", flush=True)
go = Path(os.environ["GO"])
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
chunks = []
while claimed := sending.process_chunk(campaign_id=int(os.environ["CAMPAIGN"])):
    chunks.append(claimed)
print(json.dumps(chunks))
"""


def test_two_workers_on_one_campaign_never_send_a_message_twice(
    fake_provider, file_db, tmp_path
) -> None:
    fake_provider.delay = 0.02
    campaign_id = file_db.run(
        """
        import os
        from campaigns import sending
        from tests.campaigns.fake_provider import campaign_to, connect, numbers

        connect(os.environ["FAKE_URL"])
        campaign = campaign_to(numbers(100))
        sending.launch(campaign=campaign)
        print(campaign.pk)
        """,
        FAKE_URL=fake_provider.url,
    ).strip()
    go = tmp_path / "go"
    env = {"CAMPAIGN": campaign_id, "GO": str(go), "SEND_CHUNK_SIZE": "5"}
    workers = [file_db.popen(WORKER, SEND_CONCURRENCY="2", **env) for _ in range(2)]
    try:
        assert [w.stdout.readline().strip() for w in workers] == ["ready", "ready"]
        go.touch()
        results = [w.communicate(timeout=60) for w in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=10)

    assert [w.returncode for w in workers] == [0, 0], [err for _, err in results]
    chunks = [json.loads(out) for out, _ in results]
    assert all(chunks), f"one worker claimed nothing: {chunks}"
    assert sum(map(sum, chunks)) == 100
    posted = Counter(fake_provider.posted_ids())
    ids = file_db.rows(
        "SELECT message_id, status FROM campaigns_message WHERE campaign_id = ?",
        (int(campaign_id),),
    )
    assert max(posted.values()) == 1
    assert set(posted) == {message_id for message_id, _ in ids}
    assert {status for _, status in ids} == {"sent"}


# --- failures and retries -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "category", "wait"),
    [
        (fail(500), "server_error", 5),
        (fail(503), "server_error", 5),
        (rate_limited(30), "rate_limited", 30),  # Retry-After beats the backoff
        (rate_limited(1), "rate_limited", 5),  # but never shortens it
        (hang(), "timeout", 5),
    ],
    ids=["500", "503", "429-retry-after-30", "429-retry-after-1", "timeout"],
)
@pytest.mark.django_db
def test_it_retries_a_transient_failure_later_with_the_same_id(
    fake_provider, answer, category, wait
) -> None:
    fake_provider.plan = script(answer)
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    now = timezone.now()

    sending.process_chunk(campaign_id=campaign.pk, now=now)

    message = campaign.messages.get()
    assert message.status == Status.QUEUED
    assert message.attempts == 1
    assert message.next_attempt_at == now + timedelta(seconds=wait)
    assert message.failure_category == category
    assert message.failure_reason
    early = now + timedelta(seconds=wait - 1)
    assert sending.process_chunk(campaign_id=campaign.pk, now=early) == 0
    assert len(fake_provider.requests) == 1

    later = now + timedelta(seconds=wait)
    assert sending.process_chunk(campaign_id=campaign.pk, now=later) == 1

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert (message.attempts, message.failure_category) == (2, "")
    assert fake_provider.posted_ids() == [message.message_id, message.message_id]
    assert message.provider_message_id == "p-" + message.message_id


@pytest.mark.parametrize(
    ("status", "category"), [(400, "bad_request"), (401, "auth"), (403, "auth")]
)
@pytest.mark.django_db
def test_it_fails_a_permanent_refusal_at_once(fake_provider, status, category) -> None:
    fake_provider.plan = script(fail(status))
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    now = timezone.now()

    sending.process_chunk(campaign_id=campaign.pk, now=now)
    sending.process_chunk(campaign_id=campaign.pk, now=now + timedelta(hours=1))

    message = campaign.messages.get()
    campaign.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.failure_category == category
    assert message.failure_reason.startswith(f"{status} from 127.0.0.1")
    assert "gave up" not in message.failure_reason
    assert len(fake_provider.requests) == 1
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.django_db
def test_it_gives_up_after_the_attempts_limit(fake_provider, settings) -> None:
    settings.SEND_MAX_ATTEMPTS = 3
    fake_provider.plan = script(then=fail(503))
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    now, waits = timezone.now(), []

    for _ in range(3):
        sending.process_chunk(campaign_id=campaign.pk, now=now)
        message = campaign.messages.get()
        if message.next_attempt_at and message.status == Status.QUEUED:
            waits.append((message.next_attempt_at - now).total_seconds())
            now = message.next_attempt_at

    assert waits == [5, 10]
    assert message.status == Status.FAILED
    assert message.failure_category == "server_error"
    assert message.failure_reason.endswith("(gave up after 3 attempts)")
    assert fake_provider.posted_ids() == [message.message_id] * 3
    tomorrow = now + timedelta(days=1)
    assert sending.process_chunk(campaign_id=campaign.pk, now=tomorrow) == 0


def test_backoff_doubles_up_to_the_maximum_and_honours_retry_after(settings) -> None:
    settings.SEND_RETRY_BASE_SECONDS = 5
    settings.SEND_RETRY_MAX_SECONDS = 600

    waits = [recording.backoff(n, None).total_seconds() for n in (1, 2, 3, 4, 8, 20)]

    assert waits == [5, 10, 20, 40, 600, 600]
    assert recording.backoff(2, 45.0) == timedelta(seconds=45)
    assert recording.backoff(9, 45.0) == timedelta(seconds=600)


@pytest.mark.parametrize("batch_size", [None, 5], ids=["single", "batch"])
@pytest.mark.django_db
def test_every_message_is_accounted_for_when_30_percent_of_requests_fail(
    fake_provider, settings, batch_size
) -> None:
    settings.SMS_READ_TIMEOUT = 0.5
    fake_provider.plan = flaky(
        seed=2024, failures=[fail(500), fail(503), rate_limited(1), hang(1.0)]
    )
    connect(fake_provider.url, batch_size=batch_size)
    campaign = launched(campaign_to(numbers(60)))
    now = timezone.now()

    for _ in range(20):
        if not campaign.messages.filter(status__in=["queued", "sending"]).exists():
            break
        sending.process_chunk(campaign_id=campaign.pk, now=now)
        now += timedelta(minutes=2)
    else:
        pytest.fail(f"still pending after 20 rounds: {statuses(campaign)}")

    requests = fake_provider.requests
    kinds = Counter(r.answer.kind for r in requests)
    assert len(requests) - kinds["accept"] >= 3, kinds  # the plan did fail some
    messages = list(campaign.messages.all())
    assert {m.status for m in messages} <= {Status.SENT, Status.FAILED}
    accepted = Counter(fake_provider.accepted_ids())
    posted = Counter(fake_provider.posted_ids())
    assert set(accepted) == {m.message_id for m in messages if m.status == "sent"}
    assert max(accepted.values()) == 1
    for message in messages:
        if message.status == Status.FAILED:
            assert "gave up after 5 attempts" in message.failure_reason
            assert posted[message.message_id] == 5
        else:
            assert message.provider_message_id == "p-" + message.message_id
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.django_db
def test_rows_a_dead_worker_claimed_are_sent_later_with_their_ids(
    fake_provider, settings
) -> None:
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(5)))
    now = timezone.now()
    timeout = timedelta(seconds=settings.SEND_CLAIM_TIMEOUT)
    orphans = sending.claim(campaign_id=campaign.pk, limit=3, now=now)  # then dies
    orphan_ids = {m.message_id for m in orphans}

    sending.sweep(now=now + timeout - timedelta(seconds=1))

    assert statuses(campaign) == {Status.SENDING: 3, Status.SENT: 2}
    assert orphan_ids.isdisjoint(fake_provider.posted_ids())

    sending.sweep(now=now + timeout + timedelta(seconds=1))

    campaign.refresh_from_db()
    assert statuses(campaign) == {Status.SENT: 5}
    assert campaign.status == Campaign.Status.COMPLETED
    posted = fake_provider.posted_ids()
    ids = campaign.messages.values_list("message_id", flat=True)
    assert sorted(posted) == sorted(ids)
    assert orphan_ids <= set(posted)


def first_claim_dies(campaign: Campaign, settings) -> datetime:
    """The first message is claimed by a worker that dies; its lease runs out and
    the sweeper takes it back. Returns a moment after all that."""
    now = timezone.now()
    timeout = timedelta(seconds=settings.SEND_CLAIM_TIMEOUT)
    sending.claim(campaign_id=campaign.pk, limit=1, now=now)
    sending.reclaim_stale(now=now + timeout + timedelta(seconds=1))
    return now + 2 * timeout


@pytest.mark.django_db
def test_an_attempt_cut_off_by_a_dead_worker_is_not_counted(
    fake_provider, settings
) -> None:
    settings.SEND_MAX_ATTEMPTS = 2
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    later = first_claim_dies(campaign, settings)
    fake_provider.plan = script(fail(503))

    sending.process_chunk(campaign_id=campaign.pk, now=later)

    [message] = campaign.messages.all()
    # One attempt of two spent, so it is tried again rather than given up on.
    assert (message.status, message.attempts) == (Status.QUEUED, 1)
    assert message.maybe_sent


@pytest.mark.django_db
def test_a_message_a_dead_worker_may_have_sent_is_never_plainly_failed(
    fake_provider, settings
) -> None:
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(2)))
    later = first_claim_dies(campaign, settings)
    fake_provider.plan = always(fail(400))

    sending.process_chunk(campaign_id=campaign.pk, now=later)

    cut_off, untouched = campaign.messages.all()
    assert (cut_off.status, cut_off.failure_category) == (Status.FAILED, "unconfirmed")
    assert cut_off.failure_reason.startswith("An earlier attempt was cut off")
    assert (untouched.status, untouched.failure_category) == (
        Status.FAILED,
        "bad_request",
    )
    # "Retry failed" offers only the one the provider cannot have.
    assert list(actions.retryable(campaign)) == [untouched]


@pytest.mark.django_db
def test_a_worker_renews_its_claim_while_it_sends(fake_provider, settings) -> None:
    settings.SEND_CLAIM_TIMEOUT = 0.2  # renewed every 0.05 s
    settings.SEND_CONCURRENCY = 1
    fake_provider.delay = 0.1
    connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(4)))
    long_ago = timezone.now() - timedelta(hours=1)
    claimed = sending.claim(campaign_id=campaign.pk, limit=4, now=long_ago)

    sending.send_claimed(claimed, sender=campaign.sender, now=long_ago)

    # The later rows' lease was renewed while the first ones were out, so the
    # sweeper would not have taken them back from a live worker.
    renewed = campaign.messages.filter(claimed_at__gt=long_ago + timedelta(minutes=59))
    assert renewed.count() >= 2
    assert statuses(campaign) == {Status.SENT: 4}


@pytest.mark.django_db
def test_the_sweeper_wakes_each_campaign_once(fake_provider, broker_queue) -> None:
    connect(fake_provider.url)
    first = launched(campaign_to(numbers(30)))
    second = launched(campaign_to(numbers(20, start=100)))
    broker_queue()  # what launching queued

    woken = sending.sweep()

    tasks = broker_queue()
    assert woken == 2
    assert sorted(t.args for t in tasks if t.name.endswith("send_chunk")) == [
        [first.pk],
        [second.pk],
    ]


@pytest.mark.django_db
def test_a_launch_starts_a_few_tasks_that_go_on_until_the_work_is_done(
    fake_provider, settings, broker_queue, django_capture_on_commit_callbacks
) -> None:
    settings.SEND_CHUNK_SIZE = 10
    settings.SEND_PARALLEL_TASKS = 3
    connect(fake_provider.url)
    campaign = campaign_to(numbers(95))

    with django_capture_on_commit_callbacks(execute=True):
        sending.launch(campaign=campaign)

    assert [t.args for t in broker_queue()] == [[campaign.pk]] * 3

    assert sending.work(campaign_id=campaign.pk) == 95  # one task, chunk after chunk
    assert statuses(campaign) == {Status.SENT: 95}


@pytest.mark.django_db
def test_each_message_of_a_batch_counts_its_own_attempts(
    fake_provider, settings, broker_queue
) -> None:
    # A batch can hold a message on its last attempt and a fresh one, e.g. after
    # the batch size was raised mid-campaign.
    settings.SEND_MAX_ATTEMPTS = 2
    fake_provider.plan = script(then=fail(503))
    sender = connect(fake_provider.url, batch_size=1)
    campaign = launched(campaign_to(numbers(2)))
    now = timezone.now()
    sending.process_chunk(campaign_id=campaign.pk, now=now, limit=1)  # it fails
    sender.provider.batch_size = 2
    sender.provider.save()

    sending.process_chunk(campaign_id=campaign.pk, now=now + timedelta(minutes=1))

    last_try, fresh = campaign.messages.all()
    assert fake_provider.posted_ids() == [
        last_try.message_id,
        last_try.message_id,
        fresh.message_id,
    ]
    assert (last_try.status, last_try.attempts) == (Status.FAILED, 2)
    assert "gave up after 2 attempts" in last_try.failure_reason
    assert (fresh.status, fresh.attempts) == (Status.QUEUED, 1)
    assert "gave up" not in fresh.failure_reason


@pytest.mark.django_db
def test_an_archived_provider_sends_nothing_more(fake_provider) -> None:
    sender = connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(3)))
    sender.provider.is_active = False
    sender.provider.save()

    sending.process_chunk(campaign_id=campaign.pk)

    assert fake_provider.requests == []
    assert Status.SENT not in statuses(campaign)


@pytest.mark.django_db
def test_reports_find_messages_sent_after_the_default_sender_changed(
    client, fake_provider
) -> None:
    first = connect(fake_provider.url, nickname="First SMS")
    campaign = launched(campaign_to(numbers(1)))
    with FakeProvider() as other:
        second = connect(other.url, nickname="Second SMS")  # now the default

        sending.process_chunk(campaign_id=campaign.pk)

        requests = fake_provider.requests + other.requests
    via = first if fake_provider.requests else second
    message = campaign.messages.get()
    response = post_report(
        client, via, fixture_with_id("8x8_delivered.json", message.message_id)
    )

    message.refresh_from_db()
    assert [r.ids for r in requests] == [[message.message_id]]
    assert response.json()["unprocessed"] == []
    assert message.status == Status.DELIVERED


@pytest.mark.django_db
def test_a_scheduled_campaign_that_cannot_start_does_not_stop_the_sweep(
    fake_provider,
) -> None:
    archived = connect(fake_provider.url, nickname="Archived SMS")
    archived.provider.is_active = False
    archived.provider.save()
    connect(fake_provider.url, sender_type=PROMOTIONAL)
    now = timezone.now()
    scheduled = campaign_to(numbers(1), name="Due")
    scheduled.sender = archived
    scheduled.status = Campaign.Status.SCHEDULED
    scheduled.scheduled_at = now - timedelta(minutes=1)
    scheduled.save()
    running = launched(campaign_to(numbers(2, start=10), sender_type=PROMOTIONAL))

    sending.sweep(now=now)

    assert statuses(running) == {Status.SENT: 2}
    assert not scheduled.messages.exists()


# --- opt-outs and quiet hours ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_skips_opted_out_numbers_of_a_promotional_campaign(fake_provider) -> None:
    audience = numbers(3)
    OptOut.objects.create(to=audience[1])
    connect(fake_provider.url, sender_type=PROMOTIONAL)
    campaign = campaign_to(audience, sender_type=PROMOTIONAL)

    queued = sending.launch(campaign=campaign)

    skipped = campaign.messages.get(to=audience[1])
    assert queued == 2
    assert skipped.status == Status.SKIPPED
    assert skipped.failure_category == "opted_out"
    assert skipped.failure_reason == "The number is on the opt-out list."
    assert skipped.attempts == 0
    posted_to = sorted(r.records[0]["to"] for r in fake_provider.requests)
    assert posted_to == [audience[0], audience[2]]
    assert statuses(campaign) == {Status.SENT: 2, Status.SKIPPED: 1}


def quiet_around(moment, zone: str) -> dict:
    local = moment.astimezone(ZoneInfo(zone))
    return {
        "time_zone": zone,
        "quiet_hours_start": clock(local.hour, 0),
        "quiet_hours_end": clock((local.hour + 2) % 24, 0),
    }


@pytest.mark.django_db
def test_promotional_messages_wait_out_the_quiet_hours(
    fake_provider, broker_queue
) -> None:
    now = timezone.now()
    quiet = quiet_around(now, "Asia/Singapore")
    connect(fake_provider.url, sender_type=PROMOTIONAL, **quiet)
    campaign = launched(campaign_to(numbers(3), sender_type=PROMOTIONAL))
    broker_queue()  # the launch's own chunk

    assert sending.process_chunk(campaign_id=campaign.pk, now=now) == 0

    ends = now.astimezone(ZoneInfo("Asia/Singapore")).replace(
        hour=quiet["quiet_hours_end"].hour, minute=0, second=0, microsecond=0
    )
    ends += timedelta(days=1) if ends <= now else timedelta()
    assert fake_provider.requests == []
    assert statuses(campaign) == {Status.QUEUED: 3}
    [wake] = broker_queue()
    assert (wake.name, wake.args, wake.eta) == (
        "campaigns.tasks.send_chunk",
        [campaign.pk],
        ends,
    )

    assert sending.process_chunk(campaign_id=campaign.pk, now=ends) == 3

    assert statuses(campaign) == {Status.SENT: 3}


@pytest.mark.django_db
def test_transactional_messages_ignore_quiet_hours_and_opt_outs(
    fake_provider, broker_queue
) -> None:
    now = timezone.now()
    audience = numbers(2)
    OptOut.objects.create(to=audience[0])
    connect(fake_provider.url, **quiet_around(now, "UTC"))
    campaign = launched(campaign_to(audience, sender_type=TRANSACTIONAL))

    assert sending.process_chunk(campaign_id=campaign.pk, now=now) == 2

    assert statuses(campaign) == {Status.SENT: 2}
    assert sorted(r.records[0]["to"] for r in fake_provider.requests) == audience


# --- delivery reports meeting the send path -----------------------------------------


def post_report(client, sender: Sender, body: bytes):
    """The provider's callback, then what the worker does moments later."""
    response = client.post(
        f"/dlr/{sender.provider.callback_token}/", body, content_type="application/json"
    )
    applying.apply_waiting()
    return response


@pytest.mark.django_db
def test_a_delivery_report_marks_a_campaign_message_delivered(
    client, fake_provider
) -> None:
    sender = connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    sending.process_chunk(campaign_id=campaign.pk)
    message = campaign.messages.get()

    response = post_report(
        client, sender, fixture_with_id("8x8_delivered.json", message.message_id)
    )
    late = post_report(
        client, sender, fixture_with_id("8x8_sent.json", message.message_id)
    )

    message.refresh_from_db()
    assert response.status_code == late.status_code == 200
    assert response.json()["status"] == "success"
    assert message.status == Status.DELIVERED
    assert message.delivered_at is not None
    assert message.delivery_description == "delivered_to_recipient"
    assert message.provider_message_id == "p-" + message.message_id


@pytest.mark.django_db
def test_a_report_that_beats_the_send_record_is_not_overwritten(
    fake_provider,
) -> None:
    sender = connect(fake_provider.url)
    campaign = launched(campaign_to(numbers(1)))
    now = timezone.now()
    [claimed] = sending.claim(campaign_id=campaign.pk, limit=10, now=now)
    report = json.loads(fixture_with_id("8x8_delivered.json", claimed.message_id))

    tracking.apply_updates(provider=sender.provider, updates=parse(report)[1])
    sending.send_claimed([claimed], sender=sender, now=now)

    message = campaign.messages.get()
    assert message.status == Status.DELIVERED
    assert message.sent_at == now
    assert message.provider_message_id == "p-" + message.message_id


@pytest.mark.django_db
def test_a_stop_reply_puts_the_number_on_the_opt_out_list(
    client, fake_provider
) -> None:
    sender = connect(fake_provider.url, sender_type=PROMOTIONAL)
    campaign = launched(campaign_to(numbers(2), sender_type=PROMOTIONAL))
    sending.process_chunk(campaign_id=campaign.pk)
    message = campaign.messages.first()

    response = post_report(
        client, sender, fixture_with_id("clevertap_replied.json", message.message_id)
    )
    follow_up = launched(
        campaign_to(numbers(2), sender_type=PROMOTIONAL, name="Follow-up")
    )

    assert response.status_code == 200
    assert OptOut.objects.get().to == message.to
    assert statuses(follow_up) == {Status.QUEUED: 1, Status.SKIPPED: 1}
    assert follow_up.messages.get(status=Status.SKIPPED).to == message.to
