"""Routes in a real browser: an admin builds a route from two providers on the
route screen, tests it for an Indian number (which provider, and why; then a
real send with a forced fallback, and one whose first provider fails), and
reads each provider's health on the providers list, pausing and resuming one.

The providers are loopback fake servers the tests start (tests/campaigns/
fake_provider.py); what they received is what the route test really sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from campaigns import sending
from providers import health
from providers.models import Sender
from providers.routes import DEFAULT_FALLBACK, Route, RouteStep
from tests.campaigns.fake_provider import (
    FakeProvider,
    always,
    campaign_to,
    connect,
    fail,
    numbers,
)

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

INDIAN_NUMBER = "9812345670"
INDIAN_E164 = "+919812345670"
ROUTES_URL = "/admin/providers/route/"
PROVIDERS_URL = "/admin/providers/provider/"


def route_sender(url: str, nickname: str) -> Sender:
    """A provider at `url` with a sender that is no type's default."""
    sender = connect(url, nickname=nickname)
    Sender.objects.filter(pk=sender.pk).update(is_default=False)
    sender.refresh_from_db()
    return sender


@pytest.fixture
def india_fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@pytest.fixture
def world_fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


def india_first(india: Sender, world: Sender) -> Route:
    route = Route.objects.create(name="India first", attempts_per_provider=1)
    RouteStep.objects.create(route=route, sender=india, countries="IN", position=1)
    RouteStep.objects.create(route=route, sender=world, countries="", position=2)
    return route


# --- the route screen -------------------------------------------------------------


def choose_sender(page: Page, row: Locator, name: str) -> None:
    """Pick a sender in a row's autocomplete box, typing part of its name."""
    row.locator(".field-sender .select2-selection").click()
    search = page.locator(".select2-container--open .select2-search__field")
    search.fill(name.split()[0])
    page.locator(".select2-results__option", has_text=name).click()
    expect(row.locator(".field-sender .select2-selection__rendered")).to_contain_text(
        name
    )


def step_row(page: Page, n: int) -> Locator:
    return page.locator(f"#steps-{n}")


def test_an_admin_builds_a_route_from_two_providers(
    admin_page: Page, screenshot
) -> None:
    india = route_sender("https://india.example.test/send", "India SMS")
    world = route_sender("https://world.example.test/send", "World SMS")
    page = admin_page
    page.goto(ROUTES_URL)
    page.get_by_role("link", name="Add route").click()

    page.get_by_label("Name:").fill("India first, else World")
    # A new route starts with the default outcomes ticked.
    for value in DEFAULT_FALLBACK:
        expect(page.locator(f"input[name=fallback_on][value={value}]")).to_be_checked()
    page.get_by_label("Rate limited (429)").check()
    page.get_by_label("Authentication failed (401, 403)").uncheck()
    page.get_by_label("Attempts per provider:").fill("3")

    first = step_row(page, 0)
    first.locator(".field-position input").fill("1")
    choose_sender(page, first, "India SMS transactional")
    first.locator(".field-countries input").fill("IN")
    page.get_by_role("button", name="Add another Provider on the route").click()
    second = step_row(page, 1)
    second.locator(".field-position input").fill("2")
    choose_sender(page, second, "World SMS transactional")
    screenshot(page, "route-form")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        "India first, else World"
    )
    expect(page).to_have_url(re.compile(r"/admin/providers/route/$"))
    row = page.locator("#result_list tbody tr").filter(has_text="India first, else")
    expect(row.locator("td.field-providers_display")).to_have_text(
        "India SMS (IN), World SMS (default)"
    )
    route = Route.objects.get()
    assert set(route.fallback_on) == (set(DEFAULT_FALLBACK) | {"rate_limited"}) - {
        "auth"
    }
    assert route.attempts_per_provider == 3
    assert [(s.sender, s.countries) for s in route.steps.all()] == [
        (india, "IN"),
        (world, ""),
    ]


def test_a_country_the_route_does_not_know_is_shown_on_its_field(
    admin_page: Page,
) -> None:
    route_sender("https://india.example.test/send", "India SMS")
    page = admin_page
    page.goto(f"{ROUTES_URL}add/")

    page.get_by_label("Name:").fill("Bad country")
    row = step_row(page, 0)
    choose_sender(page, row, "India SMS transactional")
    row.locator(".field-countries input").fill("XX1")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".errornote")).to_be_visible()
    error = step_row(page, 0).locator(".field-countries .errorlist")
    expect(error).to_contain_text("“XX1” is neither a country")
    # What was typed is still there to correct.
    expect(step_row(page, 0).locator(".field-countries input")).to_have_value("XX1")
    assert not Route.objects.exists()


# --- the route test ---------------------------------------------------------------


def hop(page: Page, n: int) -> Locator:
    return page.locator(f"[data-route-chain] tr[data-hop='{n}']")


def open_route_test(page: Page, route: Route) -> None:
    page.goto(f"{ROUTES_URL}{route.pk}/change/")
    page.get_by_role("link", name="Test this route").click()
    expect(page.locator("h1")).to_have_text("Test route — India first")
    page.get_by_label("Country code").select_option("IN")
    page.get_by_label("Mobile number").fill(INDIAN_NUMBER)


