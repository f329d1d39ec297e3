"""An 8x8 connector set up by hand from MoEngage's guide, with no message id path:
the test's result offers 8x8's umid as the provider message id in one click, and
8x8's own delivery report for that umid, posted to the callback URL afterwards,
then finds the test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Locator, Page, expect

from providers.models import Provider

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

ADD_URL = "/admin/providers/provider/add/"
NICKNAME = "8x8 SMS by hand"
SUB_ACCOUNT = "demo-account"
PAYLOAD = (
    '{"source": "{sender_id}", "destination": "Moesms_destination", '
    '"text": "Moesms_message"}'
)
FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "dlr" / "8x8_delivered.json"
)
# The report is applied by the live server's own applier about a second after it
# is accepted; the checklist polls every 1.5 s.
DLR_TIMEOUT_MS = 10_000


@pytest.fixture
def sandbox_url(live_server) -> str:
    return f"{live_server.url}/sandbox"


def fill_rows(page: Page, kind: str, rows: list[tuple[str, str]]) -> None:
    table = page.locator(f"[data-kv-rows={kind}]")
    for _ in rows[1:]:
        table.get_by_role("button", name="Add row").click()
    for index, (name, value) in enumerate(rows):
        table.locator(f"input[name={kind}-name]").nth(index).fill(name)
        table.locator(f"input[name={kind}-value]").nth(index).fill(value)


def set_up_from_the_moengage_guide(page: Page, *, sandbox_url: str) -> None:
    page.goto(ADD_URL)
    page.get_by_role("link", name="Custom connector (MoEngage style)").click()
    page.get_by_label("Service provider name").fill(NICKNAME)
    page.get_by_label("Sender name").fill("8x8 SMS")
    page.get_by_label("Transactional").check()
    page.get_by_label("Sender ID / Virtual Number").fill("smsbridge")
    page.get_by_label("API URL").fill(
        f"{sandbox_url}/api/v1/subaccounts/{{subAccountId}}/messages"
    )
    fill_rows(
        page,
        "variables",
        [
            ("subAccountId", SUB_ACCOUNT),
            ("apiKey", django_settings.SMS_SANDBOX_API_KEY),
        ],
    )
    fill_rows(
        page,
        "headers",
        [("Content-Type", "application/json"), ("Authorization", "Bearer {apiKey}")],
    )
    page.get_by_label("JSON").check()
    payload = page.locator("#id_payload")
    payload.fill(PAYLOAD)
    leave_field(page, payload)
    expect(page.locator("[data-preview-request]")).to_contain_text(
        '"destination":"+6591234567"'
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("saved")


def leave_field(page: Page, field: Locator) -> None:
    """Wait for the preview the edit sets off, so it never races Save for the
    shared in-memory test database."""
    with page.expect_response(lambda response: "/preview/" in response.url):
        field.blur()


def native_report(umid: str) -> str:
    """8x8's webhook for the message, as 8x8 posts it to the account's webhook;
    the payload sent no clientMessageId, so the report carries none."""
    report = json.loads(FIXTURE.read_text())
    report["payload"]["umid"] = umid
    report["payload"]["subAccountId"] = SUB_ACCOUNT
    del report["payload"]["clientMessageId"]
    return json.dumps(report)


def test_a_connector_made_by_hand_is_correlated_in_one_click(
    admin_page: Page, sandbox_url: str, live_server, screenshot
) -> None:
    page = admin_page
    set_up_from_the_moengage_guide(page, sandbox_url=sandbox_url)
    provider = Provider.objects.get(nickname=NICKNAME)
    assert provider.message_id_path == ""

    page.get_by_label("Mobile number").fill("91234567")
    page.get_by_role("button", name="Send Test").click()

    result = page.locator("[data-test-result]")
    expect(result.locator("[data-headline]")).to_have_text(
        "Accepted — waiting for the delivery report"
    )
    expect(page.locator("[data-provider-message-id]")).to_have_text("—")
    screenshot(page, "proposal")
    page.get_by_role("button", name="Use umid as the provider message id").click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        "The provider message id path is now umid"
    )
    umid = page.locator("[data-provider-message-id]").inner_text()
    assert re.fullmatch(r"[0-9a-f-]{36}", umid)
    expect(page.get_by_role("button", name=re.compile("^Use umid"))).to_have_count(0)

    answer = page.request.post(
        f"{live_server.url}/dlr/{provider.callback_token}/",
        data=native_report(umid),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()

    expect(page.locator("[data-check=dlr]")).to_contain_text(
        "✓ Delivery report received — Delivered", timeout=DLR_TIMEOUT_MS
    )
    expect(result.locator("[data-headline]")).to_have_text("Delivered")
    expect(result).to_have_class(re.compile(r"\btest-result-success\b"))
    screenshot(page, "delivered")


def test_map_automatically_warns_that_8x8_reports_would_match_nothing(
    admin_page: Page,
) -> None:
    provider = Provider.objects.create(
        nickname="8x8 no id",
        setup_screen=Provider.SetupScreen.MOENGAGE,
        endpoint="https://sms.8x8.com/api/v1/subaccounts/acme/messages",
        payload=PAYLOAD,
    )
    page = admin_page
    page.goto(f"/admin/providers/provider/{provider.pk}/change/")
    # As the form stands, not as last saved: clear the id path the screen may
    # have filled in for a known endpoint.
    page.locator("summary", has_text="Response handling").click()
    page.get_by_label("Provider message id path").fill("")
    page.locator("summary", has_text="Delivery reports").click()
    page.locator("#id_dlr_sample").fill(FIXTURE.read_text())
    # The delivery reports' button; the inbound replies have one of their own.
    page.locator("#map-automatically").click()

    note = page.locator("#map-automatically + [data-mapping-note]")
    expect(note).to_contain_text(
        "8x8 reports carry umid (8x8's id) and clientMessageId"
    )
    expect(note).to_contain_text("Warning: this provider captures neither")
