"""manage.py send_test_sms: one test SMS from the command line, through the
sandbox served by pytest-django's live server; exit status 1 on failure."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import responses
from django.conf import settings
from django.core.management import CommandError, call_command

from providers.crypto import mask
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category

from .fake_provider import sandbox_provider

NICKNAME = "8x8 sandbox (MoEngage style)"


@pytest.fixture
def sandbox(live_server):
    return sandbox_provider(live_server.url, nickname=NICKNAME)


def run(*args: str) -> str:
    out = StringIO()
    call_command("send_test_sms", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_it_sends_and_prints_success(sandbox) -> None:
    output = run(NICKNAME, "+6591234567")

    test = SentTest.objects.get()
    assert test.category == Category.ACCEPTED
    assert test.created_by is None
    assert output.startswith(f"Success: {test.diagnosis}\n")
    assert "  HTTP status: 200\n" in output
    assert f"  Provider message id: {test.provider_message_id}\n" in output
    assert f"  Message id: {test.message_id}\n" in output
    assert "Request as sent (secrets masked):" in output
    assert f"  Authorization: Bearer {mask(settings.SMS_SANDBOX_API_KEY)}\n" in output
    assert settings.SMS_SANDBOX_API_KEY not in output


def test_it_sends_the_default_text_to_a_local_number(sandbox) -> None:
    run(NICKNAME.upper(), "9123 4567")

    test = SentTest.objects.get()
    assert test.to == "+6591234567"
    assert json.loads(test.request_body) == {
        "source": "smsbridge",
        "destination": "+6591234567",
        "text": f"This is a test message powered by {NICKNAME}",
    }


def test_it_sends_the_given_message_for_the_given_country(sandbox) -> None:
    run(NICKNAME, "9123 4567", "--message", "Café ✓", "--country", "sg")

    test = SentTest.objects.get()
    assert json.loads(test.request_body)["text"] == "Café ✓"
    assert test.succeeded


def test_it_prints_failure_and_exits_1_on_a_wrong_key(sandbox) -> None:
    variable = sandbox.variables.get(name="apiKey")
    variable.value = "wrong-key-0123456789"
    variable.save()
    out = StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("send_test_sms", NICKNAME, "+6591234567", stdout=out)

    assert exit_info.value.code == 1
    output = out.getvalue()
    assert output.startswith("Failure: 401 from localhost: ")
    assert "Request was not authenticated properly" in output
    assert "wrong-key-0123456789" not in output
    assert SentTest.objects.get().category == Category.AUTH


def test_it_exits_1_when_the_provider_rejects_the_number(sandbox) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(NICKNAME, "+6590000001")

    assert exit_info.value.code == 1
    assert SentTest.objects.get().category == Category.REJECTED


@pytest.mark.django_db
def test_it_refuses_an_unknown_nickname() -> None:
    with pytest.raises(CommandError, match="No provider is named “nobody”"):
        run("nobody", "+6591234567")


def test_it_refuses_an_invalid_number_without_sending(sandbox) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(CommandError, match="not a valid mobile number for \\+65"):
            run(NICKNAME, "123")
        sent = len(mock.calls)

    assert sent == 0
    assert not SentTest.objects.exists()


def test_it_refuses_text_that_is_not_a_number(sandbox) -> None:
    with pytest.raises(CommandError, match="is not a phone number"):
        run(NICKNAME, "call me")
