"""The admin under smsbridge's Content-Security-Policy, in a real browser.

Every browser test's page watches for refusals (tests/e2e/conftest.py), so the
provider screens, Send Test SMS and the campaign pages are checked where they are
tested; this file shows the watch works and covers the admin's own widgets that
no other browser test opens.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.campaigns.fake_provider import campaign_to, connect, numbers

from .conftest import CSP_VIOLATION, watch_csp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.inlineScriptRan = true";
  document.body.append(script);
}"""


def test_the_policy_refuses_an_inline_script_and_the_watch_reports_it(
    page: Page,
) -> None:
    problems: list[str] = []
    watch_csp(page, problems)
    response = page.goto("/admin/login/")

    page.evaluate(INLINE_SCRIPT)

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.evaluate("window.inlineScriptRan") is None
    page.wait_for_function("() => true")  # lets the console message arrive
    assert any(p.startswith(CSP_VIOLATION) and "script-src" in p for p in problems), (
        problems
    )


def test_the_admins_widgets_work_under_the_policy(admin_page: Page) -> None:
    page = admin_page
    sender = connect("https://sms.example.test/send")
    campaign_to(numbers(2))

    # Actions menu and select-all (actions.js) on a list.
    page.goto("/admin/campaigns/campaign/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")

    # The provider autocomplete (select2) on a sender.
    page.goto(f"/admin/providers/sender/{sender.pk}/change/")
    page.locator(".field-provider .select2-selection").click()
    expect(page.locator(".select2-results__option")).to_contain_text(["Fake SMS"])

    # The date and time shortcuts (calendar.js).
    page.goto("/admin/campaigns/campaign/add/")
    page.get_by_role("link", name="Today").click()
    expect(page.locator("#id_scheduled_at_0")).to_have_value(re.compile(r"\d{4}-"))
    page.get_by_role("link", name="Now").click()
    expect(page.locator("#id_scheduled_at_1")).to_have_value(re.compile(r"\d\d:"))

    for listing in ("providers/testsend", "campaigns/deliveryreport"):
        page.goto(f"/admin/{listing}/")
        expect(page.locator("#changelist")).to_be_visible()
