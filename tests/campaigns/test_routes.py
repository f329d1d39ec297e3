"""Routes against fake providers over real HTTP: per-country choice, fallback
with the same message ids, the shared breaker, pauses, and delivery reports
from either provider. Celery runs eagerly, so a launch inside a transactional
test sends at once; later rounds are driven with process_chunk and a later `now`.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import responses
from django.test import override_settings
from django.utils import timezone

from campaigns import events, sending, stats
from campaigns.dlr import tracking
from campaigns.models import Campaign, Message
from providers import health
from providers.dlr import DeliveryState, StatusUpdate
from providers.models import Provider, Sender
from providers.routes import Route, RouteStep

from .fake_provider import (
    ACCEPT,
    FakeProvider,
    always,
    campaign_to,
    connect,
    fail,
    hang,
    numbers,
    route_sender,
    script,
)

Status = Message.Status
INDIA = ["+919812345670", "+919812345671", "+919812345672"]
SINGAPORE = numbers(3)
UK = ["+447700900001", "+447700900002", "+447700900003"]


def route_of(*steps: tuple[Sender, str], **fields) -> Route:
    route = Route.objects.create(name=fields.pop("name", "Main route"), **fields)
    for position, (sender, countries) in enumerate(steps):
        RouteStep.objects.create(
            route=route, sender=sender, countries=countries, position=position
        )
    return route


def first_then_second(first: FakeProvider, second: FakeProvider, **fields) -> Route:
    """A route to every country: the first fake provider, then the second."""
    return route_of(
        (route_sender(first.url, "First SMS"), ""),
        (route_sender(second.url, "Second SMS"), ""),
        **fields,
    )


def routed_campaign(route: Route, audience: list[str], **fields) -> Campaign:
    campaign = campaign_to(audience, **fields)
    campaign.route = route
    campaign.save(update_fields=["route"])
    return campaign


def senders_of(campaign: Campaign) -> dict[str, str]:
    rows = campaign.messages.select_related("sender__provider")
    return {m.to: m.sender.provider.nickname for m in rows}


def finish(campaign: Campaign, *, after: float = 0.0, rounds: int = 10) -> None:
    """Run the campaign's later rounds, `after` seconds apart, until done."""
    now = timezone.now()
    for _ in range(rounds):
        now += timedelta(seconds=after)
        sending.process_chunk(campaign_id=campaign.pk, now=now)
        if not campaign.messages.filter(status__in=[Status.QUEUED]).exists():
            return


# --- per-country routes ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_each_country_goes_to_its_own_provider_and_the_rest_to_the_default() -> None:
    with FakeProvider() as india, FakeProvider() as singapore, FakeProvider() as world:
        route = route_of(
            (route_sender(india.url, "India SMS"), "IN"),
            (route_sender(singapore.url, "Singapore SMS"), "+65"),
            (route_sender(world.url, "World SMS"), ""),
        )
        campaign = routed_campaign(route, [*INDIA, *SINGAPORE, *UK])

        sending.launch(campaign=campaign)

        by_number = {m.message_id: m.to for m in campaign.messages.all()}
        assert sorted(by_number[i] for i in india.accepted_ids()) == INDIA
        assert sorted(by_number[i] for i in singapore.accepted_ids()) == SINGAPORE
        assert sorted(by_number[i] for i in world.accepted_ids()) == UK
    assert set(senders_of(campaign).items()) == (
        {(n, "India SMS") for n in INDIA}
        | {(n, "Singapore SMS") for n in SINGAPORE}
        | {(n, "World SMS") for n in UK}
    )
    assert Counter(campaign.messages.values_list("status", flat=True)) == {
        Status.SENT: 9
    }


