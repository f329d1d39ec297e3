"""campaigns.dlr.applying: the callback URL stores, the worker applies; each
report once, in the order it came, whatever else runs at the same time."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from django.db import connection
from django.test import Client

from campaigns.dlr import applying
from campaigns.dlr.applying import apply_waiting
from campaigns.models import DeliveryReport
from providers.models import Provider
from providers.models import TestSend as SentTest

from ..fake_provider import accepted_test_send

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dlr"
WAITING, APPLIED = DeliveryReport.State.WAITING, DeliveryReport.State.APPLIED


def receipt(message_id: str, state: str = "delivered") -> str:
    body = json.loads((FIXTURES / "8x8_delivered.json").read_text())
    body["payload"].update(clientMessageId=message_id, umid="")
    body["payload"]["status"]["state"] = state
    return json.dumps(body)


def post(provider: Provider, message_id: str, state: str = "delivered"):
    return Client().post(
        f"/dlr/{provider.callback_token}/",
        receipt(message_id, state),
        content_type="application/json",
    )


def delivery_state(message_id: str) -> str:
    return SentTest.objects.get(message_id=message_id).delivery_state


def test_an_accepted_callback_waits_with_its_updates_until_applied(provider) -> None:
    accepted_test_send(provider, "a" * 32)

    answer = post(provider, "a" * 32)

    stored = DeliveryReport.objects.get()
    assert answer.json()["processed"] == 1
    assert (stored.state, stored.processed, stored.result) == (WAITING, 0, "Waiting")
    assert stored.updates == [
        {
            "message_id": "a" * 32,
            "state": "delivered",
            "description": "delivered_to_recipient",
            "occurred_at": "2024-05-02T10:15:33.470000+00:00",
            "raw_status": "delivered",
            "event": "status",
        }
    ]
    assert delivery_state("a" * 32) == ""  # no report yet

    assert apply_waiting() == 1

    stored.refresh_from_db()
    assert delivery_state("a" * 32) == "delivered"
    assert (stored.state, stored.processed) == (APPLIED, 1)
    assert stored.result == "1 applied, 0 unchanged, 0 unmatched, 0 other events"
    assert apply_waiting() == 0


def test_reports_are_applied_in_the_order_they_came(provider) -> None:
    accepted_test_send(provider, "a" * 32)
    post(provider, "a" * 32, state="undelivered")
    post(provider, "a" * 32, state="delivered")

    assert apply_waiting(per_transaction=1) == 2

    # The first final state stands: the later "delivered" changed nothing.
    assert delivery_state("a" * 32) == "failed"
    first, second = DeliveryReport.objects.order_by("pk")
    assert (first.processed, second.processed) == (1, 0)


def test_unknown_ids_are_listed_on_the_log_row_once_applied(provider) -> None:
    post(provider, "f" * 32)

    apply_waiting()

    stored = DeliveryReport.objects.get()
    assert (stored.state, stored.unmatched_ids) == (APPLIED, ["f" * 32])


def test_a_report_stored_before_status_update_changed_is_still_applied(
    provider,
) -> None:
    accepted_test_send(provider, "a" * 32)
    DeliveryReport.objects.create(
        provider=provider,
        method="POST",
        response_status=200,
        result="Waiting",
        # Fewer fields than today's StatusUpdate, and one it no longer has.
        updates=[{"message_id": "a" * 32, "state": "delivered", "carrier": "x"}],
    )

    assert apply_waiting() == 1

    assert delivery_state("a" * 32) == "delivered"


def test_a_report_that_cannot_be_applied_is_set_aside_and_the_rest_applied(
    provider, caplog
) -> None:
    accepted_test_send(provider, "a" * 32)
    accepted_test_send(provider, "b" * 32)
    post(provider, "a" * 32)
    odd = DeliveryReport.objects.create(
        provider=provider,
        method="POST",
        response_status=200,
        result="Waiting",
        updates=[{"message_id": "b" * 32, "state": "no-such-state"}],
    )
    post(provider, "b" * 32)

    assert apply_waiting() == 3

    odd.refresh_from_db()
    assert odd.state == DeliveryReport.State.REFUSED
    assert odd.result.startswith("Could not be applied: KeyError")
    assert delivery_state("a" * 32) == delivery_state("b" * 32) == "delivered"
    assert "could not be applied" in caplog.text
    assert apply_waiting() == 0  # nothing left to fail again next round


def test_reports_of_a_provider_deleted_since_go_with_it(provider) -> None:
    other = Provider.objects.create(nickname="Other", endpoint="https://8.8.4.4/x")
    accepted_test_send(other, "b" * 32)
    post(provider, "a" * 32)
    post(other, "b" * 32)
    provider.delete()

    assert apply_waiting() == 1

    assert delivery_state("b" * 32) == "delivered"
    assert DeliveryReport.objects.get().provider == other


def test_two_appliers_at_once_apply_each_report_exactly_once(
    transactional_db, provider
) -> None:
    ids = [f"{n:032x}" for n in range(120)]
    for message_id in ids:
        accepted_test_send(provider, message_id)
        post(provider, message_id)
    counts: list[int] = []

    def applier() -> None:
        try:
            counts.append(apply_waiting(per_transaction=7))
        finally:
            connection.close()

    threads = [threading.Thread(target=applier) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == len(ids)
    reports = DeliveryReport.objects.all()
    assert {r.state for r in reports} == {APPLIED}
    assert sorted(r.processed for r in reports) == [1] * len(ids)
    assert set(SentTest.objects.values_list("delivery_state", flat=True)) == {
        "delivered"
    }


def test_a_batch_another_applier_took_meanwhile_is_rolled_back_whole(
    provider, monkeypatch
) -> None:
    accepted_test_send(provider, "a" * 32)
    post(provider, "a" * 32)
    real = applying.apply_callbacks

    def taken_meanwhile(provider_id, callbacks):
        results = real(provider_id, callbacks)
        # As if another applier had applied them between our read and our write.
        DeliveryReport.objects.update(state=APPLIED)
        return results

    monkeypatch.setattr(applying, "apply_callbacks", taken_meanwhile)

    assert apply_waiting() == 0

    # Neither the delivery nor the change of state was kept.
    assert delivery_state("a" * 32) == ""
    assert DeliveryReport.objects.get().state == WAITING


# --- processes: the web answers and dies; a real Celery worker applies ------------

STORE_AND_DIE = """
import os
from django.test import RequestFactory
from campaigns.dlr.views import dlr_callback
from providers.models import Provider

