"""The route screens: the route form and its providers, the route test page, and
the providers list's health column with the pause and resume actions.

Providers are mocked at the HTTP wire with `responses`; whatever reaches the
wire is a real request the route test sent."""

from __future__ import annotations

import html
import json
import re

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from providers import health
from providers.models import Sender
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category
from providers.routes import DEFAULT_FALLBACK, Route, RouteStep

from ...campaigns.fake_provider import route_sender

pytestmark = pytest.mark.django_db

INDIA_URL = "https://india.example.test/send"
WORLD_URL = "https://world.example.test/send"
ADD_URL = reverse("admin:providers_route_add")
ROUTES_URL = reverse("admin:providers_route_changelist")
PROVIDERS_URL = reverse("admin:providers_provider_changelist")
INDIAN_NUMBER = "+919812345670"


@pytest.fixture
def india() -> Sender:
    return route_sender(INDIA_URL, "India SMS")


@pytest.fixture
def world() -> Sender:
    return route_sender(WORLD_URL, "World SMS")


@pytest.fixture
def route(india: Sender, world: Sender) -> Route:
    route = Route.objects.create(name="India first", attempts_per_provider=1)
    RouteStep.objects.create(route=route, sender=india, countries="IN", position=0)
    RouteStep.objects.create(route=route, sender=world, countries="", position=1)
    return route


