"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live
server. They run with the rest of the suite (`pytest`), or alone (`pytest -m e2e`);
`--headed` and `--slowmo 500` show what the browser does. Screenshots, including
one of every failed test's page, go to test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

# Playwright's sync API keeps an event loop running in the test thread, so Django
# takes the fixtures' ordinary ORM calls for calls from async code and refuses them.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google services,
# which a closed network refuses one connection at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "e2e-correct-horse-battery"
CALL_FAILED = pytest.StashKey[bool]()
# The browser blocks what the Content-Security-Policy forbids without telling the
# page's scripts; this reports each refusal as a console error the tests catch.
CSP_VIOLATION = "Content-Security-Policy violation:"
WATCH_CSP = f"""
document.addEventListener("securitypolicyviolation", (event) => {{
  const what = event.blockedURI || "inline code";
  const where = `${{event.sourceFile}}:${{event.lineNumber}}`;
  const rule = event.violatedDirective;
  console.error(`{CSP_VIOLATION} ${{rule}} refused ${{what}} at ${{where}}`);
}});
"""

expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict:
    """pytest-playwright's launch options (--headed, --slowmo) on our Chromium."""
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Lets tests write page.goto("/admin/") against the live server."""
    return live_server.url


@pytest.fixture
def superuser(django_user_model, settings):
    # The default hasher is slow on purpose; each test hashes twice.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_superuser(
        username=ADMIN_USERNAME,
        email="admin@example.com",
        password=ADMIN_PASSWORD,
    )


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Saves a full-page screenshot into test-artifacts/, named after the test."""

    def save(page: Page, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{label}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


def watch_csp(page: Page, problems: list[str]) -> None:
    """Adds every Content-Security-Policy refusal on `page` to `problems`."""
    page.add_init_script(WATCH_CSP)
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.text.startswith(CSP_VIOLATION)
            else None
        ),
    )


@pytest.fixture
def admin_page(
    page: Page, superuser, screenshot, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page logged in to the admin as the superuser.

    The test fails if the server answers 500, a static file is missing, a
    script on the page throws or the Content-Security-Policy refuses something:
    things a user would see as a broken screen.
    """
    problems: list[str] = []

    def check(response: Response) -> None:
        broken_static = "/static/" in response.url and response.status >= 400
        if response.status >= 500 or broken_static:
            problems.append(
                f"{response.status} {response.request.method} {response.url}"
            )

    page.on("response", check)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    watch_csp(page, problems)
    page.set_default_timeout(TIMEOUT_MS)
    response = page.goto("/admin/login/")
    assert response is not None
    assert response.ok, f"login page: {response.status}"
    page.get_by_label("Username").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text(ADMIN_USERNAME)
    yield page
    if request.node.stash.get(CALL_FAILED, False):
        screenshot(page, "failed")
    assert not problems, "The browser saw problems:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def _delivery_reports_applied(dlr_worker) -> None:
    """The live server stores the sandbox's delivery reports; as under `make
    run`, a worker applies them."""
