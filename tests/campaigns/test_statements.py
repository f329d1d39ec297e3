"""campaigns.statements: instances as the ORM would load them, writes as it would
make them, from SQL written once per model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns import statements
from campaigns.models import Campaign, DeliveryReport, Message
from providers.models import Provider, Sender

pytestmark = pytest.mark.django_db


def by_token(*fields: str) -> list[Provider]:
    where = f"{statements.column(Provider, 'callback_token')} = %s"
    token = Provider.objects.get().callback_token
    return statements.fetch(Provider, fields, where, [token])


def test_fetch_converts_values_as_the_orm_does(provider) -> None:
    until = timezone.now() + timedelta(hours=3)
    provider.dlr_credentials = "acme:s3cret"
    provider.dlr_status_values = {"DELIVRD": "delivered"}
    provider.previous_token_valid_until = until
    provider.save()

    # Fields named out of the model's order still land on the right attributes.
    [loaded] = by_token(
        "previous_token_valid_until", "dlr_status_values", "dlr_credentials"
    )

    assert loaded.pk == provider.pk
    assert loaded.dlr_credentials == "acme:s3cret"  # decrypted
    assert loaded.dlr_status_values == {"DELIVRD": "delivered"}  # decoded JSON
    assert loaded.previous_token_valid_until == until  # aware datetime
    assert "endpoint" in loaded.get_deferred_fields()


def test_fetch_finds_nothing_for_an_unknown_value(provider) -> None:
    where = f"{statements.column(Provider, 'callback_token')} = %s"
    assert statements.fetch(Provider, ["nickname"], where, ["nope"]) == []


@pytest.fixture
def message(provider) -> Message:
    sender = Sender.objects.create(provider=provider, name="Promo", sender_id="ACME")
    campaign = Campaign.objects.create(name="c", sender=sender, message="Hi")
    return Message.objects.create(
        campaign=campaign,
        sender=sender,
        message_id="m-1",
        to="+6591234567",
        body="Hi",
        status=Message.Status.SENT,
        failure_reason="kept",
    )


def test_update_writes_loaded_and_set_fields_only(
    message, django_assert_num_queries
) -> None:
    where = f"{statements.column(Message, 'message_id')} = %s"
    [loaded] = statements.fetch(Message, ["status"], where, ["m-1"])
    loaded.status = Message.Status.DELIVERED
    loaded.delivered_at = now = timezone.now()

    # One UPDATE: deferred fields in the list are not read back first.
    with django_assert_num_queries(1):
        statements.update(
            loaded, ["status", "delivered_at", "failure_reason", "delivery_description"]
        )

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == now
    assert message.failure_reason == "kept"


def test_update_with_nothing_loaded_writes_nothing(
    message, django_assert_num_queries
) -> None:
    where = f"{statements.column(Message, 'message_id')} = %s"
    [loaded] = statements.fetch(Message, [], where, ["m-1"])
    with django_assert_num_queries(0):
        statements.update(loaded, ["failure_reason"])


def test_insert_fills_defaults_and_auto_now_add(provider) -> None:
    statements.insert(
        DeliveryReport(
            provider=provider, method="POST", response_status=200, result="ok"
        )
    )

    report = DeliveryReport.objects.get()
    assert report.unmatched_ids == []
    assert report.processed == 0
    assert timezone.now() - report.received_at < timedelta(seconds=5)


def test_update_many_writes_each_row_in_one_statement_per_shape(
    message, django_assert_num_queries
) -> None:
    second = Message.objects.create(
        campaign=message.campaign,
        sender=message.sender,
        message_id="m-2",
        to="+6591234568",
        body="Hi",
        status=Message.Status.SENT,
    )
    where = f"{statements.column(Message, 'message_id')} IN (%s, %s)"
    first, other = statements.fetch(Message, ["status"], where, ["m-1", "m-2"])
    first.status = other.status = Message.Status.DELIVERED
    other.failure_reason = "set on one only"

    # Two shapes of row (one sets failure_reason too): two statements.
    with django_assert_num_queries(2):
        statements.update_many(
            [first, other], ["status", "failure_reason", "delivered_at"]
        )

    message.refresh_from_db()
    second.refresh_from_db()
    assert (message.status, message.failure_reason) == ("delivered", "kept")
    assert (second.status, second.failure_reason) == ("delivered", "set on one only")


def test_insert_many_can_leave_out_rows_that_are_there_already(
    provider, django_assert_num_queries
) -> None:
    receipts = [uuid.uuid4(), uuid.uuid4()]

    def report(receipt: uuid.UUID, result: str) -> DeliveryReport:
        return DeliveryReport(
            provider=provider,
            receipt=receipt,
            method="POST",
            response_status=200,
            result=result,
        )

    statements.insert_many([report(receipts[0], "first")])
    with django_assert_num_queries(1):
        statements.insert_many(
            [report(r, "second") for r in receipts], skip_duplicates=True
        )

    assert sorted(DeliveryReport.objects.values_list("result", flat=True)) == [
        "first",
        "second",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("provider", None),  # set below: a key
        ("received_at", datetime(2024, 5, 2, 10, 15, 33, 470000, tzinfo=UTC)),
        (
            "received_at",
            datetime(2024, 5, 2, 18, 15, tzinfo=ZoneInfo("Asia/Singapore")),
        ),
        ("method", "POST"),
        ("body", "Arrêt ✓"),
        ("response_status", 200),
        ("unmatched_ids", ["a", "b"]),
        ("receipt", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ],
)
def test_values_are_prepared_as_the_fields_themselves_prepare_them(
    provider, name, value
) -> None:
    from django.db import connection

    report = DeliveryReport(provider=provider, response_status=200)
    if value is not None:
        setattr(report, name, value)
    field = DeliveryReport._meta.get_field(name)

    prepared = statements.preparer(field)(report, True, connection)

    expected = field.get_db_prep_save(field.pre_save(report, True), connection)
    # repr(): PostgreSQL's adapted values (Int2, Jsonb) do not compare by value.
    assert (repr(prepared), type(prepared)) == (repr(expected), type(expected))
