"""Send Test SMS in a real browser, against the live server's own sandbox provider:
a new provider leads to the test page, the sandbox accepts and its delivery report
ticks the checklist; a wrong API key is diagnosed; the list shows the last test."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from providers.models import Provider
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

ADD_URL = "/admin/providers/provider/add/"
CHANGELIST_URL = "/admin/providers/provider/"
CLEVERTAP_PRESET = "8x8 via CleverTap (partner batch endpoint)"
PRESET_HOST = "https://sms.8x8.com"
SUB_ACCOUNT = "demo-account"
SENDER_ID = "smsbridge"
MOBILE_NUMBER = "91234567"
# Twelve characters or more, so the preview's mask shows the last four.
WRONG_API_KEY = "e2e-wrong-key-0000ABCD"
MASKED_WRONG_API_KEY = "••••ABCD"
# The sandbox posts its report after SMS_SANDBOX_DLR_DELAY (0.2 s); the checklist
# polls every 1.5 s, so this leaves room for a slow machine.
DLR_TIMEOUT_MS = 10_000


@pytest.fixture
def sandbox_url(live_server, settings) -> str:
    """The sandbox's base URL; {callback_url} then points back at the live server,
    so the sandbox's delivery report reaches it."""
    settings.PUBLIC_BASE_URL = live_server.url
    return f"{live_server.url}/sandbox"