@pytest.mark.django_db(transaction=True)
def test_a_launch_refuses_a_number_the_route_has_no_provider_for(
    fake_provider,
) -> None:
    route = route_of((route_sender(fake_provider.url, "India SMS"), "IN"))
    campaign = routed_campaign(route, [INDIA[0], UK[0]])

    with pytest.raises(sending.LaunchError, match=r"no provider for \+447700900001"):
        sending.launch(campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not campaign.messages.exists()
    assert fake_provider.requests == []


# --- fallback -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@override_settings(SEND_CONCURRENCY=1, PROVIDER_BREAKER_FAILURES=3)
def test_a_provider_failing_half_way_hands_the_rest_on_with_the_same_ids() -> None:
    audience = numbers(40)
    with (
        FakeProvider(script(*[ACCEPT] * 20, then=fail(503))) as first,
        FakeProvider() as second,
    ):
        route = first_then_second(first, second)
        campaign = routed_campaign(route, audience)

        sending.launch(campaign=campaign)
        finish(campaign, after=30)

        ids = set(campaign.messages.values_list("message_id", flat=True))
        took_first, took_second = set(first.accepted_ids()), set(second.accepted_ids())
        # Every message was accepted exactly once, by one of the two.
        assert took_first | took_second == ids
        assert not took_first & took_second
        assert len(took_first) == 20
        # The second provider got only the messages the first refused, each once.
        assert sorted(second.posted_ids()) == sorted(took_second)
    assert Counter(campaign.messages.values_list("status", flat=True)) == {
        Status.SENT: 40
    }
    moved = campaign.messages.filter(message_id__in=took_second)
    assert set(moved.values_list("sender__provider__nickname", flat=True)) == {
        "Second SMS"
    }
    assert set(moved.values_list("hop", flat=True)) == {1}
    # The breaker opened after 3 failures in a row: the first provider was
    # skipped from then on instead of being tried for every message.
    assert len(first.requests) - 20 <= 3 * route.attempts_per_provider
    first_health = health.ProviderHealth.objects.get(provider__nickname="First SMS")
    assert first_health.open_until is not None


@pytest.mark.django_db(transaction=True)
@override_settings(SEND_CONCURRENCY=1, PROVIDER_BREAKER_FAILURES=3)
def test_when_the_breaker_opens_waiting_retries_move_on_at_once() -> None:
    # Batches of 5: the first two fail before the breaker opens on the third,
    # and would otherwise wait out their retry time at the failing provider.
    with FakeProvider(always(fail(503))) as first, FakeProvider() as second:
        one = connect(first.url, batch_size=5, nickname="First SMS")
        two = connect(second.url, batch_size=5, nickname="Second SMS")
        Sender.objects.update(is_default=False)
        route = route_of((one, ""), (two, ""))
        campaign = routed_campaign(route, numbers(30))

        sending.launch(campaign=campaign)  # no time passes: no retry is due

        assert len(second.accepted_ids()) == 30
    assert campaign.messages.filter(status=Status.SENT).count() == 30
    rows = {r["provider"]: r for r in stats.campaign_stats(campaign)["providers"]}
    # Every message left the first provider, and is counted as handed on.
    assert rows["First SMS"]["handed_on"] == 30
    assert rows["Second SMS"]["accepted"] == 30


@pytest.mark.django_db(transaction=True)
def test_stats_per_provider_are_exact_after_a_fallback() -> None:
    with (
        FakeProvider(script(*[ACCEPT] * 5, then=fail(500))) as first,
        FakeProvider() as second,
    ):
        route = first_then_second(first, second, attempts_per_provider=1)
        campaign = routed_campaign(route, numbers(12))
        sending.launch(campaign=campaign)
        finish(campaign, after=30)
        accepted_first = len(first.accepted_ids())
        accepted_second = len(second.accepted_ids())

    rows = {row["provider"]: row for row in stats.campaign_stats(campaign)["providers"]}
    assert rows["First SMS"]["accepted"] == accepted_first == 5
    assert rows["First SMS"]["handed_on"] == 7
    assert rows["Second SMS"]["accepted"] == accepted_second == 7
    assert rows["Second SMS"]["handed_on"] == 0
    assert stats.campaign_stats(campaign)["counts"][Status.SENT] == 12


@pytest.mark.django_db(transaction=True)
def test_a_bad_request_without_the_providers_own_code_is_not_handed_on() -> None:
    with FakeProvider(always(fail(400))) as first, FakeProvider() as second:
        route = first_then_second(first, second)
        campaign = routed_campaign(route, numbers(2))
        sending.launch(campaign=campaign)
        assert second.requests == []
    assert set(campaign.messages.values_list("failure_category", flat=True)) == {
        "bad_request"
    }


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_refusal_with_a_code_the_provider_marks_as_its_own_moves_on() -> None:
    # Vonage answers 200 with a status per message: 9 is "Partner Quota
    # Violation" (no credit), 7 "Number Barred" (the recipient's number).
    first = Provider.objects.create(
        nickname="Vonage",
        endpoint="https://rest.nexmo.com/sms/json",
        payload='{"to": "$$To", "text": "$$Body", "client-ref": "$$MessageID"}',
    )
    first.refresh_from_db()
    assert first.fallback_codes == "1, 5, 8, 9, 10, 11, 15, 29"  # from the preset
    vonage = Sender.objects.create(provider=first, name="Vonage", sender_id="ACME")
    answers = {"+6591000000": "9", "+6591000001": "7"}

    def vonage_answer(request):
        body = request.body.decode()
        number = next(n for n in answers if n.lstrip("+") in body or n in body)
        status = answers[number]
        return 200, {}, f'{{"messages": [{{"status": "{status}"}}]}}'

    responses.add_callback(
        responses.POST, "https://rest.nexmo.com/sms/json", callback=vonage_answer
    )
    responses.add(responses.POST, "https://backup.example.com/send", json={"id": "b-1"})
    backup = Provider.objects.create(
        nickname="Backup",
        endpoint="https://backup.example.com/send",
        payload='{"to": "$$To", "text": "$$Body", "mid": "$$MessageID"}',
        message_id_path="id",
    )
    route = route_of(
        (vonage, ""),
        (Sender.objects.create(provider=backup, name="Backup", sender_id="ACME"), ""),
    )
    campaign = routed_campaign(route, list(answers))

    sending.launch(campaign=campaign)

    by_number = {m.to: m for m in campaign.messages.select_related("sender")}
    assert by_number["+6591000000"].status == Status.SENT
    assert by_number["+6591000000"].sender.provider_id == backup.pk
    assert by_number["+6591000001"].status == Status.FAILED
    assert by_number["+6591000001"].failure_category == "rejected"
    assert by_number["+6591000001"].sender.provider_id == first.pk
    backup_calls = [c for c in responses.calls if "backup" in c.request.url]
    assert len(backup_calls) == 1


@pytest.mark.django_db(transaction=True)
@override_settings(SEND_CONCURRENCY=1)
def test_a_request_whose_answer_timed_out_is_never_moved_to_another_provider() -> None:
    with FakeProvider(always(hang())) as first, FakeProvider() as second:
        route = first_then_second(first, second, attempts_per_provider=1)
        campaign = routed_campaign(route, numbers(1))
        sending.launch(campaign=campaign)
        assert second.requests == []
    message = campaign.messages.get()
    # Retried at the provider that may have it, with the same id, not moved.
    assert message.status == Status.QUEUED
    assert message.hop == 0
    assert message.failure_category == "timeout"
    assert message.maybe_sent
    # Even once that provider is skipped, the message waits for it.
    health.pause(message.sender.provider_id, reason="down")
    finish(campaign, after=30)
    message.refresh_from_db()
    assert (message.status, message.hop) == (Status.QUEUED, 0)


@pytest.mark.django_db
def test_a_message_cut_off_by_a_dead_worker_is_not_moved() -> None:
    # Inside the test's transaction the launch's on-commit sending never runs.
    with FakeProvider(always(fail(503))) as first, FakeProvider() as second:
        route = first_then_second(first, second, attempts_per_provider=1)
        campaign = routed_campaign(route, numbers(1))
        sending.launch(campaign=campaign)
        # The first provider may have the attempt a stopped worker cut off.
        campaign.messages.update(maybe_sent=True, attempts=4)

        sending.process_chunk(campaign_id=campaign.pk)

        assert second.requests == []
    message = campaign.messages.get()
    assert message.status == Status.FAILED
    assert message.failure_category == "unconfirmed"


# --- the breaker ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@override_settings(
    SEND_CONCURRENCY=1, PROVIDER_BREAKER_FAILURES=3, SEND_MAX_ATTEMPTS=50
)
def test_the_breaker_opens_holds_a_campaign_then_a_probe_closes_it() -> None:
    answers = {"now": fail(500)}
    with FakeProvider(lambda seq: answers["now"]) as provider:
        sender = connect(provider.url)
        campaign = campaign_to(numbers(10))
        sending.launch(campaign=campaign)

        row = health.ProviderHealth.objects.get(provider=sender.provider)
        # One sending thread may have one more request out, or answered but
        # not yet recorded, when the third failure opens the breaker.
        assert 3 <= row.failures_in_a_row <= 4
        assert row.open_until is not None
        assert len(provider.requests) == row.failures_in_a_row  # then no more
        opened = row.open_until
        sent_before = len(provider.requests)

        # Within the cool-down nothing is claimed, however ready the messages.
        later = opened - timedelta(seconds=1)
        assert sending.process_chunk(campaign_id=campaign.pk, now=later) == 0
        assert len(provider.requests) == sent_before

        # After it, one worker probes with one request; the provider is back.
        answers["now"] = ACCEPT
        after = opened + timedelta(seconds=1)
        assert sending.process_chunk(campaign_id=campaign.pk, now=after) == 1
        row.refresh_from_db()
        assert (row.failures_in_a_row, row.open_until) == (0, None)

        finish(campaign, after=600)
        assert campaign.messages.filter(status=Status.SENT).count() == 10
        assert len(provider.accepted_ids()) == 10


