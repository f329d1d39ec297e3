"""How many actions a user takes from the login page to a verified test SMS
(accepted, then Delivered by the sandbox's report): with a provider set up by
hand from 8x8's CleverTap guide, its sample payload pasted verbatim, and with
the 8x8 via CleverTap preset. Run with `-s` to see each flow's actions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Locator, Page, expect

from tests.providers.formdata import GUIDE_PAYLOAD, GUIDE_PAYLOAD_FIXED

from .clipboard import paste
from .conftest import ADMIN_PASSWORD, ADMIN_USERNAME, watch_csp

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

# The most actions each flow may take (both measured lower: 18 and 12).
HAND_BUILT_GOAL = 20
PRESET_GOAL = 12
SUB_ACCOUNT = "demo-account"
SENDER_ID = "smsbridge"
MOBILE_NUMBER = "91234567"
ENDPOINT_PATH = "/api/v1/subaccounts/{subAccountId}/partners/clevertap/batch"
# The guide's header table, as copied from the page: tab-separated lines.
GUIDE_HEADERS = "Authorization\tBearer <API_KEY>\nContent-Type\tapplication/json\n"
FIX = "Use smsbridge's placeholders"
PRESET = "8x8 via CleverTap (partner batch endpoint)"
# The sandbox posts its report after SMS_SANDBOX_DLR_DELAY; the checklist polls.
DLR_TIMEOUT_MS = 10_000


class User:
    """The page as a user drives it: every click, fill (one field's whole value,
    typed or pasted), paste, check, select and typed URL counts once. Waiting and
    reading do not count, nor does the test's own setup that no user does."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.actions: list[str] = []
        self.not_counted: list[str] = []

    def goto(self, url: str) -> None:
        self.actions.append(f"type the URL {url}")
        self.page.goto(url)

    def click(self, target: Locator, what: str) -> None:
        self.actions.append(f"click {what}")
        target.click()

    def fill(
        self, target: Locator, value: str, what: str, *, secret: bool = False
    ) -> None:
        shown = value if len(value) <= 40 else value[:37] + "…"
        shown = "•" * 8 if secret else shown
        self.actions.append(f"fill {what}: {shown!r}")
        target.fill(value)

    def paste(self, target: Locator, text: str, what: str) -> None:
        """Paste into the field, as Ctrl+V does: a paste event carrying the text."""
        self.actions.append(f"paste into {what}: {text!r}")
        paste(target, text)

    def set_up(self, target: Locator, value: str, why: str) -> None:
        self.not_counted.append(f"not counted: {why}")
        target.fill(value)

    def check(self, target: Locator, what: str) -> None:
        self.actions.append(f"tick {what}")
        target.check()

    def select(self, target: Locator, value: str, what: str) -> None:
        self.actions.append(f"select {what}: {value}")
        target.select_option(value)

    def report(self, flow: str) -> str:
        lines = [f"{flow}: {len(self.actions)} actions"]
        lines += [f"  {n:2}. {a}" for n, a in enumerate(self.actions, start=1)]
        lines += [f"   - {line}" for line in self.not_counted]
        return "\n".join(lines)


@pytest.fixture
def user(page: Page, superuser) -> Iterator[User]:
    """A user at the browser, not yet logged in; as admin_page does, the test
    fails if the server answers 500, a script on the page throws or the
    Content-Security-Policy refuses something."""
    problems: list[str] = []
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    watch_csp(page, problems)
    yield User(page)
    assert not problems, "The browser saw problems:\n" + "\n".join(problems)


@pytest.fixture
def sandbox_url(live_server, settings) -> str:
    """The sandbox's base URL; {callback_url} then points back at the live server,
    so the sandbox's delivery report reaches it."""
    settings.PUBLIC_BASE_URL = live_server.url
    return f"{live_server.url}/sandbox"


def settle(page: Page) -> None:
    """Let the preview the last edit set off finish before the next save.

    The live server's threads share an in-memory SQLite: a preview still reading
    while Save writes fails with "database table is locked".
    """
    with page.expect_response(lambda response: "/preview/" in response.url):
        page.evaluate("document.activeElement && document.activeElement.blur()")


def log_in(user: User) -> None:
    page = user.page
    user.goto("/admin/login/")
    user.fill(page.get_by_label("Username"), ADMIN_USERNAME, "Username")
    user.fill(page.get_by_label("Password"), ADMIN_PASSWORD, "Password", secret=True)
    user.click(page.get_by_role("button", name="Log in"), "Log in")
    expect(page.locator("#user-tools")).to_contain_text(ADMIN_USERNAME)


def open_add_screen(user: User) -> None:
    """From the admin home, the "+ Add" beside Providers."""
    providers = user.page.locator("tr.model-provider")
    user.click(providers.get_by_role("link", name="Add"), "+ Add (beside Providers)")


def save(user: User) -> None:
    settle(user.page)
    user.click(user.page.get_by_role("button", name="Save", exact=True), "Save")