def add_sandbox_provider(page: Page, *, sandbox_url: str, nickname: str) -> None:
    """Set up the CleverTap preset against the sandbox and press plain Save."""
    page.goto(ADD_URL)
    page.get_by_role("link", name=CLEVERTAP_PRESET).click()
    endpoint = page.locator("#id_endpoint")
    expect(endpoint).to_have_value(re.compile(f"^{re.escape(PRESET_HOST)}/"))
    endpoint.fill(endpoint.input_value().replace(PRESET_HOST, sandbox_url, 1))
    page.get_by_label("Nickname").fill(nickname)
    values = page.locator("input[name=variables-value]")
    values.nth(0).fill(SUB_ACCOUNT)
    values.nth(1).fill(django_settings.SMS_SANDBOX_API_KEY)
    sender_id = page.get_by_label("Sender ID / Virtual Number")
    sender_id.fill(SENDER_ID)
    leave_field(page, sender_id)
    expect(page.locator("[data-preview-request]")).to_contain_text(
        f"POST {sandbox_url}/api/v1/subaccounts/{SUB_ACCOUNT}/partners/clevertap/batch"
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_have_text(
        "Provider saved — send a test SMS to verify it."
    )


def leave_field(page: Page, field: Locator) -> None:
    """Leave the field last edited and wait for the preview request that sets off.

    The test database is an in-memory SQLite that the live server's threads share:
    a preview still reading while Save writes fails at once with "database table
    is locked", where a file or server database would wait.
    """
    with page.expect_response(lambda response: "/preview/" in response.url):
        field.blur()


def send_test(page: Page) -> None:
    page.get_by_label("Mobile number").fill(MOBILE_NUMBER)
    page.get_by_role("button", name="Send Test").click()


def open_send_test_from_change_page(page: Page) -> None:
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_contain_text("was changed")
    page.get_by_role("link", name="Send Test SMS").click()
    expect(page.locator("h1")).to_contain_text("Send Test SMS")


def test_new_provider_is_verified_by_a_test_sms_and_its_delivery_report(
    admin_page: Page, sandbox_url: str, screenshot
) -> None:
    page = admin_page
    add_sandbox_provider(page, sandbox_url=sandbox_url, nickname="Sandbox 8x8")

    expect(page).to_have_url(re.compile(r"/admin/providers/provider/\d+/send-test/$"))
    message = page.get_by_label("Message")
    counter = page.locator("[data-segment-counter-for=id_message]")
    expect(message).to_have_value("This is a test message powered by Sandbox 8x8")
    expect(counter).to_contain_text("GSM-7")
    message.press("End")
    message.press_sequentially(" 🎉")
    expect(message).to_have_value("This is a test message powered by Sandbox 8x8 🎉")
    expect(counter).to_contain_text("UCS-2")
    expect(page.locator("#id_country option:checked")).to_have_text("Singapore (+65)")
    send_test(page)

    result = page.locator("[data-test-result]")
    expect(result.locator("[data-headline]")).to_have_text(
        "Accepted — waiting for the delivery report"
    )
    expect(result).to_contain_text("+6591234567")
    accepted = page.locator("[data-check=accepted]")
    expect(accepted).to_have_text("✓ Request accepted by the provider")
    expect(accepted).to_have_class("check-ok")
    expect(page.locator("[data-check=errors]")).to_have_text(
        "✓ No authentication or payload errors"
    )
    # No reload: the checklist polls until the sandbox's report has landed.
    dlr = page.locator("[data-check=dlr]")
    expect(dlr).to_contain_text(
        "✓ Delivery report received — Delivered", timeout=DLR_TIMEOUT_MS
    )
    expect(dlr).to_have_class("check-ok")
    expect(result.locator("[data-headline]")).to_have_text("Delivered")
    # The test's row in the list below follows, without a reload either.
    row = page.locator(f"[data-test-row='{result.get_attribute('data-test-result')}']")
    expect(row.locator("[data-delivery]")).to_have_text(
        re.compile(r"^Delivered after \d+\.\d s$")
    )
    screenshot(page, "send-test-success")


def test_wrong_api_key_is_diagnosed_as_an_authentication_error(
    admin_page: Page, sandbox_url: str, screenshot
) -> None:
    page = admin_page
    add_sandbox_provider(page, sandbox_url=sandbox_url, nickname="Sandbox wrong key")
    page.get_by_role("link", name="Back to the provider").click()

    api_key = page.locator("input[name=variables-value]").nth(1)
    expect(api_key).to_have_value("")
    expect(api_key).to_have_attribute(
        "placeholder", re.compile(r"stored — leave blank to keep$")
    )
    api_key.fill(WRONG_API_KEY)
    leave_field(page, api_key)
    expect(page.locator("[data-preview-request]")).to_contain_text(
        f"Authorization: Bearer {MASKED_WRONG_API_KEY}"
    )
    open_send_test_from_change_page(page)
    send_test(page)

    result = page.locator("[data-test-result]")
    expect(result.locator("[data-headline]")).to_have_text(
        "Not delivered — Authentication failed"
    )
    diagnosis = result.locator(".diagnosis")
    expect(diagnosis).to_contain_text("401")
    expect(diagnosis).to_contain_text("credentials")
    expect(page.locator("[data-check=accepted]")).to_have_class("check-failed")
    expect(page.locator("[data-check=dlr]")).to_have_text(
        "✗ No delivery report: the request was not accepted"
    )
    expect(page.locator("[data-check=errors]")).to_contain_text("Authentication error")
    expect(result).not_to_contain_text(WRONG_API_KEY)
    screenshot(page, "send-test-failure")


def test_changelist_shows_each_providers_last_test(admin_page: Page) -> None:
    now = timezone.now()
    for nickname, older, newer in (
        ("Fixed now", Category.AUTH, Category.ACCEPTED),
        ("Broken now", Category.ACCEPTED, Category.AUTH),
    ):
        provider = Provider.objects.create(
            nickname=nickname,
            endpoint="https://sms.example/send",
            payload='{"to": "$$To", "text": "$$Body"}',
        )
        for category, minutes_ago in ((older, 10), (newer, 5)):
            test = SentTest.objects.create(
                provider=provider,
                to="+6591234567",
                message="Hello",
                message_id=f"{nickname}-{category}",
                category=category,
                diagnosis="Recorded by the test.",
            )
            # created_at is set on insert; backdate to order the two tests.
            SentTest.objects.filter(pk=test.pk).update(
                created_at=now - timedelta(minutes=minutes_ago)
            )

    admin_page.goto(CHANGELIST_URL)

    def last_test(nickname: str) -> Locator:
        row = admin_page.locator("#result_list tbody tr").filter(
            has=admin_page.get_by_role("link", name=nickname, exact=True)
        )
        return row.locator("td.field-last_test_display")

    expect(last_test("Fixed now").locator(".test-ok")).to_have_text("✓")
    expect(last_test("Broken now").locator(".test-failed")).to_have_text("✗")


def test_changelist_marks_a_failed_delivery_as_a_failed_test(admin_page: Page) -> None:
    provider = Provider.objects.create(
        nickname="Undelivered",
        endpoint="https://sms.example/send",
        payload='{"to": "$$To", "text": "$$Body"}',
    )
    SentTest.objects.create(
        provider=provider,
        to="+6591234567",
        message="Hello",
        message_id="undelivered-test",
        category=Category.ACCEPTED,
        diagnosis="Accepted by sms.example (200).",
        delivery_state="failed",
        delivery_error_code="15",
    )

    admin_page.goto(CHANGELIST_URL)

    cell = admin_page.locator("#result_list td.field-last_test_display")
    expect(cell.locator(".test-failed")).to_have_text("✗")
