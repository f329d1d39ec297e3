"""Map automatically for inbound replies, in the browser: Twilio's documented
inbound form pasted under Inbound replies fills the mapping's fields, which
then save with the provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from providers.models import Provider

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "inbound"


def test_map_automatically_fills_the_inbound_fields_from_a_twilio_reply(
    admin_page: Page, context: BrowserContext
) -> None:
    provider = Provider.objects.create(
        nickname="Generic SMS",
        endpoint="https://sms.example.com/send",
        payload='{"to": "$$To", "text": "$$Body", "mid": "$$MessageID"}',
    )
    page = admin_page
    page.goto(f"/admin/providers/provider/{provider.pk}/change/")
    page.locator("summary", has_text="Inbound replies").click()
    expect(page.locator("#inbound-url")).to_have_text(provider.inbound_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator("button.copy-button[data-copy='#inbound-url']")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == provider.inbound_url
    page.locator("#id_inbound_sample").fill((SAMPLE / "twilio_inbound.txt").read_text())

    page.locator("#map-inbound-automatically").click()

    note = page.locator("#map-inbound-automatically + [data-mapping-note]")
    expect(note).to_contain_text(
        "The sample reads as a reply from +6591000000 saying “STOP”"
    )
    expect(page.locator("#id_inbound_from_path")).to_have_value("From")
    expect(page.locator("#id_inbound_text_path")).to_have_value("Body")
    expect(page.locator("#id_inbound_id_path")).to_have_value("MessageSid")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    provider.refresh_from_db()
    assert (provider.inbound_from_path, provider.inbound_to_path) == ("From", "To")
    assert provider.inbound_text_path == "Body"
