"""Redaction: every piece of a secret, in every spelling a provider may echo it in."""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from providers.crypto import mask
from providers.outbound.redaction import _replacements, redact_request, redact_text
from providers.outbound.rendering import HttpRequest
from providers.outbound.spec import wire_secrets

TOKEN = "tok-7Qx2/Lp+9Vw é"  # a slash, a plus, a space and a non-ASCII letter
PASSWORD = 'pw "9Kd/4+zR" ü'
USERNAME = "acme-user"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BASIC = f"Basic {b64(f'{USERNAME}:{PASSWORD}')}"


@pytest.mark.parametrize(
    "scheme", ["Bearer", "bearer", "BEARER", "Token", "Key", "ApiKey", "Bot", "App"]
)
def test_the_token_after_a_scheme_is_masked_when_echoed_alone(scheme) -> None:
    shown = redact_text(f'{{"error": "invalid token {TOKEN}"}}', [f"{scheme} {TOKEN}"])

    assert TOKEN not in shown
    assert shown.startswith('{"error": "invalid token ••••')


def test_the_whole_value_is_masked_with_its_scheme_kept_in_sight() -> None:
    shown = redact_text(f"Authorization: Bearer {TOKEN}", [f"Bearer {TOKEN}"])

    assert shown == f"Authorization: Bearer {mask(TOKEN)}"


def test_an_unknown_first_word_of_a_secret_is_not_shown() -> None:
    secret = "correct horse battery staple"

    assert redact_text(f"got {secret}", [secret]) == "got ••••aple"


ENCODINGS = {
    "json-ascii": lambda s: json.dumps(s)[1:-1],
    "json-utf8": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json-escaped-slashes": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "url-percent-20": lambda s: quote(s, safe=""),
    "url-slash-kept": quote,
    "url-plus": quote_plus,
    "url-lower-hex": lambda s: re.sub(
        "%[0-9A-F]{2}", lambda m: m[0].lower(), quote(s, safe="")
    ),
    "html": html.escape,
    "base64": b64,
    "base64-urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS)
def test_an_echoed_token_is_masked_in_every_encoding(encode) -> None:
    echoed = encode(TOKEN)

    shown = redact_text(f"bad credential <{echoed}>", [f"Bearer {TOKEN}"])

    assert echoed not in shown
    assert shown.startswith("bad credential <••••")


@pytest.mark.parametrize(
    "echoed",
    [
        f"{USERNAME}:{PASSWORD}",
        PASSWORD,
        quote_plus(PASSWORD),
        json.dumps(PASSWORD)[1:-1],
        b64(PASSWORD),
        BASIC.removeprefix("Basic "),
    ],
    ids=["user-colon-password", "password", "url", "json", "password-base64", "b64"],
)
def test_basic_credentials_are_masked_whole_decoded_and_the_password_alone(
    echoed,
) -> None:
    shown = redact_text(f"denied: {echoed}.", [BASIC])

    assert echoed not in shown
    assert PASSWORD not in shown


def test_a_basic_header_as_sent_is_a_secret_of_the_request() -> None:
    request = HttpRequest(
        method="POST",
        url="https://sms.example.com/send",
        headers=(("authorization", BASIC), ("Content-Type", "application/json")),
        body=json.dumps({"echo": PASSWORD}).encode(),
    )

    shown = redact_request(request, wire_secrets(request, []))

    assert dict(shown.headers)["authorization"].startswith("Basic ••••")
    assert PASSWORD.encode() not in shown.body
    assert json.dumps(PASSWORD)[1:-1].encode() not in shown.body


def test_the_values_of_digest_like_parameters_are_masked_alone() -> None:
    secret = 'Digest username="acme", response="6629fae49393a05397450978507c4ef1"'

    shown = redact_text("wrong response 6629fae49393a05397450978507c4ef1", [secret])

    assert shown == "wrong response ••••4ef1"


def test_a_piece_too_short_to_mask_alone_is_left_but_the_whole_is_masked() -> None:
    shown = redact_text("Key abc sent; the key abc is wrong", ["Key abc"])

    assert shown == "Key •••• sent; the key abc is wrong"


def test_the_spellings_are_worked_out_once_per_set_of_secrets() -> None:
    secrets = [f"Bearer {TOKEN}-once", PASSWORD]
    redact_text("first", secrets)
    before = _replacements.cache_info()

    redact_text("second", list(reversed(secrets)))

    after = _replacements.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
