"""Routes' pure parts: countries as typed, a number's country, a number's chain
of senders, and which outcomes move a message on."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from providers.models import Provider, Sender
from providers.outbound.outcomes import Category, Outcome
from providers.routes import (
    DEFAULT_FALLBACK,
    Route,
    RouteStep,
    destination,
    parse_countries,
)


def test_countries_are_read_as_regions_and_calling_codes_in_any_case() -> None:
    assert parse_countries(" in, +1 sg;IN ") == ("IN", "+1", "SG")
    assert parse_countries("") == ()


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("XX", "“XX” is not a country code"),
        ("India", "“India” is neither a country"),
        ("+999", r"\+999 is not a country calling code"),
        ("+0", "“\\+0” is neither"),
        ("IN1", "“IN1” is neither"),
    ],
)
def test_a_country_that_is_none_is_refused_by_name(typed: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        parse_countries(f"SG, {typed}")


@pytest.mark.parametrize(
    ("number", "where"),
    [
        ("+919812345678", ("IN", "+91")),
        ("+6591234567", ("SG", "+65")),
        ("+14155550100", ("US", "+1")),
        ("+12505550100", ("CA", "+1")),
        ("+447781123456", ("GG", "+44")),
        ("+447700900001", ("GB", "+44")),  # a range kept for fiction: GB's
        ("+79161234567", ("RU", "+7")),
        ("+77011234567", ("KZ", "+7")),
        ("not a number", ("", "")),
    ],
)
def test_a_numbers_country_and_calling_code(number: str, where) -> None:
    assert destination(number) == where


def sender(nickname: str) -> Sender:
    provider = Provider.objects.create(
        nickname=nickname,
        endpoint=f"https://{nickname.lower()}.example.com/send",
        payload='{"to": "$$To", "text": "$$Body"}',
    )
    return Sender.objects.create(provider=provider, name=nickname, sender_id="ACME")


@pytest.mark.django_db
def test_a_number_tries_its_countrys_providers_then_the_default_ones_each_once():
    india, cheap_us, world, backup = (
        sender(n) for n in ("India", "CheapUS", "World", "Backup")
    )
    route = Route.objects.create(name="Global")
    for position, (who, countries) in enumerate(
        [(world, ""), (india, "IN"), (cheap_us, "US, +1"), (backup, ""), (world, "IN")]
    ):
        RouteStep.objects.create(
            route=route, sender=who, countries=countries, position=position
        )
    plan = route.plan()

    assert plan.chain("+919812345678") == [india, world, backup]
    assert plan.chain("+14155550100") == [cheap_us, world, backup]
    assert plan.chain("+12505550100") == [cheap_us, world, backup]  # CA, by +1
    assert plan.chain("+6591234567") == [world, backup]
    assert plan.lead == world
    assert plan.next_hop("+919812345678", 0) == (1, world)
    assert plan.next_hop("+919812345678", 2) is None
    assert "a number in India (IN, +91)" in plan.why("+919812345678")
    assert "default" in plan.why("+6591234567")


@pytest.mark.django_db
def test_a_new_route_falls_back_on_the_providers_failures_by_default() -> None:
    route = Route.objects.create(name="Defaults")
    assert route.fallback_on == DEFAULT_FALLBACK
    assert Category.INVALID not in route.fallback_on
    assert Category.DLT not in route.fallback_on


@pytest.mark.django_db
def test_which_outcomes_move_a_message_on() -> None:
    route = Route.objects.create(name="Rules")
    plan = route.plan()
    vonage = Provider(nickname="V", fallback_codes="9, 29")

    def failed(category, **kwargs):
        return Outcome.failure(category, "x", **kwargs)

    assert plan.moves_on(failed(Category.SERVER_ERROR), vonage)
    assert plan.moves_on(failed(Category.AUTH), vonage)
    assert plan.moves_on(failed(Category.CONNECTION), vonage)
    # The request may have reached the provider: never moved.
    assert not plan.moves_on(failed(Category.TIMEOUT, unanswered=True), vonage)
    assert not plan.moves_on(failed(Category.CONNECTION, unanswered=True), vonage)
    # Refusals move only with a code the provider marks as its own.
    assert plan.moves_on(failed(Category.REJECTED, refusal_codes=("9",)), vonage)
    assert plan.moves_on(failed(Category.BAD_REQUEST, refusal_codes=("29",)), vonage)
    assert not plan.moves_on(failed(Category.REJECTED, refusal_codes=("7",)), vonage)
    assert not plan.moves_on(failed(Category.BAD_REQUEST), vonage)
    # Not ticked by default: a 429, an unreadable answer; never a bad input.
    assert not plan.moves_on(failed(Category.RATE_LIMITED), vonage)
    assert not plan.moves_on(failed(Category.INVALID), vonage)

    route.fallback_on = [Category.RATE_LIMITED]
    route.save()
    plan = route.plan()
    assert plan.moves_on(failed(Category.RATE_LIMITED), vonage)
    assert not plan.moves_on(failed(Category.SERVER_ERROR), vonage)
    assert not plan.moves_on(failed(Category.REJECTED, refusal_codes=("9",)), vonage)


def test_refusal_codes_are_read_from_a_rule_value_and_an_error_body() -> None:
    from providers.outbound.outcomes import ResponseRules, judge_response, read_records

    vonage = judge_response(
        host="rest.nexmo.com",
        status=200,
        headers={},
        body=b'{"messages": [{"status": "9", "error-text": "Quota Exceeded"}]}',
        truncated=False,
        rules=ResponseRules(
            rule="accept_if", rule_path="messages.0.status", rule_values=("0",)
        ),
    )
    (record,) = read_records(
        vonage,
        rules=ResponseRules(
            rule="accept_if", rule_path="messages.0.status", rule_values=("0",)
        ),
        message_ids=["m1"],
    )
    assert record.category == Category.REJECTED
    assert "9" in record.refusal_codes
    twilio = judge_response(
        host="api.twilio.com",
        status=400,
        headers={},
        body=b'{"code": 21408, "message": "Permission to send an SMS has not '
        b'been enabled for the region"}',
        truncated=False,
        rules=ResponseRules(),
    )
    assert twilio.category == Category.BAD_REQUEST
    assert twilio.refusal_codes == ("21408",)
