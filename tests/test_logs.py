"""Log lines (config/logs.py): a request id on every line of a request and in
its answer, campaign and message ids on the lines of a send, one JSON object a
line with LOG_FORMAT=json, and never a provider's secret, even one the
provider's error echoes."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from campaigns import sending
from campaigns.models import Message
from config.logs import ContextFilter, JsonFormatter
from providers.models import Header, ProviderVariable, UrlParameter

from .campaigns.fake_provider import campaign_to, connect, numbers

CANARY = "canary-4f1b9d2e7a6c-api-key"


class EchoingRefusal(BaseHTTPRequestHandler):
    """A provider that refuses the key, quoting it back as some do."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"error": f"invalid credentials: {self.headers['Authorization']}"}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingRefusal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()
    server.server_close()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every record, from every logger, as LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert CANARY not in text
    return [json.loads(line) for line in text.splitlines()]


def sends(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["message"].startswith("sms send ")]


def keyed_provider(url: str):
    """A provider whose secret key goes in a header and a URL parameter."""
    sender = connect(url, nickname="Keyed")
    provider = sender.provider
    ProviderVariable.objects.create(
        provider=provider, name="apiKey", value=CANARY, secret=True
    )
    Header.objects.create(
        provider=provider, name="Authorization", value="Bearer {apiKey}"
    )
    UrlParameter.objects.create(provider=provider, name="key", value="{apiKey}")
    return sender


@pytest.mark.django_db
def test_a_request_keeps_the_callers_id_on_its_lines_and_answer(
    admin_client, refusing_url, json_lines
) -> None:
    provider = keyed_provider(refusing_url).provider
    page = reverse("admin:providers_provider_send_test", args=[provider.pk])

    answer = admin_client.post(
        page,
        {"country": "SG", "number": "91234567", "message": "Hello"},
        headers={"X-Request-ID": "lb-7f3a.42"},
    )

    assert answer.status_code == 302
    assert answer["X-Request-ID"] == "lb-7f3a.42"
    [send] = sends(parsed(json_lines))
    assert send["request_id"] == "lb-7f3a.42"
    assert send["level"] == "INFO"
    assert send["logger"] == "providers.outbound.transport"
    # The key is in the URL the line shows, masked.
    assert "?key=" in send["message"]
    assert "-> 401 auth in " in send["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("given", [None, "two words", "x" * 129, "id\r\nforged: 1"])
def test_a_request_without_a_usable_id_gets_a_new_one(client, given) -> None:
    headers = {"X-Request-ID": given} if given else {}

    first = client.get("/admin/login/", headers=headers)
    second = client.get("/admin/login/", headers=headers)

    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
def test_a_campaigns_lines_name_it_and_each_message_and_hold_no_secret(
    refusing_url, json_lines, django_capture_on_commit_callbacks
) -> None:
    campaign = campaign_to(numbers(3))
    campaign.sender = keyed_provider(refusing_url)
    campaign.save()

    with django_capture_on_commit_callbacks(execute=True):
        sending.launch(campaign=campaign)

    lines = parsed(json_lines)
    ids = set(campaign.messages.values_list("message_id", flat=True))
    assert set(campaign.messages.values_list("status", flat=True)) == {
        Message.Status.FAILED
    }
    assert {(s["campaign_id"], s["message_id"]) for s in sends(lines)} == {
        (campaign.pk, message_id) for message_id in ids
    }
    tasks = [line for line in lines if line.get("task") == "campaigns.tasks.send_chunk"]
    assert tasks
    assert all(line["task_id"] for line in tasks)
    # The provider's refusal quoted the key; smsbridge kept its reason, masked.
    reason = campaign.messages.first().failure_reason
    assert "401" in reason
    assert CANARY not in reason
