"""The address policy (providers.validators.blocked_address) over every spelling
of an address: refused on the endpoint field when a provider is saved, and
refused at send before any connection is attempted, so nothing on the refused
address is ever contacted."""

from __future__ import annotations

import pytest

from providers.forms.setup import FORMS
from providers.outbound import transport
from providers.outbound.outcomes import Category, ResponseRules
from providers.outbound.rendering import HttpRequest

from .fake_provider import Reply, closed_port, running
from .formdata import error_codes, screen_data
from .network import NameServer, connects_recorded, listening, name_server

REFUSED = {
    "loopback": "127.0.0.1",
    "private-10": "10.1.2.3",
    "private-172": "172.16.0.1",
    "private-192": "192.168.1.1",
    "cloud-metadata": "169.254.169.254",
    "this-host": "0.0.0.0",  # noqa: S104
    "cgnat": "100.64.0.1",
    "benchmarking": "198.18.0.1",
    "ietf-protocol-assignments": "192.0.0.100",
    "6to4-relay-anycast": "192.88.99.1",
    "multicast-v4": "224.0.0.251",
    "broadcast": "255.255.255.255",
    "reserved-v4": "240.0.0.1",
    "loopback-v6": "::1",
    "unspecified-v6": "::",
    "link-local-v6": "fe80::1",
    "unique-local-fc": "fc00::1",
    "unique-local-fd": "fd00::1",
    "site-local-v6": "fec0::1",
    "multicast-v6-link": "ff02::1",
    "multicast-v6-global": "ff0e::1",
    "documentation-v6": "2001:db8::1",
    "documentation-v6-new": "3fff::1",
    "discard-only": "100::1",
    "srv6": "5f00::1",
    "ipv4-mapped-loopback": "::ffff:127.0.0.1",
    "ipv4-mapped-metadata": "::ffff:169.254.169.254",
    "ipv4-compatible-loopback": "::127.0.0.1",
    "ipv4-compatible-metadata": "::a9fe:a9fe",
    "ipv4-compatible-public": "::8.8.8.8",
    "nat64-loopback": "64:ff9b::7f00:1",
    "nat64-metadata": "64:ff9b::a9fe:a9fe",
    "nat64-private": "64:ff9b::a00:1",
    "nat64-local-use": "64:ff9b:1::808:808",
    "6to4-loopback": "2002:7f00:1::",
    "6to4-metadata": "2002:a9fe:a9fe::",
    "6to4-private": "2002:c0a8:101::1",
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "teredo-metadata-server": "2001:0:a9fe:a9fe::1",
}

ALLOWED = {
    "public-v4": "8.8.8.8",
    "public-v6": "2606:4700:4700::1111",
    "ipv4-mapped-public": "::ffff:8.8.8.8",
    "nat64-public": "64:ff9b::808:808",
    "6to4-public": "2002:808:808::1",
}


def in_url(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def endpoint_form(host: str):
    endpoint = f"https://{host}/api/v1/subaccounts/{{subAccountId}}/messages"
    return FORMS["clevertap"](screen_data("clevertap", endpoint=endpoint))


def send_to(url: str):
    request = HttpRequest(method="POST", url=url, headers=(), body=b"{}")
    return transport.send(request, rules=ResponseRules())


@pytest.fixture
def dns(monkeypatch) -> NameServer:
    return name_server(monkeypatch)


@pytest.fixture
def guard_on(settings):
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False
    settings.SMS_CONNECT_TIMEOUT = 1
    # Connections kept alive from earlier tests were opened under another policy.
    transport.session().close()
    yield
    transport.session().close()


# --- at save ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_an_endpoint_on_a_refused_address_is_refused_at_save(guard_on, address) -> None:
    form = endpoint_form(in_url(address))

    assert error_codes(form, "endpoint") == ["private_address"]
    [message] = form.errors["endpoint"]
    assert "providers must be reachable on the public internet" in message


@pytest.mark.django_db
@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_an_endpoint_on_a_public_address_is_saved(guard_on, address) -> None:
    form = endpoint_form(in_url(address))

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_an_address_carrying_an_ipv4_one_is_explained_at_save(guard_on) -> None:
    form = endpoint_form("[64:ff9b::a9fe:a9fe]")

    assert form.errors["endpoint"] == [
        "64:ff9b::a9fe:a9fe is a loopback, private, link-local or reserved address "
        "(64:ff9b::a9fe:a9fe, which leads to 169.254.169.254); providers must be "
        "reachable on the public internet."
    ]


@pytest.mark.django_db
def test_a_name_resolving_to_public_and_private_addresses_is_refused_at_save(
    guard_on, dns
) -> None:
    dns.answers["mixed.smsbridge.test"] = ["93.184.215.14", "10.0.0.5"]

    form = endpoint_form("mixed.smsbridge.test")

    assert error_codes(form, "endpoint") == ["private_address"]
    assert "(10.0.0.5)" in form.errors["endpoint"][0]


# --- at send ------------------------------------------------------------------------


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_address_is_never_connected_to_at_send(guard_on, address) -> None:
    with listening() as listener, connects_recorded() as attempts:
        outcome = send_to(f"http://{in_url(address)}:{listener.port}/send")
        accepted = listener.accepted()

    assert outcome.category == Category.BLOCKED
    assert outcome.diagnosis.endswith(
        "a loopback, private or reserved address; smsbridge only sends to public "
        "addresses."
    )
    assert attempts == []
    assert accepted == 0


@pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())
def test_a_public_address_is_connected_to_at_send(guard_on, address) -> None:
    with connects_recorded() as attempts:
        outcome = send_to(f"http://{in_url(address)}:9/send")

    # The test stops the connect itself, so the send fails as a refused one.
    assert outcome.category == Category.CONNECTION
    assert attempts == [(address, 9)]


