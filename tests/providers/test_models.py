"""providers.models: integrity rules hold in the database, not only in forms."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from providers.models import Provider, Sender
from providers.outbound.outcomes import ResponseRules

pytestmark = pytest.mark.django_db

PROMOTIONAL = Sender.SenderType.PROMOTIONAL
TRANSACTIONAL = Sender.SenderType.TRANSACTIONAL


def provider(nickname: str = "8x8_SMS", **fields) -> Provider:
    return Provider.objects.create(
        nickname=nickname, endpoint="https://sms.example.com/send", **fields
    )


def sender(name: str, sender_type: str, *, is_default: bool = False, of=None) -> Sender:
    return Sender.objects.create(
        provider=of or provider(f"provider of {name}"),
        name=name,
        sender_type=sender_type,
        is_default=is_default,
    )


def defaults() -> set[tuple[str, str]]:
    return set(
        Sender.objects.filter(is_default=True).values_list("name", "sender_type")
    )


# --- provider ----------------------------------------------------------------------


def test_it_refuses_a_nickname_differing_only_in_case_in_the_database() -> None:
    provider("8x8_SMS")

    with pytest.raises(IntegrityError), transaction.atomic():
        provider("8X8_sms")

    assert Provider.objects.count() == 1


@pytest.mark.parametrize("size", [0, 1001])
def test_it_refuses_a_batch_size_outside_1_to_1000_in_the_database(size) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        provider(batch_size=size)


def test_it_refuses_an_update_to_an_out_of_range_batch_size() -> None:
    saved = provider(batch_size=1000)

    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.filter(pk=saved.pk).update(batch_size=1001)

    saved.refresh_from_db()
    assert saved.batch_size == 1000


@pytest.mark.parametrize("size", [1, 1000])
def test_it_accepts_the_batch_size_limits(size) -> None:
    assert provider(batch_size=size).batch_size == size


def test_it_gives_every_provider_its_own_callback_url(settings) -> None:
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    first, second = provider("a"), provider("b")

    assert first.callback_url.startswith("https://sms.example.com/dlr/")
    assert first.callback_url != second.callback_url
    assert len(first.callback_token) >= 32


# --- senders -----------------------------------------------------------------------


def test_it_refuses_two_defaults_of_one_type_made_by_a_raw_update() -> None:
    first = sender("First", PROMOTIONAL, is_default=True)
    second = sender("Second", PROMOTIONAL)

    with pytest.raises(IntegrityError), transaction.atomic():
        Sender.objects.filter(pk__in=[first.pk, second.pk]).update(is_default=True)

    assert defaults() == {("First", PROMOTIONAL)}


def test_it_refuses_two_defaults_of_one_type_made_by_bulk_create() -> None:
    owner = provider()

    with pytest.raises(IntegrityError), transaction.atomic():
        Sender.objects.bulk_create(
            [
                Sender(
                    provider=owner,
                    name=name,
                    sender_type=TRANSACTIONAL,
                    is_default=True,
                )
                for name in ("One", "Two")
            ]
        )

    assert not Sender.objects.exists()


def test_it_allows_one_default_per_type_at_the_same_time() -> None:
    owner = provider()

    Sender.objects.bulk_create(
        [
            Sender(
                provider=owner, name="Promo", sender_type=PROMOTIONAL, is_default=True
            ),
            Sender(
                provider=owner, name="Txn", sender_type=TRANSACTIONAL, is_default=True
            ),
            Sender(provider=owner, name="Spare", sender_type=TRANSACTIONAL),
        ]
    )

    assert defaults() == {("Promo", PROMOTIONAL), ("Txn", TRANSACTIONAL)}


def test_it_moves_the_default_of_a_type_when_another_sender_is_marked() -> None:
    sender("Old promo", PROMOTIONAL, is_default=True)
    sender("Txn", TRANSACTIONAL, is_default=True)

    sender("New promo", PROMOTIONAL, is_default=True)

    assert defaults() == {("New promo", PROMOTIONAL), ("Txn", TRANSACTIONAL)}


def test_it_moves_the_default_when_an_existing_sender_is_marked() -> None:
    sender("Old", TRANSACTIONAL, is_default=True)
    spare = sender("Spare", TRANSACTIONAL)

    spare.is_default = True
    spare.save()

    assert defaults() == {("Spare", TRANSACTIONAL)}


def test_it_keeps_the_default_when_the_default_itself_is_saved_again() -> None:
    current = sender("Current", TRANSACTIONAL, is_default=True)

    current.sender_id = "NEWID"
    current.save()

    assert defaults() == {("Current", TRANSACTIONAL)}


def test_it_leaves_the_default_alone_when_a_non_default_is_saved() -> None:
    sender("Current", TRANSACTIONAL, is_default=True)

    sender("Another", TRANSACTIONAL)

    assert defaults() == {("Current", TRANSACTIONAL)}


def test_it_refuses_two_senders_of_one_provider_with_the_same_name() -> None:
    owner = provider()
    sender("Main", TRANSACTIONAL, of=owner)

    with pytest.raises(IntegrityError), transaction.atomic():
        sender("MAIN", PROMOTIONAL, of=owner)


def test_it_validates_a_new_default_without_tripping_the_one_default_rule() -> None:
    sender("Current", PROMOTIONAL, is_default=True)
    candidate = Sender(
        provider=provider(), name="Next", sender_type=PROMOTIONAL, is_default=True
    )

    candidate.full_clean()
    candidate.save()

    assert defaults() == {("Next", PROMOTIONAL)}


@pytest.mark.django_db
def test_a_hand_built_8x8_provider_reads_answers_as_8x8_documents() -> None:
    provider = Provider.objects.create(
        nickname="8x8_SMS",
        endpoint="https://sms.8x8.com/api/v1/subaccounts/{subAccountId}"
        "/partners/clevertap/batch",
        payload='{"msgs": [{"destination": "$$To", "text": "$$Body"}]}',
    )

    assert provider.accepted_count_path == "acceptedCount"
    assert provider.response_rules().accepted_count_path == "acceptedCount"


@pytest.mark.django_db
def test_rules_the_user_set_are_kept() -> None:
    provider = Provider.objects.create(
        nickname="8x8 single",
        endpoint="https://sms.8x8.com/api/v1/subaccounts/acme/messages",
        message_id_path="clientMessageId",
    )

    assert (provider.message_id_path, provider.response_rule) == ("clientMessageId", "")


@pytest.mark.django_db
def test_an_unknown_provider_gets_no_rules() -> None:
    provider = Provider.objects.create(
        nickname="Other", endpoint="https://api.example.com/sms"
    )

    assert provider.response_rules() == ResponseRules()


@pytest.mark.parametrize("path", ["clientMessageId", "messages.10.id"])
def test_a_record_id_path_needs_the_step_for_each_record(path) -> None:
    provider = Provider(nickname="x", endpoint="https://api.example.com/sms")
    provider.record_id_path = path

    with pytest.raises(ValidationError) as caught:
        provider.clean_fields(
            exclude=[
                f.name for f in Provider._meta.fields if f.name != "record_id_path"
            ]
        )

    assert (
        caught.value.error_dict["record_id_path"][0].code == "record_path_without_index"
    )
