"""config.content_security: the Content-Security-Policy header on every response."""

from __future__ import annotations

import pytest
from django.urls import reverse

from config.content_security import policy_header
from tests.campaigns.fake_provider import connect

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in header.split("; "))
    }


def test_it_writes_each_directive_with_its_sources() -> None:
    policy = {"script-src": ["'self'"], "img-src": ["'self'", "data:"]}

    assert policy_header(policy) == "script-src 'self'; img-src 'self' data:"


def test_admin_pages_run_only_the_projects_own_scripts(admin_client) -> None:
    sender = connect("https://sms.example.test/send")

    for url in (
        reverse("admin:login"),
        reverse("admin:index"),
        reverse("admin:providers_provider_change", args=[sender.provider_id]),
        reverse("admin:providers_provider_send_test", args=[sender.provider_id]),
    ):
        policy = directives(admin_client.get(url))
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"], url
        assert policy["base-uri"] == ["'self'"], url
        assert policy["frame-ancestors"] == ["'none'"], url


def test_redirects_and_json_answers_carry_the_policy_too(client) -> None:
    redirected = client.get(reverse("admin:index"))
    unknown_callback = client.post("/dlr/no-such-token/", {})

    assert redirected.status_code == 302
    assert "frame-ancestors" in directives(redirected)
    assert unknown_callback.status_code == 404
    assert "frame-ancestors" in directives(unknown_callback)


def test_djangos_debug_page_is_left_readable_with_debug_on(client, settings) -> None:
    settings.DEBUG = True

    missing = client.get("/no-such-page/")
    page = client.get(reverse("admin:login"))

    assert missing.status_code == 404
    assert "Content-Security-Policy" not in missing.headers
    assert "Content-Security-Policy" in page.headers
