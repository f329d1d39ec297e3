"""Send Test SMS for a provider whose request has custom placeholders ($$hid):
the page asks for their values, and sends nothing while one is missing."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.urls import reverse

from providers.models import Provider, Sender
from providers.models import TestSend as SentTest

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(ENDPOINT, json={"id": "p-1"})
        yield mock


@pytest.fixture
def provider() -> Provider:
    provider = Provider.objects.create(
        nickname="Aggregator",
        endpoint=ENDPOINT,
        payload='{"to": "$$To", "text": "$$Body", "hid": "$$hid", "uid": "$$uid"}',
        message_id_path="id",
    )
    Sender.objects.create(provider=provider, name="Alerts", is_default=True)
    return provider


def send(client, provider: Provider, placeholders: str):
    return client.post(
        reverse("admin:providers_provider_send_test", args=[provider.pk]),
        {
            "country": "SG",
            "number": "91234567",
            "message": "Hello",
            "placeholders": placeholders,
        },
    )


def test_the_page_asks_for_the_request_placeholders(admin_client, provider) -> None:
    page = admin_client.get(
        reverse("admin:providers_provider_send_test", args=[provider.pk])
    )

    assert page.status_code == 200
    assert "The request uses $$hid, $$uid" in page.content.decode()


def test_a_test_is_not_sent_while_a_placeholder_has_no_value(
    admin_client, provider, wire
) -> None:
    answer = send(admin_client, provider, "hid=H-7")

    assert answer.status_code == 200
    assert (
        "Give a value for $$uid (name=value, one a line); the provider&#x27;s "
        "request uses it." in answer.content.decode()
    )
    assert len(wire.calls) == 0
    assert SentTest.objects.get().diagnosis.startswith("Not sent: Give a value for")


def test_a_test_carries_the_values_given(admin_client, provider, wire) -> None:
    answer = send(admin_client, provider, "hid=H-7\nuid=u-1")

    assert answer.status_code == 302
    assert wire.calls[0].request.body == (
        b'{"to":"+6591234567","text":"Hello","hid":"H-7","uid":"u-1"}'
    )


def test_a_provider_without_custom_placeholders_asks_for_none(admin_client) -> None:
    plain = Provider.objects.create(
        nickname="Plain", endpoint=ENDPOINT, payload='{"to": "$$To"}'
    )

    page = admin_client.get(
        reverse("admin:providers_provider_send_test", args=[plain.pk])
    )

    assert 'name="placeholders"' not in page.content.decode()


def test_the_command_takes_placeholder_values(provider, wire) -> None:
    out = StringIO()

    with pytest.raises(SystemExit):
        call_command("send_test_sms", "Aggregator", "+6591234567", stdout=out)
    assert "Not sent: $$hid has no value" in out.getvalue()
    assert len(wire.calls) == 0

    call_command(
        "send_test_sms",
        "Aggregator",
        "+6591234567",
        "--message=Hello",
        "--placeholder=hid=H-7",
        "--placeholder=uid=u-1",
        stdout=StringIO(),
    )
    assert wire.calls[0].request.body == (
        b'{"to":"+6591234567","text":"Hello","hid":"H-7","uid":"u-1"}'
    )
