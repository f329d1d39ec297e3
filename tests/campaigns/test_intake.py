"""Delivery-report callbacks on SQLite: accepted into the inbox beside the
database, then applied in batches, each exactly once, by whichever process's
turn it is (campaigns.intake and campaigns.inbox).

These tests run outside a test transaction, as the web server does: inside one,
a callback is applied in that transaction at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import intake
from campaigns.inbox import Inbox, inbox
from campaigns.models import DeliveryReport
from providers.dlr import StatusUpdate
from providers.models import Provider
from providers.models import TestSend as SentTest

from .fake_provider import accepted_test_send
from .test_writers import hold_in_another_thread

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/dlr/8x8_delivered.json"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_web_applier(settings):
    """Left to themselves, web processes apply what waited a second; these tests
    say when callbacks are applied."""
    settings.DLR_WEB_APPLY_AFTER_SECONDS = 3600


@pytest.fixture
def box():
    box = inbox()
    assert box is not None, "the tests run on a SQLite file"
    for taken in box.take():  # nothing left over from another test
        box.done(taken)
    return box


def receipt_for(message_id: str) -> bytes:
    body = json.loads(FIXTURE.read_text())
    body["payload"].update(clientMessageId=message_id, umid="")
    return json.dumps(body).encode()


def post(client: Client, provider: Provider, message_id: str):
    return client.post(
        f"/dlr/{provider.callback_token}/",
        receipt_for(message_id),
        content_type="application/json",
    )


def state(message_id: str) -> str:
    return SentTest.objects.get(message_id=message_id).delivery_state


def test_a_callback_waits_in_the_inbox_until_it_is_applied(provider, box) -> None:
    accepted_test_send(provider, "a" * 32)
    before = timezone.now()

    response = post(Client(), provider, "a" * 32)

    after = timezone.now()
    assert response.status_code == 200
    assert box.has_waiting()
    assert (state("a" * 32), DeliveryReport.objects.count()) == ("", 0)

    assert intake.drain() == 1

    assert state("a" * 32) == "delivered"
    stored = DeliveryReport.objects.get()
    assert str(stored.receipt) == response.json()["receipt"]
    # Logged as of its arrival, not of when it was applied.
    assert before <= stored.received_at <= after
    assert stored.result == "1 applied, 0 unchanged, 0 unmatched, 0 other events"
    assert not box.has_waiting()


def test_callbacks_of_several_providers_go_in_together_each_to_its_own(
    provider, box
) -> None:
    other = Provider.objects.create(nickname="Other", endpoint="https://8.8.4.4/x")
    accepted_test_send(provider, "a" * 32)
    accepted_test_send(other, "b" * 32)
    client = Client()

    post(client, provider, "a" * 32)
    post(client, other, "b" * 32)
    post(client, provider, "b" * 32)  # not this provider's message

    assert intake.drain() == 3
    assert (state("a" * 32), state("b" * 32)) == ("delivered", "delivered")
    mine = DeliveryReport.objects.filter(provider=provider).order_by("pk")
    assert [r.unmatched_ids for r in mine] == [[], ["b" * 32]]


def test_a_batch_applied_again_after_a_crash_is_logged_once(provider, box) -> None:
    for n in range(3):
        accepted_test_send(provider, f"{n:032d}")
        post(Client(), provider, f"{n:032d}")
    [taken] = box.take()
    # The batch is committed, then the process dies before removing its file.
    intake.apply_file(box, taken)
    first = list(DeliveryReport.objects.values_list("receipt", "result"))

    assert intake.drain() == 3  # the file left behind is taken again

    assert list(DeliveryReport.objects.values_list("receipt", "result")) == first
    assert {state(f"{n:032d}") for n in range(3)} == {"delivered"}
    assert not box.has_waiting()


def test_an_unreadable_line_is_kept_aside_and_the_rest_applied(
    provider, box, caplog
) -> None:
    accepted_test_send(provider, "a" * 32)
    box.append(b'{"cut short')
    post(Client(), provider, "a" * 32)

    with caplog.at_level(logging.ERROR, logger="campaigns.inbox"):
        assert intake.drain() == 1

    assert state("a" * 32) == "delivered"
    assert box.rejected_file.read_bytes().splitlines()[-1] == b'{"cut short'
    assert "could not be applied" in caplog.text
    assert '{"cut short' not in caplog.text  # what providers send is not logged


def test_a_callback_that_cannot_be_applied_is_set_aside_not_retried_forever(
    provider, box, caplog
) -> None:
    accepted_test_send(provider, "a" * 32)
    accepted_test_send(provider, "b" * 32)
    post(Client(), provider, "a" * 32)
    odd = intake.Callback(
        provider_id=provider.pk,
        method="POST",
        content_type="application/json",
        body="{}",
        updates=(StatusUpdate(message_id="b" * 32, state="no-such-state"),),
    )
    box.append(odd.to_line())

    with caplog.at_level(logging.ERROR, logger="campaigns.inbox"):
        assert intake.drain() == 2

    assert state("a" * 32) == "delivered"
    assert not box.has_waiting()  # nothing left to fail again next round
    assert odd.receipt.hex in box.rejected_file.read_text().splitlines()[-1]
    assert "KeyError" in caplog.text


def test_callbacks_for_a_provider_deleted_since_are_dropped_with_it(
    provider, box, caplog
) -> None:
    other = Provider.objects.create(nickname="Other", endpoint="https://8.8.4.4/x")
    accepted_test_send(other, "b" * 32)
    client = Client()
    post(client, provider, "a" * 32)
    post(client, other, "b" * 32)
    provider.delete()

    with caplog.at_level(logging.WARNING, logger="campaigns.intake"):
        assert intake.drain() == 2

    assert "for a provider deleted since" in caplog.text
    assert state("b" * 32) == "delivered"
    assert DeliveryReport.objects.get().provider == other


def test_a_callback_that_cannot_be_stored_is_refused_with_503(provider, box) -> None:
    Path(box.waiting_file).mkdir(parents=True)  # writing to it now fails
    try:
        response = post(Client(), provider, "a" * 32)
    finally:
        Path(box.waiting_file).rmdir()

    assert response.status_code == 503
    assert response.json()["error"] == (
        "The callback could not be stored; send it again."
    )
    assert not box.has_waiting()


def test_only_one_applier_at_a_time_and_none_waits(provider, box) -> None:
    accepted_test_send(provider, "a" * 32)
    post(Client(), provider, "a" * 32)
    _, release = hold_in_another_thread()
    try:
        assert intake.drain() == 0  # told at once that another is at it
        assert box.has_waiting()
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while intake.drain() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the other lets go
    assert state("a" * 32) == "delivered"


def test_many_callbacks_and_appliers_at_once_apply_each_exactly_once(
    provider, box
) -> None:
    ids = [f"{n:032x}" for n in range(120)]
    for message_id in ids:
        accepted_test_send(provider, message_id)
    stop = threading.Event()
    answers: list[int] = []

    def sender(share: list[str]) -> None:
        from django.db import connection

        client = Client()
        try:
            for message_id in share:
                answers.append(post(client, provider, message_id).status_code)
        finally:
            connection.close()

    def applier() -> None:
        from django.db import connection

        try:
            while not stop.is_set():
                intake.drain()
                time.sleep(0.002)
        finally:
            connection.close()

    appliers = [threading.Thread(target=applier) for _ in range(2)]
    senders = [threading.Thread(target=sender, args=(ids[n::4],)) for n in range(4)]
    for thread in appliers + senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=60)
    stop.set()
    for thread in appliers:
        thread.join(timeout=60)
    intake.drain()

    assert answers == [200] * len(ids)
    assert set(SentTest.objects.values_list("delivery_state", flat=True)) == {
        "delivered"
    }
    receipts = list(DeliveryReport.objects.values_list("receipt", flat=True))
    assert len(receipts) == len(set(receipts)) == len(ids)


def test_a_web_process_applies_callbacks_when_no_worker_does(
    provider, box, settings
) -> None:
    settings.DLR_WEB_APPLY_AFTER_SECONDS = 0.2
    accepted_test_send(provider, "a" * 32)

    post(Client(), provider, "a" * 32)

    deadline = time.monotonic() + 10
    while state("a" * 32) != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state("a" * 32) == "delivered"


# --- the inbox file --------------------------------------------------------------


def test_a_line_keeps_everything_about_the_callback() -> None:
    callback = intake.Callback(
        provider_id=7,
        method="POST",
        content_type="application/json",
        body='{"text": "Arrêt ✓"}',
        format="clevertap",
        updates=(
            StatusUpdate(
                message_id="m1",
                provider_message_id="p1",
                state="failed",
                error_code="901",
                description="DND Failure",
                occurred_at=datetime(2024, 5, 2, 10, 15, 33, 470000, tzinfo=UTC),
                raw_status="failed",
            ),
            StatusUpdate(message_id="m2", event="replied", text="STOP"),
        ),
        receipt=uuid.uuid4(),
        received_at=timezone.now(),
    )

    assert intake.Callback.from_line(callback.to_line()) == callback


def test_the_inbox_is_due_once_lines_have_waited_long_enough(tmp_path) -> None:
    box = Inbox(tmp_path / "inbox")
    assert not box.due(0)
    box.append(b"[]")
    assert box.due(0.2)  # nothing was ever taken
    box.take()  # taken, and left as a crash would leave it
    assert box.due(3600)
    for taken in box.take():
        box.done(taken)
    box.append(b"[]")
    assert not box.due(3600)  # lines were taken a moment ago
    assert box.due(0)


# --- a real Celery worker applies what the web accepted ---------------------------

ACCEPT = """
import json, os
from django.test import RequestFactory
from campaigns.views import dlr_callback
from providers.models import Provider
from tests.campaigns.fake_provider import accepted_test_send

