"""Send Test SMS through an OAuth provider: the page says what the token
endpoint did, several tests share one token, and neither the client secret nor
the token is in the page, the stored test or the log."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote_plus

import pytest
import responses
from django.urls import reverse

from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category

from ...oauth_provider import (
    CLIENT_SECRET,
    ENDPOINT,
    TOKEN,
    TOKEN_URL,
    oauth_provider,
    token_answer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wire():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def send_test(client, provider) -> tuple[SentTest, str]:
    url = reverse("admin:providers_provider_send_test", args=[provider.pk])
    response = client.post(
        url, {"country": "SG", "number": "91234567", "message": "Hi"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    return SentTest.objects.latest("pk"), html.unescape(page.content.decode())


def clear_spellings(secret: str) -> set[str]:
    as_json = json.dumps(secret)[1:-1]
    return {
        secret,
        as_json,
        as_json.replace("/", "\\/"),
        quote_plus(secret),
        html.escape(secret),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    }


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for secret in (CLIENT_SECRET, TOKEN):
            for spelling in clear_spellings(secret):
                assert spelling not in text


def stored(test: SentTest) -> str:
    return " ".join(
        [
            test.diagnosis,
            test.response_excerpt,
            test.request_url,
            json.dumps(test.request_headers),
            test.request_body,
        ]
    )


def test_it_diagnoses_refused_client_credentials(admin_client, wire) -> None:
    wire.post(
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "Bad client"},
    )
    provider = oauth_provider().provider

    test, page = send_test(admin_client, provider)

    assert test.category == Category.TOKEN
    assert test.diagnosis.startswith(
        "The token endpoint auth.example.com refused the client credentials "
        "(invalid_client): check the client ID and secret key"
    )
    assert "It says: Bad client" in test.diagnosis
    assert test.diagnosis in page
    assert "Token endpoint failed" in page
    assert "Authentication error: check the credentials" in page
    assert not [c for c in wire.calls if c.request.url == ENDPOINT]


def test_several_tests_share_one_token_and_show_only_a_masked_bearer(
    admin_client, wire, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    wire.post(TOKEN_URL, json=token_answer(expires_in=3600))
    # A provider that quotes back what it was sent, as some do when refusing.
    wire.post(
        ENDPOINT,
        status=400,
        json={"error": f"Bearer {TOKEN} not allowed", "echo": CLIENT_SECRET},
    )
    provider = oauth_provider().provider

    shown = [send_test(admin_client, provider) for _ in range(3)]

    assert len([c for c in wire.calls if c.request.url == TOKEN_URL]) == 1
    sent = [c.request for c in wire.calls if c.request.url == ENDPOINT]
    assert [r.headers["Authorization"] for r in sent] == [f"Bearer {TOKEN}"] * 3
    for test, page in shown:
        assert test.category == Category.BAD_REQUEST
        assert ["Authorization", "Bearer ••••"] in test.request_headers
        assert "Bearer ••••" in page
        assert_no_canary(page, stored(test))
    assert_no_canary(caplog.text)
    list_page = admin_client.get(reverse("admin:providers_testsend_changelist"))
    assert_no_canary(html.unescape(list_page.content.decode()))
