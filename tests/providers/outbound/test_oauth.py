"""providers.outbound.oauth through the one pipeline: the token request and the
provider request exactly as they go over the wire, one token for many sends, a
new one after expiry or a 401, and a failing token endpoint diagnosed as such."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from cryptography.fernet import Fernet

from providers.outbound import oauth
from providers.outbound.outcomes import Category
from providers.outbound.pipeline import Message, Outbound

from ...oauth_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    SECOND_TOKEN,
    TOKEN,
    TOKEN_URL,
    oauth_provider,
    token_answer,
)

pytestmark = pytest.mark.django_db

MESSAGE = Message(to="+6591234567", body="Hello", message_id="m-1")


@pytest.fixture
def wire():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock(monkeypatch):
    """The token cache's clock, moved forward by the test."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(oauth, "clock", lambda: now[0])
    return now


def outbound(**fields) -> Outbound:
    sender = oauth_provider(**fields)
    return Outbound(sender.provider, sender)


def token_calls(wire) -> list:
    return [c for c in wire.calls if c.request.url == TOKEN_URL]


def provider_calls(wire) -> list:
    return [c for c in wire.calls if c.request.url == ENDPOINT]


def test_the_token_request_is_a_form_post_with_the_basic_header(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer(expires_in=3600))
    wire.post(ENDPOINT, json={"id": "p-1"})

    (outcome,) = outbound(
        oauth_scope="sms.send", oauth_parameters="audience=https://sms.example.com"
    ).send([MESSAGE])

    assert outcome.category == Category.ACCEPTED
    (call,) = token_calls(wire)
    sent = call.request
    assert sent.method == "POST"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json"
    assert sent.body == (
        b"grant_type=client_credentials&scope=sms.send"
        b"&audience=https%3A%2F%2Fsms.example.com"
    )
    # RFC 6749 2.3.1: each part form-urlencoded, then base64 of id:secret.
    expected = base64.b64encode(
        b"acme+client:cnry-client-secret-%228Hf%2F2%2BQa%22"
    ).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"


def test_the_credentials_go_in_the_body_when_so_configured(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={})

    outbound(oauth_credentials_in="body").send([MESSAGE])

    sent = token_calls(wire)[0].request
    assert "Authorization" not in sent.headers
    assert parse_qsl(sent.body.decode()) == [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]


def test_the_provider_request_carries_the_token_as_a_bearer(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={})

    outbound().send([MESSAGE])

    (call,) = provider_calls(wire)
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.request.body) == {
        "to": "+6591234567",
        "text": "Hello",
        "ref": "m-1",
    }
    # The provider's request is the template's, not the token request's.
    assert call.request.headers["Content-Type"] == "application/json"


def test_one_token_serves_many_sends_until_it_nearly_expires(wire, clock) -> None:
    wire.post(TOKEN_URL, json=token_answer(expires_in=600))
    wire.post(ENDPOINT, json={})
    sending = outbound()

    for _ in range(5):
        sending.send([MESSAGE])
    clock[0] += 600 - oauth.MARGIN_SECONDS - 1
    sending.send([MESSAGE])

    assert len(token_calls(wire)) == 1
    assert len(provider_calls(wire)) == 6

    clock[0] += 2  # within a minute of expiry: a new token
    sending.send([MESSAGE])

    assert len(token_calls(wire)) == 2


def test_a_token_without_expires_in_is_kept_the_default_lifetime(wire, clock) -> None:
    wire.post(TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={})
    sending = outbound()

    sending.send([MESSAGE])
    clock[0] += oauth.DEFAULT_LIFETIME_SECONDS - oauth.MARGIN_SECONDS - 1
    sending.send([MESSAGE])
    assert len(token_calls(wire)) == 1
    clock[0] += 2
    sending.send([MESSAGE])
    assert len(token_calls(wire)) == 2


def test_a_saved_change_to_the_credentials_asks_for_a_new_token(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={})
    sender = oauth_provider()
    Outbound(sender.provider, sender).send([MESSAGE])
    sender.provider.oauth_client_secret = "another-secret-value"
    sender.provider.save()

    Outbound(sender.provider, sender).send([MESSAGE])

    assert len(token_calls(wire)) == 2


def test_a_401_drops_the_token_and_retries_once_with_a_new_one(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer(TOKEN))
    wire.post(TOKEN_URL, json=token_answer(SECOND_TOKEN))
    wire.post(ENDPOINT, status=401, json={"message": "token revoked"})
    wire.post(ENDPOINT, json={"id": "p-1"})
    sending = outbound(message_id_path="id")

    (outcome,) = sending.send([MESSAGE])

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "p-1"
    assert len(token_calls(wire)) == 2
    sent = [c.request.headers["Authorization"] for c in provider_calls(wire)]
    assert sent == [f"Bearer {TOKEN}", f"Bearer {SECOND_TOKEN}"]
    # The new token is the one kept.
    sending.send([MESSAGE])
    assert len(token_calls(wire)) == 2
    assert provider_calls(wire)[-1].request.headers["Authorization"] == (
        f"Bearer {SECOND_TOKEN}"
    )