@pytest.fixture
def wire():
    """The providers' end of the wire; nothing is answered unless a test says."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def route_data(
    *steps: tuple[object, str], name: str = "India first", **fields
) -> dict[str, object]:
    """The route form as the browser posts it, with one inline row per step."""
    data: dict[str, object] = {
        "name": name,
        "fallback_on": fields.pop("fallback_on", list(DEFAULT_FALLBACK)),
        "attempts_per_provider": fields.pop("attempts_per_provider", "2"),
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **fields,
    }
    for n, (sender, countries) in enumerate(steps):
        pk = sender.pk if isinstance(sender, Sender) else sender
        data[f"steps-{n}-position"] = str(n)
        data[f"steps-{n}-sender"] = str(pk)
        data[f"steps-{n}-countries"] = countries
    return data


def errors_of(response) -> tuple[dict, list, list[dict]]:
    """(form errors, formset non-form errors, each row's errors) of a refused save."""
    assert response.status_code == 200
    form = response.context["adminform"].form
    (formset,) = [
        inline.formset for inline in response.context["inline_admin_formsets"]
    ]
    return form.errors, formset.non_form_errors(), formset.errors


# --- the route form -------------------------------------------------------------------


def test_a_new_route_offers_the_default_fallback_outcomes_ticked(admin_client) -> None:
    page = admin_client.get(ADD_URL).content.decode()

    ticked = set(re.findall(r'name="fallback_on" value="(\w+)"[^>]*checked', page))
    assert ticked == set(DEFAULT_FALLBACK)


def test_it_saves_a_route_with_its_providers_in_order(
    admin_client, india, world
) -> None:
    response = admin_client.post(
        ADD_URL,
        route_data(
            (india, "in, +1"),
            (world, ""),
            fallback_on=["connection", "server_error", "rate_limited"],
            attempts_per_provider="3",
        ),
    )

    assert response.status_code == 302
    route = Route.objects.get()
    assert route.fallback_on == ["connection", "server_error", "rate_limited"]
    assert route.attempts_per_provider == 3
    assert [(s.sender, s.countries) for s in route.steps.all()] == [
        (india, "in, +1"),
        (world, ""),
    ]
    listed = admin_client.get(ROUTES_URL).content.decode()
    assert "India SMS (in, +1), World SMS (default)" in listed


def test_a_route_saved_with_no_outcome_ticked_never_falls_back(
    admin_client, india
) -> None:
    response = admin_client.post(ADD_URL, route_data((india, ""), fallback_on=[]))

    assert response.status_code == 302
    assert Route.objects.get().fallback_on == []


def test_it_refuses_a_route_without_a_provider(admin_client) -> None:
    form, formset, rows = errors_of(admin_client.post(ADD_URL, route_data()))

    assert form == {}
    assert [e.code for e in formset.as_data()] == ["no_steps"]
    assert not Route.objects.exists()


def test_it_refuses_a_route_whose_only_row_is_deleted(admin_client, india) -> None:
    data = route_data((india, ""))
    data["steps-0-DELETE"] = "on"

    form, formset, rows = errors_of(admin_client.post(ADD_URL, data))

    assert [e.code for e in formset.as_data()] == ["no_steps"]
    assert not Route.objects.exists()


@pytest.mark.parametrize(
    ("countries", "named"),
    [
        ("XX1", "XX1"),
        ("IN, XX", "XX"),
        ("+999", "+999"),
        ("+0", "+0"),
        ("India", "India"),
    ],
)
def test_it_refuses_a_country_it_does_not_know_on_the_field(
    admin_client, india, countries: str, named: str
) -> None:
    form, formset, rows = errors_of(
        admin_client.post(ADD_URL, route_data((india, countries)))
    )

    assert list(rows[0]) == ["countries"]
    assert named in rows[0]["countries"][0]
    assert list(formset) == []  # the row says why; no "add a provider" as well
    assert not Route.objects.exists()
    assert not RouteStep.objects.exists()


@pytest.mark.parametrize(
    ("first", "second", "where"),
    [
        ("IN", "in", "IN"),
        ("IN, SG", "+1, SG", "SG"),
        ("", "", "every country"),
    ],
)
def test_it_refuses_a_sender_twice_for_the_same_country(
    admin_client, india, first: str, second: str, where: str
) -> None:
    form, formset, rows = errors_of(
        admin_client.post(ADD_URL, route_data((india, first), (india, second)))
    )

    assert rows[0] == {}
    assert list(rows[1]) == ["sender"]
    assert f"already provider 1 for {where}" in rows[1]["sender"][0]
    assert not Route.objects.exists()


def test_it_lets_one_sender_serve_two_countries_on_two_rows(
    admin_client, india, world
) -> None:
    response = admin_client.post(
        ADD_URL, route_data((india, "IN"), (world, ""), (india, "SG"))
    )

    assert response.status_code == 302
    assert Route.objects.get().steps.count() == 3


@pytest.mark.parametrize("attempts", ["0", "11", "-1", "two", ""])
def test_it_refuses_attempts_per_provider_out_of_range(
    admin_client, india, attempts: str
) -> None:
    form, formset, rows = errors_of(
        admin_client.post(
            ADD_URL, route_data((india, ""), attempts_per_provider=attempts)
        )
    )

    assert list(form) == ["attempts_per_provider"]
    assert not Route.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps-0-sender", "abc"),
        ("steps-0-sender", "99999"),
        ("steps-0-sender", "-1"),
        ("steps-0-sender", ""),
        ("steps-0-position", "first"),
        ("fallback_on", "made_up"),
        ("steps-0-countries", "I" * 300),
    ],
)
def test_it_answers_odd_input_with_a_field_error_never_a_500(
    admin_client, india, field: str, value: str
) -> None:
    data = route_data((india, "IN"))
    data[field] = value

    form, formset, rows = errors_of(admin_client.post(ADD_URL, data))

    row_field = field.removeprefix("steps-0-")
    assert row_field in (rows[0] if field.startswith("steps-") else form)
    assert not Route.objects.exists()


def test_it_refuses_a_second_route_of_the_same_name(admin_client, route, india) -> None:
    form, formset, rows = errors_of(
        admin_client.post(ADD_URL, route_data((india, ""), name="INDIA FIRST"))
    )

    assert "A route with this name already exists." in str(form)
    assert Route.objects.count() == 1


def test_the_route_page_links_to_its_test_page(admin_client, route) -> None:
    page = admin_client.get(route.get_absolute_url()).content.decode()

    assert reverse("admin:providers_route_test", args=[route.pk]) in page


# --- the route test page -----------------------------------------------------------


