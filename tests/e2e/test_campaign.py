"""A one-time campaign in a real browser, as a marketing admin runs it: add it with
a CSV audience, read the audience report and the preview, launch it against the
live server's sandbox providers and watch the progress panel fill in from the
delivery reports, then find the failed message in the message list."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Locator, Page, expect

from campaigns.models import Campaign

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

# Line 4 repeats line 2's number; line 5 is no phone number; 90000004 is the
# sandbox's number whose delivery report says undelivered.
AUDIENCE_CSV = (
    b"phone,first_name\n"
    b"91234567,Ann\n"
    b"81234567,Bob\n"
    b"91234567,Dup\n"
    b"123,Bad\n"
    b"90000004,Und\n"
)
UNDELIVERED_NUMBER = "+6590000004"
# The sandbox posts each report after SMS_SANDBOX_DLR_DELAY (0.2 s) and the panel
# polls every 2 s, so this leaves room for a slow machine.
DLR_TIMEOUT_MS = 10_000


@pytest.fixture
def sandbox_providers(superuser, live_server, settings, monkeypatch) -> None:
    """The demo's two sandbox providers, made by seed_demo through their setup
    forms, with callback URLs that bring the sandbox's reports to the live server.

    Depends on `superuser` so the admin exists first and seed_demo keeps it as it
    is; a DEMO_ADMIN_PASSWORD would reset the password and end the test's session.
    """
    settings.PUBLIC_BASE_URL = live_server.url
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("seed_demo", url=live_server.url, stdout=io.StringIO())


def open_add_campaign(page: Page) -> None:
    page.goto("/admin/")
    page.locator("tr.model-campaign").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Add campaign").click()
    expect(page.locator("h1")).to_have_text("Add campaign")


def fill_one_time_campaign(
    page: Page, *, name: str, message: str, audience: bytes
) -> None:
    page.get_by_label("Name:", exact=True).fill(name)
    page.get_by_label("Kind").select_option(label="One-time")
    page.get_by_label("Sender type").select_option(label="Transactional")
    page.get_by_label("Message:", exact=True).fill(message)
    page.get_by_label("Default country").select_option(label="Singapore (+65)")
    page.get_by_label("Audience CSV").set_input_files(
        {"name": "audience.csv", "mimeType": "text/csv", "buffer": audience}
    )
    page.get_by_role("button", name="Save and continue editing").click()


def test_one_time_campaign_is_launched_and_its_delivery_reports_tracked(
    admin_page: Page, sandbox_providers, screenshot
) -> None:
    page = admin_page
    open_add_campaign(page)
    fill_one_time_campaign(
        page,
        name="Order shipped",
        message="Hi $$first_name, your order shipped",
        audience=AUDIENCE_CSV,
    )

    expect(page).to_have_url(re.compile(r"/admin/campaigns/campaign/\d+/change/$"))
    report = page.locator(".messagelist .info")
    expect(report).to_contain_text("3 numbers")
    expect(report).to_contain_text("1 duplicates removed")
    expect(report).to_contain_text("line 5")
    preview = page.locator(".field-preview")
    expect(preview.locator(".campaign-preview")).to_have_text(
        "Hi Ann, your order shipped"
    )
    expect(preview.locator(".help")).to_have_text("GSM-7 · 26 characters · 1 segment")

    page.get_by_role("link", name="Launch").click()
    page.get_by_role("button", name="Yes, launch").click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        "launched: 3 messages queued"
    )
    panel = page.locator("#campaign-progress")
    expect(panel).to_be_visible()
    # Gone if the page reloads: the figures below must come from polling.
    page.evaluate("window.sameCampaignPage = true")

    def count(status: str) -> Locator:
        return panel.locator(f"[data-count={status}]")

    expect(count("delivered")).to_have_text("2", timeout=DLR_TIMEOUT_MS)
    expect(count("failed")).to_have_text("1", timeout=DLR_TIMEOUT_MS)
    # Every message has its report, so none is left counted as merely sent.
    for status, expected in (
        ("queued", "0"),
        ("sending", "0"),
        ("sent", "0"),
        ("skipped", "0"),
    ):
        expect(count(status)).to_have_text(expected)
    expect(panel.locator("[data-progress=status_label]")).to_have_text("Completed")
    expect(panel.locator("[data-progress=delivery_rate]")).to_have_text("66.7 %")
    expect(panel.locator("[data-bar=delivered]")).to_have_attribute(
        "style", re.compile(r"width: 66\.6")
    )
    failure = panel.locator("[data-failures] tr")
    expect(failure).to_have_count(1)
    expect(failure.locator("td")).to_have_text(
        ["Undelivered (delivery report)", re.compile(r"^Invalid destination"), "1"]
    )
    assert page.evaluate("window.sameCampaignPage") is True
    screenshot(page, "campaign-progress")

    page.get_by_role("link", name="All messages of this campaign").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    page.locator("#changelist-filter [data-filter-title=status]").get_by_role(
        "link", name="Failed", exact=True
    ).click()

    expect(page).to_have_url(re.compile(r"status__exact=failed"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(UNDELIVERED_NUMBER)
    expect(rows.first).to_contain_text("Invalid destination")


def test_message_using_a_column_the_audience_lacks_is_refused(
    admin_page: Page,
) -> None:
    page = admin_page
    open_add_campaign(page)
    fill_one_time_campaign(
        page,
        name="Missing column",
        message="Hi $$first_name $$last_name, your order shipped",
        audience=AUDIENCE_CSV,
    )

    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-message .errorlist")).to_have_text(
        "The message uses $$last_name, but the audience has no such column."
    )
    assert not Campaign.objects.exists()


def test_the_composer_previews_while_typing_and_launch_asks_first(
    admin_page: Page, sandbox_providers, screenshot
) -> None:
    page = admin_page
    open_add_campaign(page)
    preview, counter = (
        page.locator("#campaign-preview"),
        page.locator("#campaign-segments"),
    )
    message = page.get_by_label("Message:", exact=True)
    expect(preview).to_have_text("Upload an audience to preview the first message.")

    page.get_by_label("Name:", exact=True).fill("Order shipped")
    page.get_by_label("Sender type").select_option(label="Transactional")
    page.get_by_label("Default country").select_option(label="Singapore (+65)")
    # Chosen, not uploaded yet: the preview reads the file's first row itself.
    page.get_by_label("Audience CSV").set_input_files(
        {"name": "audience.csv", "mimeType": "text/csv", "buffer": AUDIENCE_CSV}
    )
    message.fill("Hi $$first_name, your order shipped")
    expect(preview).to_have_text("Hi Ann, your order shipped")
    expect(counter).to_have_text("GSM-7 · 26 characters · 1 segment")
    message.press_sequentially(" ✓")
    expect(preview).to_have_text("Hi Ann, your order shipped ✓")
    expect(counter).to_have_text("UCS-2 · 28 characters · 1 segment")
    message.press("Backspace")
    message.press("Backspace")
    expect(counter).to_have_text("GSM-7 · 26 characters · 1 segment")
    screenshot(page, "composer-preview")
    page.get_by_role("button", name="Save and continue editing").click()

    page.get_by_role("link", name="Launch").click()
    expect(page.locator("h1")).to_have_text("Launch campaign?")
    expect(page.locator("[data-launch=recipients]")).to_have_text("3")
    expect(page.locator("[data-launch=segments]")).to_have_text("1")
    expect(page.locator("[data-launch=total]")).to_have_text("3")
    expect(page.locator("[data-launch=cost]")).to_contain_text("3 units")
    assert not Campaign.objects.get().launched_at
    screenshot(page, "launch-confirmation")
    page.get_by_role("button", name="Yes, launch").click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        "launched: 3 messages queued"
    )
    expect(page.locator("[data-progress=done]")).to_have_text(
        "3", timeout=DLR_TIMEOUT_MS
    )
    expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
    expect(page.get_by_role("link", name="View on site")).to_have_count(0)
