"""The API docs page in a real browser: Swagger UI renders smsbridge's OpenAPI
document from the app's own static files, under its Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import watch_csp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]


def test_the_api_docs_show_every_operation_without_a_policy_refusal(
    page: Page, screenshot
) -> None:
    problems: list[str] = []
    watch_csp(page, problems)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    response = page.goto("/api/v1/docs")

    assert response is not None
    assert response.ok
    expect(page.get_by_text("smsbridge API")).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/events")
    ).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/messages/{message_id}")
    ).to_be_visible()
    # Opening an operation shows its request body and the Idempotency-Key.
    page.locator(".opblock-summary-path", has_text="/api/v1/events").click()
    expect(page.locator(".parameter__name", has_text="Idempotency-Key")).to_be_visible()
    screenshot(page, "docs")
    assert not problems, problems