def page_url(route: Route) -> str:
    return reverse("admin:providers_route_test", args=[route.pk])


def headline(page: str) -> str:
    match = re.search(r"<h2 data-route-headline>(.*?)</h2>", page, re.S)
    assert match, "no headline on the page"
    return " ".join(html.unescape(match.group(1)).split())


def hops(page: str) -> list[tuple[str, str]]:
    """(provider, what happened) of each row of the chain, in order."""
    rows = re.findall(
        r'<tr data-hop="\d+" data-provider="([^"]*)".*?<td data-note>(.*?)</td>',
        page,
        re.S,
    )
    return [(html.unescape(p), " ".join(html.unescape(n).split())) for p, n in rows]


def show(client, route: Route, number: str = INDIAN_NUMBER, country: str = "IN"):
    return client.get(page_url(route), {"number": number, "country": country})


def send(client, route: Route, number: str = INDIAN_NUMBER, **fields):
    data = {"number": number, "country": "IN", "message": "Route check", **fields}
    return client.post(page_url(route), data)


def bodies(wire, url: str) -> list[dict]:
    return [json.loads(c.request.body) for c in wire.calls if c.request.url == url]


def test_it_shows_which_provider_an_indian_number_would_use_and_why(
    admin_client, route, wire
) -> None:
    response = show(admin_client, route)

    page = response.content.decode()
    assert response.status_code == 200
    assert headline(page) == (
        f"A message to {INDIAN_NUMBER} would go to India SMS (India SMS transactional)."
    )
    assert (
        f"{INDIAN_NUMBER} is a number in India (IN, +91): the route&#x27;s "
        "providers for IN first, then its default ones."
    ) in page
    assert [p for p, _ in hops(page)] == ["India SMS", "World SMS"]
    assert len(wire.calls) == 0
    assert not SentTest.objects.exists()


def test_a_number_of_another_country_goes_to_the_default_provider(
    admin_client, route, wire
) -> None:
    page = show(admin_client, route, number="+6591234567").content.decode()

    assert "would go to World SMS" in headline(page)
    assert "No provider of the route names Singapore (SG, +65)" in page
    assert [p for p, _ in hops(page)] == ["World SMS"]
    assert len(wire.calls) == 0


def test_a_step_for_a_calling_code_takes_the_numbers_of_every_region_with_it(
    admin_client, route, wire
) -> None:
    america = route_sender("https://america.example.test/send", "America SMS")
    RouteStep.objects.create(route=route, sender=america, countries="+1", position=2)

    for number in ("+12025550143", "+14165550143"):  # the US, then Canada
        page = show(admin_client, route, number=number, country="US").content.decode()
        assert "would go to America SMS" in headline(page)
        assert "the route&#x27;s providers for +1 first" in page
        assert [p for p, _ in hops(page)] == ["America SMS", "World SMS"]
    assert len(wire.calls) == 0


def test_a_route_without_a_provider_for_the_country_says_so(
    admin_client, india, wire
) -> None:
    route = Route.objects.create(name="India only")
    RouteStep.objects.create(route=route, sender=india, countries="IN")

    page = show(admin_client, route, number="+6591234567").content.decode()

    assert (
        headline(page)
        == "No provider of the route can take a message to +6591234567 now."
    )
    assert "no provider for this number" in page
    assert len(wire.calls) == 0


def test_it_names_a_paused_first_provider_as_skipped(admin_client, route) -> None:
    health.pause(route.steps.first().sender.provider_id, reason="Maintenance.")

    page = show(admin_client, route).content.decode()

    assert "would go to World SMS" in headline(page)
    assert hops(page)[0] == ("India SMS", "Skipped: paused. Maintenance.")


