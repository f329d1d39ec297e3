"""campaigns.dlr.tracking: delivery reports applied to test sends, later states only.

The updates are read from the payload files in tests/fixtures/dlr/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.utils import timezone

from campaigns.dlr.tracking import TrackingResult, apply_updates
from providers.dlr import StatusUpdate, parse
from providers.models import Provider

from ..fake_provider import accepted_test_send

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dlr"

LIFECYCLE_ID = "4b1d7e0c9a2f4e6b8d3c5a7f1e9b2d40"
LIFECYCLE_UMID = "6f3c1a52-9d0e-5b7a-8c41-2e7d90b1f4a3"
CT_DELIVERED_ID = "8d2f0b6a1c3e4f5a9b7d6e0c2a4f8b13"
CT_FAILED_ID = "5a0c8e2f6b1d4c7a9e3b0f4d8a2c6e57"
CT_OTHER_ID = "e6b3d9a0f2c84b1e7a5d3c0f9b6e2a18"


def updates(name: str) -> list[StatusUpdate]:
    return parse(json.loads((FIXTURES / name).read_text()))[1]


def apply(provider: Provider, *names: str) -> TrackingResult:
    return apply_updates(
        provider=provider, updates=[u for name in names for u in updates(name)]
    )


def test_it_applies_a_delivered_report(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)

    result = apply(provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert result == TrackingResult(applied=1)
    assert test.delivery_state == "delivered"
    assert test.delivery_description == "delivered_to_recipient"
    assert test.delivery_reported_at == datetime(
        2024, 5, 2, 10, 15, 33, 470000, tzinfo=UTC
    )
    assert timezone.now() - test.dlr_received_at < timedelta(seconds=5)


def test_it_records_a_failures_code_and_description(provider) -> None:
    test = accepted_test_send(provider, "7e2a9c4f1b6d4a0e8c3f5b9d2e7a1c64")

    apply(provider, "8x8_undelivered.json")

    test.refresh_from_db()
    assert (
        test.delivery_state,
        test.delivery_error_code,
        test.delivery_description,
    ) == ("failed", "15", "Invalid destination")


def test_it_advances_through_queued_sent_delivered(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    seen = []

    for name in ("8x8_queued.json", "8x8_sent.json", "8x8_delivered.json"):
        assert apply(provider, name).applied == 1
        test.refresh_from_db()
        seen.append(test.delivery_state)

    assert seen == ["queued", "sent", "delivered"]


def test_it_keeps_delivered_when_a_late_sent_arrives(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    apply(provider, "8x8_delivered.json")
    test.refresh_from_db()
    first = test.dlr_received_at

    result = apply(provider, "8x8_sent.json", "8x8_queued.json")

    test.refresh_from_db()
    assert result == TrackingResult(unchanged=2)
    assert (test.delivery_state, test.dlr_received_at) == ("delivered", first)


def test_it_keeps_the_first_final_state(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    apply(provider, "8x8_delivered.json")
    late_failure = StatusUpdate(
        message_id=LIFECYCLE_ID, state="failed", error_code="15"
    )

    result = apply_updates(provider=provider, updates=[late_failure])

    test.refresh_from_db()
    assert result.unchanged == 1
    assert (test.delivery_state, test.delivery_error_code) == ("delivered", "")


def test_it_treats_read_after_delivered_as_no_change(provider) -> None:
    accepted_test_send(provider, LIFECYCLE_ID)
    apply(provider, "8x8_delivered.json")

    assert apply(provider, "8x8_read.json") == TrackingResult(unchanged=1)


def test_it_changes_nothing_when_a_report_is_replayed(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    apply(provider, "8x8_delivered.json")
    test.refresh_from_db()
    before = (test.delivery_state, test.dlr_received_at, test.delivery_reported_at)

    result = apply(provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert result == TrackingResult(unchanged=1)
    assert (
        test.delivery_state,
        test.dlr_received_at,
        test.delivery_reported_at,
    ) == before


def test_it_applies_states_in_order_within_one_callback(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)

    result = apply(provider, "8x8_queued.json", "8x8_delivered.json", "8x8_sent.json")

    test.refresh_from_db()
    assert result == TrackingResult(applied=2, unchanged=1)
    assert test.delivery_state == "delivered"


def test_it_matches_on_the_providers_id_when_ours_is_unknown(provider) -> None:
    test = accepted_test_send(
        provider, "an-id-8x8-never-saw", provider_message_id=LIFECYCLE_UMID
    )

    result = apply(provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert result.applied == 1
    assert test.delivery_state == "delivered"


def test_it_lists_ids_it_does_not_know(provider) -> None:
    result = apply(provider, "8x8_delivered.json")

    assert result == TrackingResult(unmatched=[LIFECYCLE_ID])


def test_it_only_matches_the_providers_own_test_sends(provider) -> None:
    other = Provider.objects.create(nickname="Other", endpoint="https://8.8.4.4/x")
    theirs = accepted_test_send(other, LIFECYCLE_ID, provider_message_id=LIFECYCLE_UMID)

    result = apply(provider, "8x8_delivered.json")

    theirs.refresh_from_db()
    assert result.unmatched == [LIFECYCLE_ID]
    assert theirs.delivery_state == ""


def test_it_counts_every_kind_of_record_in_a_mixed_callback(provider) -> None:
    delivered = accepted_test_send(provider, CT_DELIVERED_ID)
    failed = accepted_test_send(provider, CT_FAILED_ID)

    result = apply(provider, "clevertap_mixed.json")

    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert result == TrackingResult(applied=2, unmatched=[CT_OTHER_ID], events=2)
    assert delivered.delivery_state == "delivered"
    assert (failed.delivery_state, failed.delivery_error_code) == ("failed", "901")


def test_it_counts_replies_and_clicks_as_events_without_changing_state(
    provider,
) -> None:
    test = accepted_test_send(provider, CT_DELIVERED_ID)

    result = apply(provider, "clevertap_replied.json", "clevertap_clicked.json")

    test.refresh_from_db()
    assert result == TrackingResult(events=2)
    assert test.delivery_state == ""


def test_it_ignores_a_report_without_a_state(provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    unknown = StatusUpdate(message_id=LIFECYCLE_ID, raw_status="unknown")

    result = apply_updates(provider=provider, updates=[unknown])

    test.refresh_from_db()
    assert result == TrackingResult(unchanged=1)
    assert test.dlr_received_at is None


def test_it_accepts_a_generator_of_updates(provider) -> None:
    accepted_test_send(provider, LIFECYCLE_ID)

    result = apply_updates(
        provider=provider, updates=(u for u in updates("8x8_delivered.json"))
    )

    assert result.applied == 1