def send_test_until_delivered(user: User) -> None:
    page = user.page
    expect(page).to_have_url(re.compile(r"/admin/providers/provider/\d+/send-test/$"))
    user.fill(page.get_by_label("Mobile number"), MOBILE_NUMBER, "Mobile number")
    user.click(page.get_by_role("button", name="Send Test"), "Send Test")
    result = page.locator("[data-test-result]")
    expect(page.locator("[data-check=accepted]")).to_have_text(
        "✓ Request accepted by the provider"
    )
    expect(result.locator("[data-headline]")).to_have_text(
        "Delivered", timeout=DLR_TIMEOUT_MS
    )


def within(user: User, flow: str, *, goal: int) -> None:
    report = user.report(flow)
    print("\n" + report)
    assert len(user.actions) <= goal, f"More actions than the {goal} allowed:\n{report}"


def test_a_provider_built_by_hand_from_the_clevertap_guide(
    user: User, sandbox_url: str, screenshot
) -> None:
    page = user.page
    log_in(user)
    open_add_screen(user)
    user.click(
        page.get_by_role("link", name="Generic provider (CleverTap style)"),
        "Generic provider (CleverTap style)",
    )
    user.fill(page.get_by_label("Nickname"), "8x8_SMS", "Nickname")
    user.fill(
        page.get_by_label("HTTP Endpoint"), sandbox_url + ENDPOINT_PATH, "HTTP Endpoint"
    )
    headers = page.locator("[data-kv-rows=headers]")
    user.paste(headers.locator(".kv-name").nth(0), GUIDE_HEADERS, "Headers")
    expect(headers.locator(".kv-name")).to_have_count(2)
    expect(headers.locator(".kv-value").nth(1)).to_have_value("application/json")
    json_choice = page.get_by_label("JSON")
    if not json_choice.is_checked():
        user.check(json_choice, "Parameters: JSON")
    user.fill(page.locator("#id_payload"), GUIDE_PAYLOAD, "Payload (the guide's)")
    user.check(page.get_by_label("Batch", exact=True), "Batch")
    expect(page.get_by_label("Key name")).to_have_value("msgs")

    # The preview says what is wrong before any save; one click writes what its
    # messages say: {apiKey}, {sender_id}, "{callback_url}", no // comment, and
    # adds the variables, blank.
    preview = page.locator("#request-preview")
    fix = preview.get_by_role("button", name=FIX)
    expect(fix).to_be_visible()
    screenshot(page, "guide-previewed")
    user.click(fix, f"{FIX} (in the preview)")
    expect(page.locator("#id_payload")).to_have_value(GUIDE_PAYLOAD_FIXED)
    expect(headers.locator(".kv-value").nth(0)).to_have_value("Bearer {apiKey}")
    variables = page.locator("[data-kv-rows=variables]")
    expect(variables.locator(".kv-name")).to_have_count(2)
    sub_account, api_key = variables.locator(".kv-value").all()
    expect(variables.locator(".kv-name").nth(0)).to_have_value("subAccountId")
    expect(variables.locator(".kv-name").nth(1)).to_have_value("apiKey")
    expect(variables.locator(".kv-secret").nth(1)).to_have_value("1")
    expect(sub_account).to_be_focused()
    screenshot(page, "placeholders-used")
    user.fill(sub_account, SUB_ACCOUNT, "subAccountId")
    user.fill(api_key, django_settings.SMS_SANDBOX_API_KEY, "apiKey", secret=True)
    user.fill(page.get_by_label("Sender ID / Virtual Number"), SENDER_ID, "Sender ID")
    save(user)
    send_test_until_delivered(user)

    screenshot(page, "delivered")
    within(user, "Hand-built from the CleverTap guide", goal=HAND_BUILT_GOAL)


def test_the_8x8_via_clevertap_preset(user: User, sandbox_url: str, screenshot) -> None:
    page = user.page
    log_in(user)
    open_add_screen(user)
    user.click(page.get_by_role("link", name=PRESET), PRESET)
    expect(page.get_by_label("Nickname")).to_have_value("8x8 SMS")
    user.set_up(
        page.get_by_label("HTTP Endpoint"),
        sandbox_url + ENDPOINT_PATH,
        "HTTP Endpoint pointed at the local sandbox instead of sms.8x8.com",
    )
    values = page.locator("[data-kv-rows=variables] .kv-value")
    user.fill(values.nth(0), SUB_ACCOUNT, "subAccountId")
    user.fill(values.nth(1), django_settings.SMS_SANDBOX_API_KEY, "apiKey", secret=True)
    user.fill(page.get_by_label("Sender ID / Virtual Number"), SENDER_ID, "Sender ID")
    save(user)
    send_test_until_delivered(user)

    screenshot(page, "delivered")
    within(user, "8x8 via CleverTap preset", goal=PRESET_GOAL)