def test_it_sends_a_test_to_the_first_provider_and_shows_it_accepted(
    admin_client, route, wire
) -> None:
    wire.post(INDIA_URL, json={"id": "p-1"})

    response = send(admin_client, route)

    test = SentTest.objects.get()
    assert response.status_code == 302
    assert f"tests={test.pk}" in response["Location"]
    assert [b["to"] for b in bodies(wire, INDIA_URL)] == [INDIAN_NUMBER]
    assert bodies(wire, WORLD_URL) == []
    page = admin_client.get(response["Location"]).content.decode()
    assert headline(page) == "Accepted by India SMS."
    assert hops(page) == [("India SMS", "Accepted."), ("World SMS", "")]
    # The form is there again for the next test, with the default text.
    assert "This is a test message of the route.</textarea>" in page


def test_a_result_for_a_number_of_another_country_than_chosen_shows_again(
    admin_client, route, wire
) -> None:
    """The number's + survives the redirect: +65 with India chosen stays +65."""
    wire.post(WORLD_URL, json={"id": "p-1"})

    response = send(admin_client, route, number="+6591234567")

    assert SentTest.objects.get().to == "+6591234567"
    page = admin_client.get(response["Location"]).content.decode()
    assert headline(page) == "Accepted by World SMS."
    assert hops(page) == [("World SMS", "Accepted.")]


def test_a_forced_fallback_skips_the_first_provider_and_shows_it_skipped(
    admin_client, route, wire
) -> None:
    wire.post(WORLD_URL, json={"id": "p-1"})

    response = send(admin_client, route, force_fallback="on")

    assert bodies(wire, INDIA_URL) == []
    assert [b["to"] for b in bodies(wire, WORLD_URL)] == [INDIAN_NUMBER]
    assert SentTest.objects.get().provider.nickname == "World SMS"
    page = admin_client.get(response["Location"]).content.decode()
    assert headline(page) == "Accepted by World SMS after a forced fallback."
    assert hops(page) == [
        ("India SMS", "Skipped: fallback forced, to test the next provider."),
        ("World SMS", "Accepted."),
    ]


def test_a_first_provider_failing_hands_the_test_to_the_second(
    admin_client, route, wire
) -> None:
    wire.post(INDIA_URL, status=500, json={"error": "down"})
    wire.post(WORLD_URL, json={"id": "p-1"})

    response = send(admin_client, route)

    first, second = SentTest.objects.order_by("pk")
    assert (first.provider.nickname, first.category) == ("India SMS", "server_error")
    assert (second.provider.nickname, second.category) == ("World SMS", "accepted")
    # The same text to the same number, once to each.
    assert bodies(wire, INDIA_URL)[0]["text"] == bodies(wire, WORLD_URL)[0]["text"]
    assert len(wire.calls) == 2
    page = admin_client.get(response["Location"]).content.decode()
    assert headline(page) == "Accepted by World SMS after 1 fallback."
    assert hops(page) == [
        ("India SMS", "Failed; the route moved on to the next provider."),
        ("World SMS", "Accepted."),
    ]


def test_a_refusal_the_route_does_not_fall_back_on_stops_the_test(
    admin_client, route, wire
) -> None:
    wire.post(INDIA_URL, status=400, json={"error": "invalid destination"})

    response = send(admin_client, route)

    assert SentTest.objects.get().category == Category.BAD_REQUEST
    assert bodies(wire, WORLD_URL) == []
    page = admin_client.get(response["Location"]).content.decode()
    assert headline(page) == "No provider of the route accepted the test."
    assert hops(page)[0][1].startswith("Failed in a way the route does not move on")


def test_a_forced_fallback_with_no_second_provider_sends_nothing_and_says_so(
    admin_client, india, wire
) -> None:
    route = Route.objects.create(name="India only")
    RouteStep.objects.create(route=route, sender=india, countries="IN")

    response = send(admin_client, route, force_fallback="on")

    assert response.status_code == 200
    assert len(wire.calls) == 0
    assert not SentTest.objects.exists()
    errors = response.context["form"].errors
    assert "no provider after India SMS" in errors["force_fallback"][0]


def test_reloading_a_result_never_sends_again(admin_client, route, wire) -> None:
    wire.post(INDIA_URL, json={"id": "p-1"})
    location = send(admin_client, route)["Location"]

    for _ in range(3):
        page = admin_client.get(location).content.decode()
        assert headline(page) == "Accepted by India SMS."

    assert len(wire.calls) == 1
    assert SentTest.objects.count() == 1