@pytest.mark.django_db(transaction=True)
@override_settings(PROVIDER_BREAKER_FAILURES=2)
def test_a_failed_probe_opens_the_breaker_again_and_only_one_worker_probes() -> None:
    with FakeProvider(always(fail(500))) as provider:
        sender = connect(provider.url)
        now = timezone.now()
        health.observe(
            sender.provider_id, failed=2, succeeded=False, reason="x", now=now
        )
        row = health.ProviderHealth.objects.get(provider=sender.provider)
        due = row.open_until + timedelta(seconds=1)

        assert health.take_probe(sender.provider_id, now=due)
        assert not health.take_probe(sender.provider_id, now=due)  # one at a time

        health.observe(
            sender.provider_id, failed=1, succeeded=False, reason="again", now=due
        )
        row.refresh_from_db()
        assert row.open_until > due
        assert row.last_failure == "again"


# --- pauses ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_paused_provider_is_skipped_by_a_route_and_holds_a_plain_campaign() -> None:
    with FakeProvider() as first, FakeProvider() as second:
        one, two = (
            route_sender(first.url, "First SMS"),
            route_sender(second.url, "Second SMS"),
        )
        health.pause(one.provider_id, reason="Maintenance tonight.")
        route = route_of((one, ""), (two, ""))
        routed = routed_campaign(route, numbers(3), name="Routed")
        sending.launch(campaign=routed)
        finish(routed)

        plain = campaign_to(numbers(2, start=10), name="Plain")
        plain.sender = one
        plain.save(update_fields=["sender"])
        sending.launch(campaign=plain)

        assert first.requests == []
        assert len(second.accepted_ids()) == 3
        assert set(plain.messages.values_list("status", flat=True)) == {Status.QUEUED}

        health.resume(one.provider_id)
        finish(plain, after=60)
        assert len(first.accepted_ids()) == 2
    assert set(routed.messages.values_list("hop", flat=True)) == {1}