def test_a_second_401_is_the_answer_not_a_loop(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer(TOKEN))
    wire.post(TOKEN_URL, json=token_answer(SECOND_TOKEN))
    wire.post(ENDPOINT, status=401, json={"message": f"bad token {SECOND_TOKEN}"})

    (outcome,) = outbound().send([MESSAGE])

    assert outcome.category == Category.AUTH
    assert len(provider_calls(wire)) == 2
    assert len(token_calls(wire)) == 2
    assert "refused the access token" in outcome.diagnosis
    assert SECOND_TOKEN not in outcome.response_excerpt


TOKEN_FAILURES = {
    "invalid_client": (
        {"status": 401, "json": {"error": "invalid_client"}},
        "The token endpoint auth.example.com refused the client credentials "
        "(invalid_client): check the client ID and secret key",
    ),
    "invalid_scope": (
        {"status": 400, "json": {"error": "invalid_scope"}},
        "refused the scope (invalid_scope): check the scope",
    ),
    "plain-401": (
        {"status": 401, "body": "Unauthorized"},
        "refused the client credentials (401)",
    ),
    "server-error": (
        {"status": 503, "body": "down"},
        "had an internal error (503)",
    ),
    "not-json": (
        {"status": 200, "body": "<html>login</html>"},
        "answered 200 but not with JSON",
    ),
    "no-access-token": (
        {"status": 200, "json": {"token_type": "Bearer"}},
        "answered 200 but without an access_token",
    ),
    "token-with-line-break": (
        {"status": 200, "json": {"access_token": "abc\r\nX-Injected: 1"}},
        "with an access_token that cannot be sent in a header",
    ),
    "timeout": (
        {"body": requests.ConnectTimeout("timed out")},
        "The token endpoint auth.example.com did not answer in time",
    ),
    "unreachable": (
        {"body": requests.ConnectionError("refused")},
        "could not be reached",
    ),
}


@pytest.mark.parametrize(
    ("answer", "said"), TOKEN_FAILURES.values(), ids=TOKEN_FAILURES
)
def test_a_failing_token_endpoint_is_its_own_outcome(wire, answer, said) -> None:
    wire.post(TOKEN_URL, **answer)

    (outcome,) = outbound().send([MESSAGE])

    assert outcome.category == Category.TOKEN
    assert said in outcome.diagnosis
    assert outcome.diagnosis.endswith("nothing was sent to the provider.")
    assert provider_calls(wire) == []
    assert CLIENT_SECRET not in outcome.diagnosis + outcome.response_excerpt


def test_a_failing_token_endpoint_is_asked_once_for_a_burst_of_sends(wire) -> None:
    wire.post(TOKEN_URL, status=500)
    sending = outbound()

    outcomes = [sending.send([MESSAGE])[0] for _ in range(4)]

    assert {o.category for o in outcomes} == {Category.TOKEN}
    assert len(token_calls(wire)) == 1


def test_neither_secret_nor_token_reaches_the_log_or_the_answer(wire, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wire.post(TOKEN_URL, json=token_answer())
    echoed = {"error": f"bad {TOKEN}", "secret": CLIENT_SECRET}
    wire.post(ENDPOINT, status=400, json=echoed)
    sending = outbound()

    (outcome,) = sending.send([MESSAGE])
    shown = sending.shown(sending.render([MESSAGE]))

    assert outcome.category == Category.BAD_REQUEST
    text = " ".join([outcome.diagnosis, outcome.response_excerpt, caplog.text])
    text += json.dumps(shown.headers) + shown.body.decode()
    assert TOKEN not in text
    assert CLIENT_SECRET not in text
    assert json.dumps(CLIENT_SECRET)[1:-1] not in text
    assert ("Authorization", "Bearer ••••") in shown.headers


@pytest.mark.parametrize(
    ("expires_in", "usable"),
    [(3600, 3540), ("120", 60), (100, 50), (0, 0), (None, 3540), (True, 3540)],
)
def test_how_long_a_token_is_used(expires_in, usable) -> None:
    assert oauth.usable_seconds(expires_in) == usable


def test_a_token_sealed_with_a_rotated_out_key_is_fetched_again(wire, settings) -> None:
    wire.post(TOKEN_URL, json=token_answer())
    wire.post(ENDPOINT, json={})
    sender = oauth_provider()
    Outbound(sender.provider, sender).send([MESSAGE])
    old_secret = sender.provider.oauth_client_secret
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    # The provider row itself would be rotated; its credentials stay the same.
    sender.provider.oauth_client_secret = old_secret
    (outcome,) = Outbound(sender.provider, sender).send([MESSAGE])

    assert outcome.category == Category.ACCEPTED
    assert len(token_calls(wire)) == 2


def test_a_refused_token_is_dropped_even_when_no_new_one_comes(wire) -> None:
    wire.post(TOKEN_URL, json=token_answer(TOKEN))
    wire.post(TOKEN_URL, status=503)
    wire.post(ENDPOINT, status=401)
    sending = outbound()

    first, second = (sending.send([MESSAGE])[0] for _ in range(2))

    assert first.category == second.category == Category.TOKEN
    # The refused token went out once; the second send did not try it again.
    assert len(provider_calls(wire)) == 1