def test_showing_the_route_never_sends_whatever_the_query_says(
    admin_client, route, wire
) -> None:
    query = {"number": INDIAN_NUMBER, "country": "IN", "send": "1", "message": "Hi"}
    for extra in ({}, {"force_fallback": "on"}):
        response = admin_client.get(page_url(route), {**query, **extra})
        assert response.status_code == 200

    assert len(wire.calls) == 0
    assert not SentTest.objects.exists()


def test_a_result_ignores_test_ids_of_another_number(admin_client, route, wire) -> None:
    wire.post(INDIA_URL, json={"id": "p-1"})
    send(admin_client, route)
    other = SentTest.objects.get()

    page = admin_client.get(
        page_url(route), {"number": "+919812345671", "country": "IN", "tests": other.pk}
    ).content.decode()

    assert "would go to India SMS" in headline(page)
    assert all(note == "" for _, note in hops(page))


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("123", "IN"),
        ("not a number", "IN"),
        ("+9999999999999", "IN"),
        ("", "IN"),
        ("9812345670", "ZZ"),
        ("9" * 40, "IN"),
    ],
)
def test_an_invalid_number_is_a_field_error_never_a_500(
    admin_client, route, wire, number: str, country: str
) -> None:
    for response in (
        show(admin_client, route, number=number, country=country),
        admin_client.post(
            page_url(route), {"number": number, "country": country, "message": "Hi"}
        ),
    ):
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert set(errors) <= {"number", "country"}
        assert errors
        assert "data-route-result" not in response.content.decode()
    assert len(wire.calls) == 0
    assert not SentTest.objects.exists()


def test_an_unknown_route_is_not_found(admin_client) -> None:
    assert admin_client.get("/admin/providers/route/999/test/").status_code == 404


def staff_with(client, *perms: str) -> User:
    user = User.objects.create_user(username="staff", is_staff=True)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return user


def test_the_test_page_is_forbidden_without_send_test_sms(client, route, wire) -> None:
    staff_with(client, "providers.view_route", "providers.change_route")

    shown = show(client, route)
    sent = send(client, route)

    assert (shown.status_code, sent.status_code) == (403, 403)
    assert len(wire.calls) == 0
    assert not SentTest.objects.exists()
    page = client.get(route.get_absolute_url()).content.decode()
    assert "route-test-link" not in page


def test_the_test_page_is_open_to_a_user_who_may_send_tests(
    client, route, wire
) -> None:
    staff_with(client, "providers.view_route", "providers.send_test_sms")
    wire.post(INDIA_URL, json={"id": "p-1"})

    response = send(client, route)

    assert response.status_code == 302
    assert SentTest.objects.get().created_by.username == "staff"
    page = client.get(route.get_absolute_url()).content.decode()
    assert "route-test-link" in page


# --- health on the providers list ----------------------------------------------------


def health_cell(client, nickname: str) -> str:
    page = client.get(PROVIDERS_URL).content.decode()
    for row in re.findall(r"<tr>.*?</tr>", page, re.S):
        if f">{nickname}</a>" in row:
            match = re.search(r'<td class="field-health_display">(.*?)</td>', row, re.S)
            assert match, "no health column"
            return match.group(1)
    raise AssertionError(f"{nickname} is not listed")


def health_of(cell: str) -> str:
    match = re.search(r'data-health="(\w+)"', cell)
    return match.group(1) if match else cell


def test_the_list_shows_a_provider_that_never_failed_as_healthy(
    admin_client, india
) -> None:
    assert health_of(health_cell(admin_client, "India SMS")) == "healthy"


def test_the_list_counts_failures_below_the_threshold(
    admin_client, india, settings
) -> None:
    settings.PROVIDER_BREAKER_FAILURES = 5
    health.observe(india.provider_id, failed=2, succeeded=False, reason="HTTP 503")

    cell = health_cell(admin_client, "India SMS")

    assert health_of(cell) == "failing"
    assert "2 failures in a row" in cell