def test_the_route_test_names_the_provider_and_a_forced_fallback_reaches_the_second(
    admin_page: Page, india_fake: FakeProvider, world_fake: FakeProvider, screenshot
) -> None:
    route = india_first(
        route_sender(india_fake.url, "India SMS"),
        route_sender(world_fake.url, "World SMS"),
    )
    page = admin_page
    open_route_test(page, route)

    page.get_by_role("button", name="Show which provider it would use").click()

    expect(page.locator("[data-route-headline]")).to_have_text(
        f"A message to {INDIAN_E164} would go to India SMS (India SMS transactional)."
    )
    expect(page.locator("[data-route-why]")).to_have_text(
        f"{INDIAN_E164} is a number in India (IN, +91): the route's providers "
        "for IN first, then its default ones."
    )
    expect(hop(page, 1)).to_contain_text("India SMS")
    expect(hop(page, 2)).to_contain_text("World SMS")
    assert india_fake.requests == world_fake.requests == []

    page.get_by_label("Force a fallback").check()
    page.get_by_role("button", name="Send a test through the route").click()

    expect(page.locator("[data-route-headline]")).to_have_text(
        "Accepted by World SMS after a forced fallback."
    )
    expect(hop(page, 1).locator("[data-note]")).to_have_text(
        "Skipped: fallback forced, to test the next provider."
    )
    expect(hop(page, 1).locator("[data-test-result]")).to_have_count(0)
    expect(hop(page, 2).locator("[data-note]")).to_have_text("Accepted.")
    expect(hop(page, 2).locator("[data-test-result]")).to_have_text("Accepted")
    screenshot(page, "route-test-forced-fallback")
    assert india_fake.requests == []
    assert [r.json["to"] for r in world_fake.requests] == [INDIAN_E164]

    page.reload()  # shows the result again, sends nothing
    expect(hop(page, 2).locator("[data-note]")).to_have_text("Accepted.")
    assert len(world_fake.requests) == 1


def test_the_route_test_falls_back_when_the_first_provider_fails(
    admin_page: Page, world_fake: FakeProvider, screenshot
) -> None:
    with FakeProvider(always(fail(500))) as india_fake:
        route = india_first(
            route_sender(india_fake.url, "India SMS"),
            route_sender(world_fake.url, "World SMS"),
        )
        page = admin_page
        open_route_test(page, route)

        page.get_by_role("button", name="Send a test through the route").click()

        expect(page.locator("[data-route-headline]")).to_have_text(
            "Accepted by World SMS after 1 fallback."
        )
        first = hop(page, 1)
        expect(first.locator("[data-test-result]")).to_have_text(
            "Provider server error"
        )
        expect(first).to_contain_text("(500)")
        expect(first.locator("[data-note]")).to_have_text(
            "Failed; the route moved on to the next provider."
        )
        expect(hop(page, 2).locator("[data-note]")).to_have_text("Accepted.")
        screenshot(page, "route-test-fallback-after-500")
        # The same message went to each, the second after the first refused it.
        (refused,) = india_fake.requests
        (accepted,) = world_fake.requests
        assert refused.json["to"] == accepted.json["to"] == INDIAN_E164
        assert refused.json["text"] == accepted.json["text"]


# --- health on the providers list -------------------------------------------------


def health_cell(page: Page, nickname: str) -> Locator:
    row = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=nickname, exact=True)
    )
    return row.locator("td.field-health_display")


def run_action(page: Page, nickname: str, action: str) -> None:
    row = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=nickname, exact=True)
    )
    row.locator("input.action-select").check()
    page.locator("select[name=action]").first.select_option(label=action)
    page.get_by_role("button", name="Go").first.click()


def test_the_providers_list_shows_an_open_breaker_and_a_pause_until_resumed(
    admin_page: Page, settings, world_fake: FakeProvider, screenshot
) -> None:
    settings.SEND_CONCURRENCY = 1
    settings.PROVIDER_BREAKER_FAILURES = 3
    settings.PROVIDER_BREAKER_COOLDOWN_SECONDS = 600
    route_sender(world_fake.url, "World SMS")
    with FakeProvider(always(fail(503))) as down:
        connect(down.url, nickname="Down SMS")
        sending.launch(campaign=campaign_to(numbers(6)))
        failed = len(down.requests)
    assert 3 <= failed <= 4  # then the breaker stopped the campaign
    page = admin_page
    page.goto(PROVIDERS_URL)

    cell = health_cell(page, "Down SMS")
    expect(cell.locator("[data-health]")).to_have_text(
        re.compile(r"^Skipped \(breaker open\) until \d\d:\d\d:\d\d UTC$")
    )
    expect(cell.locator(".help")).to_have_text(
        re.compile(rf"^{failed} failures in a row; Provider server error: .*503")
    )
    expect(health_cell(page, "World SMS")).to_have_text("Healthy")
    screenshot(page, "providers-health")

    run_action(page, "Down SMS", "Pause sending (routes skip it; its campaigns wait)")

    expect(page.locator(".messagelist .success")).to_contain_text("Paused 1 provider")
    cell = health_cell(page, "Down SMS")
    expect(cell.locator("[data-health]")).to_have_text("Paused")
    expect(cell.locator(".help")).to_have_text(
        re.compile(r"^Paused by admin at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$")
    )
    expect(health_cell(page, "World SMS")).to_have_text("Healthy")

    run_action(page, "Down SMS", "Resume sending")

    expect(page.locator(".messagelist .success")).to_contain_text("Resumed 1 provider")
    expect(health_cell(page, "Down SMS")).to_have_text("Healthy")
    row = health.ProviderHealth.objects.get(provider__nickname="Down SMS")
    assert (row.paused, row.failures_in_a_row, row.open_until) == (False, 0, None)