def test_an_address_carrying_an_ipv4_one_is_explained_at_send(guard_on, dns) -> None:
    dns.answers["nat64.smsbridge.test"] = ["64:ff9b::a9fe:a9fe"]

    outcome = send_to("http://nat64.smsbridge.test/latest/meta-data/")

    assert outcome.diagnosis == (
        "nat64.smsbridge.test resolves to 64:ff9b::a9fe:a9fe, which leads to "
        "169.254.169.254, a loopback, private or reserved address; smsbridge only "
        "sends to public addresses."
    )


def test_a_name_resolving_to_public_and_private_addresses_is_refused_at_send(
    guard_on, dns
) -> None:
    dns.answers["mixed.smsbridge.test"] = ["93.184.215.14", "127.0.0.1"]

    with listening() as listener, connects_recorded() as attempts:
        outcome = send_to(f"http://mixed.smsbridge.test:{listener.port}/send")
        accepted = listener.accepted()

    assert outcome.category == Category.BLOCKED
    assert outcome.diagnosis.startswith("mixed.smsbridge.test resolves to 127.0.0.1,")
    assert attempts == []
    assert accepted == 0


def test_a_refused_host_answers_the_same_for_an_open_and_a_closed_port(
    guard_on,
) -> None:
    with listening() as listener, connects_recorded() as attempts:
        open_port = send_to(f"http://localhost:{listener.port}/send")
        closed = send_to(f"http://localhost:{closed_port()}/send")
        accepted = listener.accepted()

    assert (open_port.category, open_port.diagnosis) == (
        closed.category,
        closed.diagnosis,
    )
    assert open_port.category == Category.BLOCKED
    assert attempts == []
    assert accepted == 0


def test_it_connects_to_the_address_it_checked_without_a_second_lookup(
    guard_on, dns
) -> None:
    # A second lookup could answer a loopback address to a name that answered a
    # public one to the check (DNS rebinding); there is none.
    dns.answers["rebind.smsbridge.test"] = ["93.184.215.14"]

    with connects_recorded() as attempts:
        outcome = send_to("http://rebind.smsbridge.test:8080/send")

    assert outcome.category == Category.CONNECTION
    assert dns.asked.count("rebind.smsbridge.test") == 1
    assert attempts == [("93.184.215.14", 8080)]


def test_the_host_header_names_the_host_as_written_not_the_checked_address(
    guard_on, dns, monkeypatch
) -> None:
    # Only loopback can answer in a test: here the policy lets it through, so
    # the request reaching the server shows what a public provider would see.
    monkeypatch.setattr(transport, "blocked_address", lambda address: False)
    with running(Reply(200, b"{}")) as server:
        port = server.url.rstrip("/").rsplit(":", 1)[1]
        dns.answers["provider.smsbridge.test"] = ["127.0.0.1"]
        outcome = send_to(f"http://provider.smsbridge.test:{port}/send")

    assert outcome.category == Category.ACCEPTED
    [received] = server.received
    assert received.headers["Host"] == f"provider.smsbridge.test:{port}"
    assert dns.asked.count("provider.smsbridge.test") == 1


def test_it_tries_each_checked_address_in_turn(guard_on, dns) -> None:
    dns.answers["two.smsbridge.test"] = ["93.184.215.14", "2606:2800:21f::1"]

    with connects_recorded() as attempts:
        send_to("http://two.smsbridge.test:8080/send")

    assert attempts == [
        ("93.184.215.14", 8080),
        ("2606:2800:21f::1", 8080),
    ]


def test_a_checked_address_that_does_not_answer_in_time_is_a_timeout(
    guard_on,
) -> None:
    with connects_recorded(stop_with=TimeoutError) as attempts:
        outcome = send_to("http://8.8.8.8:8080/send")

    assert outcome.category == Category.TIMEOUT
    assert outcome.diagnosis.startswith("Could not connect to 8.8.8.8 within 1 s")
    assert attempts == [("8.8.8.8", 8080)]


def test_a_name_that_does_not_resolve_is_a_dns_failure(guard_on) -> None:
    outcome = send_to("http://no-such-host.invalid/send")

    assert outcome.category == Category.DNS
    assert "no-such-host.invalid could not be found" in outcome.diagnosis
