"""An event campaign whose provider is mocked at the wire, its API token, and
webhooks pointed at a receiver on 127.0.0.1 (receiver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import responses
from django.utils import timezone

from campaigns.models import ApiToken, Campaign, WebhookEndpoint
from providers.models import Provider, Sender

from .receiver import Receiver, receiving

ENDPOINT = "https://sms.example.test/send"
NUMBER = "+6591234567"
OTP = {"event": "otp_requested", "to": NUMBER, "properties": {"code": "123456"}}


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    """The provider, at the wire; the receivers on 127.0.0.1 are real."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1:")
        mock.post(ENDPOINT, json={"id": "prov-1"})
        yield mock


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(
        nickname="Example SMS",
        endpoint=ENDPOINT,
        payload='{"to": "$$To", "text": "$$Body", "id": "$$MessageID"}',
        message_id_path="id",
    )


@pytest.fixture
def campaign(provider) -> Campaign:
    Sender.objects.create(
        provider=provider,
        name="OTP",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        is_default=True,
    )
    return Campaign.objects.create(
        name="OTP",
        kind=Campaign.Kind.EVENT,
        event_name="otp_requested",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        message="Your code is $$code",
        status=Campaign.Status.SENDING,
    )


@pytest.fixture
def api_token(token) -> ApiToken:
    return ApiToken.find(token)


def new_endpoint(token: ApiToken | None, url: str = "") -> tuple[WebhookEndpoint, str]:
    """A webhook as the admin makes it, and its secret."""
    endpoint = WebhookEndpoint(token=token, url=url)
    secret = endpoint.issue_secret(now=timezone.now())
    if url:
        endpoint.save()
    return endpoint, secret


@contextmanager
def hooked(
    token: ApiToken | None, answers: list[int] | None = None
) -> Iterator[tuple[WebhookEndpoint, Receiver]]:
    """A webhook for `token` (None: every token) at a receiver that knows its
    secret and answers `answers` in turn, then 200."""
    endpoint, secret = new_endpoint(token)
    with receiving(secret, answers) as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        yield endpoint, receiver
