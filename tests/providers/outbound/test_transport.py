"""providers.outbound.transport: what goes over the wire, and what every kind of failure
becomes. `responses` stands in for remote providers; a server started on
127.0.0.1 by the test stands in for hosts that must (or must not) be reached."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from providers.outbound import transport
from providers.outbound.outcomes import Category, Outcome, ResponseRules, read_records
from providers.outbound.rendering import HttpRequest

from ..fake_provider import Reply, closed_port, running

KEY = "sk-live-5f2b9c0e7d41a3e8"
MASKED_KEY = "••••a3e8"
URL = "https://sms.example.com/api/v1/subaccounts/acme/messages"
BODY = (
    '{"source":"ACME","destination":"+6591234567","text":"Café ✓",'
    '"clientMessageId":"m-1"}'
).encode()
RULES = ResponseRules(
    message_id_path="umid",
    rule="reject_if",
    rule_path="status.code",
    rule_values=("REJECTED",),
)
QUEUED = {"umid": "u-123", "status": {"code": "QUEUED"}}
JSON_TYPE = {"Content-Type": "application/json"}
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}


def sms_request(url: str = URL, *, body: bytes = BODY) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=url,
        headers=(
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {KEY}"),
        ),
        body=body,
    )


def send(url: str = URL, *, body: bytes = BODY, rules: ResponseRules = RULES):
    """Send one message and read its answer, as the outbound pipeline does."""
    answer = transport.send(sms_request(url, body=body), rules=rules, secrets=[KEY])
    (outcome,) = read_records(answer, rules=rules, message_ids=["m-1"])
    return outcome


@pytest.fixture
def wire():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def private_endpoints(settings):
    """Switch the address guard; pooled connections made under the other policy
    are dropped so that each request really opens a new connection."""

    def allow(allowed: bool) -> None:
        settings.SMS_ALLOW_PRIVATE_ENDPOINTS = allowed
        transport.session().close()

    yield allow
    transport.session().close()


# --- with responses -------------------------------------------------------------------


def test_it_sends_exactly_the_rendered_request(wire) -> None:
    wire.post(URL, json=QUEUED)

    outcome = send()

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "u-123"
    assert len(wire.calls) == 1
    sent = wire.calls[0].request
    assert (sent.method, sent.url, sent.body) == ("POST", URL, BODY)
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["User-Agent"] == transport.USER_AGENT
    assert sent.headers["Content-Length"] == str(len(BODY))


def test_it_sends_a_get_without_a_body(wire) -> None:
    url = "https://sms.example.com/send?to=%2B6591234567&text=Hi"
    wire.get(url, body="OK")
    request = HttpRequest(method="GET", url=url, headers=(), body=b"")

    outcome = transport.send(request, rules=ResponseRules())

    assert outcome.category == Category.ACCEPTED
    sent = wire.calls[0].request
    assert (sent.method, sent.url, sent.body) == ("GET", url, None)
    assert sent.headers["User-Agent"] == transport.USER_AGENT


def test_a_providers_cookie_does_not_ride_along_on_the_next_message(wire) -> None:
    wire.post(URL, json=QUEUED, headers={"Set-Cookie": "session=abc123; Path=/"})
    wire.post(URL, json=QUEUED)

    send()
    send()

    assert "Cookie" not in wire.calls[1].request.headers


def test_a_rendered_header_replaces_the_default_of_the_same_name(wire) -> None:
    wire.post(URL, json=QUEUED)
    request = HttpRequest(
        method="POST", url=URL, headers=(("user-agent", "acme-bridge/2"),), body=BODY
    )

    transport.send(request, rules=RULES)

    sent = wire.calls[0].request.headers
    assert sent["User-Agent"] == "acme-bridge/2"
    assert [k for k in sent if k.lower() == "user-agent"] == ["user-agent"]


def test_it_measures_latency(wire) -> None:
    wire.post(URL, json=QUEUED)

    outcome = send()

    assert outcome.latency_ms >= 0
    assert outcome.status_code == 200


def test_it_reports_rejected_credentials(wire) -> None:
    wire.post(
        URL,
        status=401,
        json={"code": 1200, "message": "Request was not authenticated properly"},
    )

    outcome = send()

    assert outcome.category == Category.AUTH
    assert outcome.status_code == 401
    assert "sms.example.com" in outcome.diagnosis
    assert "API key" in outcome.diagnosis
    assert "Request was not authenticated properly" in outcome.diagnosis


def test_it_masks_a_key_the_provider_echoes_back(wire) -> None:
    wire.post(
        URL,
        status=401,
        json={"message": f"Unknown API key {KEY}", "key": KEY},
    )

    outcome = send()

    assert outcome.category == Category.AUTH
    assert KEY not in outcome.diagnosis
    assert KEY not in outcome.response_excerpt
    assert f"Unknown API key {MASKED_KEY}" in outcome.diagnosis
    assert MASKED_KEY in outcome.response_excerpt


def test_it_keeps_secrets_in_the_url_out_of_the_log(wire, caplog) -> None:
    url = f"https://sms.example.com/send?api_key={KEY}"
    wire.post(url, json=QUEUED)
    caplog.set_level(logging.INFO, logger="providers.outbound.transport")

    send(url)

    assert KEY not in caplog.text
    assert f"api_key={MASKED_KEY}" in caplog.text
    assert "-> 200 accepted" in caplog.text


def test_it_reads_retry_after_in_seconds(wire) -> None:
    wire.post(URL, status=429, headers={"Retry-After": "30"}, body="")

    outcome = send()

    assert outcome.category == Category.RATE_LIMITED
    assert outcome.retry_after == 30.0
    assert "asks to wait 30 s" in outcome.diagnosis
    assert outcome.transient


def test_it_reads_retry_after_as_an_http_date(wire) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    wire.post(
        URL, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )

    outcome = send()

    assert outcome.category == Category.RATE_LIMITED
    assert 110 <= outcome.retry_after <= 120


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_it_never_asks_to_wait_a_negative_or_unreadable_time(
    wire, header, expected
) -> None:
    wire.post(URL, status=429, headers={"Retry-After": header})

    assert send().retry_after == expected


@pytest.mark.parametrize("status", [500, 503])
def test_it_reports_a_server_error_and_does_not_retry(wire, status) -> None:
    wire.post(URL, status=status, json={"code": 2000, "message": "Internal error"})

    outcome = send()

    assert outcome.category == Category.SERVER_ERROR
    assert outcome.status_code == status
    assert len(wire.calls) == 1


def test_it_does_not_follow_a_redirect() -> None:
    target = "https://sms.example.com/api/v2/messages"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(URL, status=302, headers={"Location": target})
        moved = mock.post(target, json=QUEUED)
        moved_get = mock.get(target, json=QUEUED)

        outcome = send()
        called = [call.request.url for call in mock.calls]

    assert outcome.category == Category.REDIRECT
    assert outcome.status_code == 302
    assert target in outcome.diagnosis
    assert called == [URL]
    assert moved.call_count == 0
    assert moved_get.call_count == 0


def test_it_does_not_follow_a_redirect_to_an_internal_host() -> None:
    internal = "http://127.0.0.1:8000/admin/"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(URL, status=301, headers={"Location": internal})
        inside = mock.get(internal, body="secret")

        outcome = send()

    assert outcome.category == Category.REDIRECT
    assert internal in outcome.diagnosis
    assert inside.call_count == 0


def test_it_reports_a_refused_connection(wire) -> None:
    wire.post(URL, body=requests.ConnectionError("[Errno 111] Connection refused"))

    outcome = send()

    assert outcome.category == Category.CONNECTION
    assert outcome.status_code is None
    assert "sms.example.com" in outcome.diagnosis
    assert "Connection refused" in outcome.diagnosis
    assert outcome.transient
    assert len(wire.calls) == 1


def test_it_reports_a_read_timeout(wire, settings) -> None:
    wire.post(URL, body=requests.ReadTimeout("read timed out"))

    outcome = send()

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis.startswith(
        f"sms.example.com did not answer within {settings.SMS_READ_TIMEOUT:g} s"
    )
    assert "may still deliver" in outcome.diagnosis
    assert outcome.transient


def test_it_reports_a_connect_timeout(wire, settings) -> None:
    wire.post(URL, body=requests.ConnectTimeout("connect timed out"))

    outcome = send()

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis.startswith(
        f"Could not connect to sms.example.com within "
        f"{settings.SMS_CONNECT_TIMEOUT:g} s"
    )


def test_it_reports_a_tls_failure(wire) -> None:
    wire.post(
        URL,
        body=requests.exceptions.SSLError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
        ),
    )

    outcome = send()

    assert outcome.category == Category.TLS
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.diagnosis
    assert "certificate" in outcome.diagnosis
    assert not outcome.transient


def test_it_stops_reading_at_the_size_limit(wire, settings) -> None:
    settings.SMS_RESPONSE_MAX_BYTES = 100
    wire.post(URL, body=json.dumps({"umid": "u-1", "pad": "x" * 5000}))

    outcome = send()

    assert outcome.category == Category.BAD_RESPONSE
    assert "larger than the read limit" in outcome.diagnosis
    assert len(outcome.response_excerpt) == 101  # the limit, then "…"


def test_it_reads_an_answer_exactly_at_the_size_limit(wire, settings) -> None:
    body = json.dumps(QUEUED)
    settings.SMS_RESPONSE_MAX_BYTES = len(body)
    wire.post(URL, body=body)

    assert send().category == Category.ACCEPTED


# --- for real: DNS --------------------------------------------------------------------


def test_it_reports_a_host_that_does_not_exist() -> None:
    started = time.monotonic()

    outcome = send("https://no-such-host.invalid/api/v1/messages")

    assert outcome.category == Category.DNS
    assert outcome.diagnosis == (
        "The host no-such-host.invalid could not be found (DNS lookup failed); "
        "check the spelling of the endpoint."
    )
    assert outcome.transient
    assert time.monotonic() - started < 5


# --- for real: a server on 127.0.0.1 --------------------------------------------------


def test_it_reaches_a_local_server_when_private_endpoints_are_allowed(
    private_endpoints,
) -> None:
    private_endpoints(True)
    with running(Reply(200, json.dumps(QUEUED).encode(), JSON_TYPE)) as server:
        outcome = send(f"{server.url}api/v1/subaccounts/acme/messages")

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "u-123"
    [received] = server.received
    assert (received.method, received.path, received.body) == (
        "POST",
        "/api/v1/subaccounts/acme/messages",
        BODY,
    )
    assert received.headers["Authorization"] == f"Bearer {KEY}"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == transport.USER_AGENT


# 0.0.0.0 and the decimal 2130706433 are two more spellings of this host.
@pytest.mark.parametrize(
    ("host", "subject"),
    [
        ("127.0.0.1", "127.0.0.1 is"),
        ("localhost", "localhost resolves to 127.0.0.1,"),
        ("0.0.0.0", "0.0.0.0 is"),  # noqa: S104
        ("2130706433", "2130706433 resolves to 127.0.0.1,"),
    ],
)
def test_it_blocks_loopback_hosts_before_sending_anything(
    private_endpoints, host, subject
) -> None:
    private_endpoints(False)
    with running(Reply(200, json.dumps(QUEUED).encode(), JSON_TYPE)) as server:
        outcome = send(f"http://{host}:{server.port}/api/v1/messages")

    assert outcome.category == Category.BLOCKED
    assert outcome.diagnosis == (
        f"{subject} a loopback, private or reserved address; "
        "smsbridge only sends to public addresses."
    )
    assert outcome.status_code is None
    assert not outcome.transient
    assert server.received == []


def test_it_blocks_a_loopback_host_before_the_tls_handshake(private_endpoints) -> None:
    private_endpoints(False)
    with running(Reply()) as server:
        outcome = send(f"https://127.0.0.1:{server.port}/api/v1/messages")

    assert outcome.category == Category.BLOCKED
    assert server.received == []


def test_it_does_not_follow_a_redirect_to_another_local_server(
    private_endpoints,
) -> None:
    private_endpoints(True)
    with running(Reply(200, json.dumps(QUEUED).encode(), JSON_TYPE)) as inside:
        location = f"{inside.url}internal"
        with running(Reply(302, b"", {"Location": location})) as outside:
            outcome = send(outside.url)

    assert outcome.category == Category.REDIRECT
    assert location in outcome.diagnosis
    assert len(outside.received) == 1
    assert inside.received == []


def test_it_times_out_on_a_server_that_never_answers(
    private_endpoints, settings
) -> None:
    private_endpoints(True)
    settings.SMS_READ_TIMEOUT = 0.3
    started = time.monotonic()
    with running(Reply(hang=10)) as server:
        outcome = send(server.url)
        elapsed = time.monotonic() - started

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis.startswith("127.0.0.1 did not answer within 0.3 s")
    assert 300 <= outcome.latency_ms < 3000
    assert elapsed < 3
    assert len(server.received) == 1


def answer_to(**behaviour) -> Outcome:
    """Send to a local server whose accepting answer comes as `behaviour` says."""
    body = json.dumps(QUEUED).encode()
    with running(Reply(200, body, JSON_TYPE, **behaviour)) as server:
        return send(server.url)


def test_it_times_out_on_a_server_that_stalls_in_the_middle_of_its_answer(
    private_endpoints, settings
) -> None:
    private_endpoints(True)
    settings.SMS_READ_TIMEOUT = 0.3

    outcome = answer_to(stall_body=True, hang=10)

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis.startswith("127.0.0.1 did not answer within 0.3 s")
    assert "may still deliver" in outcome.diagnosis


def test_it_stops_waiting_for_an_answer_that_trickles_in(
    private_endpoints, settings
) -> None:
    private_endpoints(True)
    settings.SMS_READ_TIMEOUT = 0.5  # each byte comes well within this
    settings.SMS_TOTAL_TIMEOUT = 0.8
    started = time.monotonic()

    outcome = answer_to(trickle=0.1)

    elapsed = time.monotonic() - started

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis == (
        "127.0.0.1 was still sending its answer after 0.8 s, a little at a time; "
        "smsbridge stopped waiting. It may still deliver the message."
    )
    assert outcome.transient
    # Bytes kept coming (all of them would take 0.1 s each), yet it ended.
    assert 0.8 <= elapsed < 1.5 < len(json.dumps(QUEUED)) * 0.1


def test_an_answer_that_trickles_in_within_the_total_time_is_read(
    private_endpoints, settings
) -> None:
    private_endpoints(True)
    settings.SMS_TOTAL_TIMEOUT = 10

    outcome = answer_to(trickle=0.005)

    assert outcome.category == Category.ACCEPTED
    assert outcome.provider_message_id == "u-123"


def test_it_reports_a_closed_port_as_a_refused_connection(private_endpoints) -> None:
    private_endpoints(True)
    port = closed_port()

    outcome = send(f"http://127.0.0.1:{port}/send?api_key={KEY}")

    assert outcome.category == Category.CONNECTION
    assert "Connection refused" in outcome.diagnosis
    assert "check the host and port" in outcome.diagnosis
    assert KEY not in outcome.diagnosis


def test_it_reports_tls_to_a_server_that_speaks_plain_http(private_endpoints) -> None:
    private_endpoints(True)
    with running(Reply()) as server:
        outcome = send(f"https://127.0.0.1:{server.port}/")

    assert outcome.category == Category.TLS
    assert outcome.diagnosis.startswith("The TLS handshake with 127.0.0.1 failed")
    assert server.received == []


@pytest.mark.parametrize(
    ("reply", "explained"),
    [
        (
            Reply(200, b"<!DOCTYPE html><html><title>Login</title></html>", HTML_TYPE),
            "the answer is an HTML page",
        ),
        (Reply(200, b"", JSON_TYPE), "the answer is empty"),
        (Reply(200, b"\x00\x9f\xffgarbage<<", {}), "the answer is not JSON"),
        (Reply(200, b'{"status": {"code": "QUEUED"}}', JSON_TYPE), "has no umid"),
        (
            Reply(200, b'{"umid": "u-1", "pad": "' + b"x" * 200_000 + b'"}', JSON_TYPE),
            "larger than the read limit",
        ),
    ],
    ids=["html", "empty", "garbage", "no-id", "huge"],
)
def test_it_explains_an_answer_it_cannot_read(
    private_endpoints, settings, reply, explained
) -> None:
    private_endpoints(True)
    settings.SMS_RESPONSE_MAX_BYTES = 1024
    with running(reply) as server:
        outcome = send(server.url)

    assert outcome.category == Category.BAD_RESPONSE
    assert outcome.status_code == 200
    assert outcome.diagnosis.startswith("200 from 127.0.0.1, but ")
    assert explained in outcome.diagnosis
    assert len(outcome.response_excerpt) <= 1025


def test_it_blocks_loopback_spelled_as_an_ipv4_mapped_ipv6_address(
    private_endpoints,
) -> None:
    private_endpoints(False)
    with running(Reply(200, json.dumps(QUEUED).encode(), JSON_TYPE)) as server:
        outcome = send(f"http://[::ffff:127.0.0.1]:{server.port}/")

    assert outcome.category == Category.BLOCKED
    assert server.received == []


# --- a plain POST (status webhooks) ---------------------------------------------------


def test_a_plain_post_sends_the_bytes_and_headers_and_reads_the_status(caplog) -> None:
    caplog.set_level(logging.INFO, logger="providers.outbound.transport")
    with running(Reply(202, b'{"ok": true}')) as server:
        url = server.url + "hooks?token=hush-7f3a"
        reply = transport.post(url, body=BODY, headers={"X-Test": "1"})

    [received] = server.received
    assert (received.method, received.path, received.body) == (
        "POST",
        "/hooks?token=hush-7f3a",
        BODY,
    )
    assert received.headers["X-Test"] == "1"
    assert received.headers["User-Agent"] == transport.USER_AGENT
    assert (reply.ok, reply.status, reply.answer) == (True, 202, '{"ok": true}')
    # The query string may carry the receiver's credential: never logged.
    assert "POST http://127.0.0.1:" in caplog.text
    assert "hush-7f3a" not in caplog.text


def test_a_plain_post_follows_no_redirect_and_reads_no_answer_from_a_closed_port() -> (
    None
):
    with running(Reply(307, headers={"Location": "https://elsewhere.test/"})) as server:
        redirected = transport.post(server.url, body=b"{}", headers={})
        [received] = server.received
    refused = transport.post(f"http://127.0.0.1:{closed_port()}/", body=b"", headers={})

    assert (redirected.ok, redirected.status) == (False, 307)
    assert received.path == "/"
    assert (refused.status, refused.failure) == (None, Category.CONNECTION)
    assert refused.diagnosis.startswith("The connection to 127.0.0.1 failed")