provider = Provider.objects.get(pk=int(os.environ["PROVIDER"]))
request = RequestFactory().post(
    "/dlr/", os.environ["RECEIPT"], content_type="application/json"
)
print(dlr_callback(request, provider.callback_token).status_code, flush=True)
os._exit(0)  # as a web process killed right after answering
"""


def test_a_callback_answered_by_a_process_that_died_is_applied_later(
    transactional_db, provider, shared_db
) -> None:
    accepted_test_send(provider, "a" * 32)

    answered = shared_db.run(
        STORE_AND_DIE, PROVIDER=str(provider.pk), RECEIPT=receipt("a" * 32)
    )

    assert answered.strip() == "200"
    assert apply_waiting() == 1
    assert delivery_state("a" * 32) == "delivered"


def test_a_celery_worker_applies_what_the_callback_url_stored(
    transactional_db, provider, shared_db, tmp_path
) -> None:
    from ..test_worker import start_worker, stop

    for n in range(20):
        accepted_test_send(provider, f"{n:032x}")
        post(provider, f"{n:032x}")
    delivered = SentTest.objects.filter(delivery_state="delivered")
    assert delivered.count() == 0

    worker = start_worker(shared_db, tmp_path / "worker.log", {})
    try:
        deadline = time.monotonic() + 45
        while delivered.count() != 20:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
    finally:
        stop(worker)
    assert set(DeliveryReport.objects.values_list("state", flat=True)) == {APPLIED}