# --- delivery reports -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_report_from_either_provider_applies_to_a_moved_message() -> None:
    with (
        FakeProvider(always(fail(500))) as first,
        FakeProvider() as second,
    ):
        one = route_sender(first.url, "First SMS")
        two = route_sender(second.url, "Second SMS")
        route = route_of((one, ""), (two, ""), attempts_per_provider=1)
        campaign = routed_campaign(route, numbers(3))
        sending.launch(campaign=campaign)
        finish(campaign, after=30)
    a, b, c = campaign.messages.order_by("pk")
    assert {a.sender_id, b.sender_id, c.sender_id} == {two.pk}

    def report(provider, message, state):
        return tracking.apply_updates(
            provider=provider,
            updates=[StatusUpdate(message_id=message.message_id, state=state)],
        )

    # The provider now holding it reports as usual.
    assert report(two.provider, a, DeliveryState.DELIVERED).applied == 1
    # The one it moved on from may say it delivered after all: that holds.
    assert report(one.provider, b, DeliveryState.DELIVERED).applied == 1
    # Its failure is of an attempt already superseded, and changes nothing.
    result = report(one.provider, c, DeliveryState.FAILED)
    assert (result.applied, result.unmatched) == (0, [])
    statuses = dict(campaign.messages.values_list("pk", "status"))
    assert statuses == {
        a.pk: Status.DELIVERED,
        b.pk: Status.DELIVERED,
        c.pk: Status.SENT,
    }
    # A provider not on the route is still not heard for these messages.
    stranger = connect("http://127.0.0.1:9/send", nickname="Stranger")
    assert report(stranger.provider, c, DeliveryState.FAILED).unmatched == [
        c.message_id
    ]


# --- events ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_event_campaign_on_a_route_sends_each_event_by_its_country() -> None:
    with FakeProvider() as india, FakeProvider() as world:
        route = route_of(
            (route_sender(india.url, "India SMS"), "IN"),
            (route_sender(world.url, "World SMS"), ""),
        )
        campaign = Campaign.objects.create(
            name="OTP",
            kind=Campaign.Kind.EVENT,
            event_name="otp_requested",
            message="Your code is $$code",
            route=route,
        )
        sending.launch(campaign=campaign)

        events.trigger_event(
            event="otp_requested", to=INDIA[0], properties={"code": "1"}
        )
        events.trigger_event(event="otp_requested", to=UK[0], properties={"code": "2"})

        assert len(india.accepted_ids()) == 1
        assert len(world.accepted_ids()) == 1
    assert senders_of(campaign) == {INDIA[0]: "India SMS", UK[0]: "World SMS"}


@pytest.mark.django_db
def test_an_event_for_a_country_the_route_cannot_reach_sends_nothing() -> None:
    route = route_of((route_sender("http://127.0.0.1:9/send", "India SMS"), "IN"))
    Campaign.objects.create(
        name="OTP",
        kind=Campaign.Kind.EVENT,
        event_name="otp_requested",
        message="Your code is $$code",
        route=route,
        status=Campaign.Status.SENDING,
    )

    with pytest.raises(events.CampaignNotSendable, match="no provider for"):
        events.trigger_event(event="otp_requested", to=UK[0], properties={"code": "1"})

    assert not Message.objects.exists()