def test_the_list_shows_an_open_breaker_with_its_reason(
    admin_client, india, settings
) -> None:
    settings.PROVIDER_BREAKER_FAILURES = 3
    health.observe(
        india.provider_id, failed=3, succeeded=False, reason="Server error: HTTP 503"
    )

    cell = health_cell(admin_client, "India SMS")

    assert health_of(cell) == "open"
    assert "Skipped (breaker open)" in cell
    assert "3 failures in a row; Server error: HTTP 503" in cell
    assert re.search(r"until \d\d:\d\d:\d\d UTC", cell)


def test_the_list_shows_a_breaker_whose_cool_down_is_over_as_probing(
    admin_client, india, settings
) -> None:
    settings.PROVIDER_BREAKER_FAILURES = 3
    past = timezone.now() - timezone.timedelta(hours=1)
    health.observe(india.provider_id, failed=3, succeeded=False, reason="x", now=past)

    assert health_of(health_cell(admin_client, "India SMS")) == "probing"


def test_the_list_shows_an_archived_provider_as_archived(admin_client, india) -> None:
    health.pause(india.provider_id, reason="Paused.")
    india.provider.is_active = False
    india.provider.save()

    assert health_cell(admin_client, "India SMS").strip() == "Archived"


def act(client, action: str, *senders: Sender):
    data = {
        "action": action,
        "_selected_action": [s.provider_id for s in senders],
        "index": "0",
    }
    return client.post(PROVIDERS_URL, data)


def test_pausing_shows_the_provider_paused_by_whom_and_resuming_brings_it_back(
    admin_client, india, world, settings
) -> None:
    settings.PROVIDER_BREAKER_FAILURES = 3
    health.observe(india.provider_id, failed=3, succeeded=False, reason="x")

    paused = act(admin_client, "pause_providers", india, world)

    assert paused.status_code == 302
    for nickname in ("India SMS", "World SMS"):
        cell = health_cell(admin_client, nickname)
        assert health_of(cell) == "paused"
        assert "Paused by admin at" in cell

    resumed = act(admin_client, "resume_providers", india)

    assert resumed.status_code == 302
    assert health_of(health_cell(admin_client, "India SMS")) == "healthy"
    assert health_of(health_cell(admin_client, "World SMS")) == "paused"
    row = health.ProviderHealth.objects.get(provider_id=india.provider_id)
    assert (row.failures_in_a_row, row.open_until) == (0, None)


PAUSE_AND_RESUME = pytest.mark.parametrize(
    ("action", "paused_before", "paused_after"),
    [("pause_providers", False, True), ("resume_providers", True, False)],
)


def paused(sender: Sender) -> bool:
    return health.ProviderHealth.objects.filter(
        provider_id=sender.provider_id, paused=True
    ).exists()


@PAUSE_AND_RESUME
def test_pause_and_resume_are_forbidden_without_the_permission(
    client, india, action: str, paused_before: bool, paused_after: bool
) -> None:
    staff_with(client, "providers.view_provider", "providers.change_provider")
    if paused_before:
        health.pause(india.provider_id, reason="Paused by the on-call.")

    response = act(client, action, india)

    assert response.status_code == 403
    assert paused(india) is paused_before
    menu = client.get(PROVIDERS_URL).content.decode()
    assert f'value="{action}"' not in menu


@PAUSE_AND_RESUME
def test_pause_and_resume_are_offered_with_the_permission(
    client, india, action: str, paused_before: bool, paused_after: bool
) -> None:
    staff_with(client, "providers.view_provider", "providers.pause_provider")
    if paused_before:
        health.pause(india.provider_id, reason="Paused by the on-call.")

    menu = client.get(PROVIDERS_URL).content.decode()
    response = act(client, action, india)

    assert f'value="{action}"' in menu
    assert response.status_code == 302
    assert paused(india) is paused_after