body = json.loads(os.environ["RECEIPT"])
provider = Provider.objects.create(nickname="8x8", endpoint="https://8.8.8.8/x")
for n in range(20):
    accepted_test_send(provider, f"{n:032x}")
    body["payload"]["clientMessageId"] = f"{n:032x}"
    request = RequestFactory().post(
        "/dlr/", json.dumps(body), content_type="application/json"
    )
    assert dlr_callback(request, provider.callback_token).status_code == 200
"""


def test_a_celery_worker_applies_the_callbacks_web_processes_accepted(
    file_db, tmp_path
) -> None:
    from .test_worker import start_worker, stop

    body = json.loads(FIXTURE.read_text())
    body["payload"]["umid"] = ""
    env = {"DLR_WEB_APPLY_AFTER_SECONDS": "3600"}
    file_db.run(ACCEPT, RECEIPT=json.dumps(body), **env)
    delivered = "SELECT count(*) FROM providers_testsend WHERE delivery_state = ?"
    assert file_db.rows(delivered, ("delivered",)) == [(0,)]
    assert Path(f"{file_db.path}-inbox/waiting").stat().st_size > 0

    worker = start_worker(file_db, tmp_path / "worker.log", env)
    try:
        deadline = time.monotonic() + 45
        while file_db.rows(delivered, ("delivered",)) != [(20,)]:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
    finally:
        stop(worker)
    logged = "SELECT count(DISTINCT receipt) FROM campaigns_deliveryreport"
    assert file_db.rows(logged) == [(20,)]
