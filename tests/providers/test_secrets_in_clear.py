"""No secret in clear, anywhere: providers are set up with canary secrets through
the admin, tested against a provider that echoes every credential it gets, and
then every page each role can open, the logs and the database's files are
searched for the canaries. Encrypted at rest is fine; in clear is not."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from campaigns.roles import CAMPAIGN_ROLES
from providers.models import Provider
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category
from providers.roles import FIRST_ROLES

from ..roles import role_group
from .fake_provider import Reply, running
from .formdata import as_post, screen_data

# Written to disk, so the database's files can be read. The roles come from
# role_group, as on any flushed database: restoring the migrations' data
# (serialized_rollback) after a live-server test's flush, whose post_migrate
# made the content types again under other ids, failed on their unique names.
pytestmark = pytest.mark.django_db(transaction=True)

BASIC_USER = "acme-user"
CANARIES = {
    "bearer": "cnry-bearer-7Qx2/Lp+9Vw1",
    "variable": "cnry-variable-3Hs8+Te0/Zb5",
    "basic": 'cnry-basic-"4Kd/zR"+8Mn2',
    "parameter": "cnry-param-6Yt1/Uo+3Ja9",
    "callback": "cnry-callback-5Wq7/Ge+2Pf4",
    "client_secret": "cnry-client-secret-8Jr4/Hn+6Cs3",
    "token": "cnry-token-1Vz9/Mb+7Ko5",
}
ROLES = sorted({*FIRST_ROLES, *CAMPAIGN_ROLES})
# Links that act (or leave the admin) rather than show a page.
SKIPPED = re.compile(r"/logout/|/autocomplete/|/r/\d+/")


def spellings(secret: str) -> set[str]:
    """The canary as it would read in clear in a page, JSON, a URL or a log."""
    as_json = json.dumps(secret)[1:-1]
    return {
        secret,
        html.escape(secret),
        as_json,
        as_json.replace("/", "\\/"),
        quote(secret, safe=""),
        quote_plus(secret),
    }


def basic_credentials() -> str:
    return base64.b64encode(f"{BASIC_USER}:{CANARIES['basic']}".encode()).decode()


def echoing_answer(*names: str) -> bytes:
    """A provider refusing the credentials, quoting back the ones it was sent the
    way real providers do: bare, JSON-escaped, URL-encoded and decoded."""
    quoted = {name: f"invalid credential {CANARIES[name]}" for name in names}
    if "parameter" in names:
        quoted["request"] = f"/send?signature={quote_plus(CANARIES['parameter'])}"
    if "basic" in names:
        quoted["basic"] = f"{BASIC_USER}:{CANARIES['basic']}"
        quoted["authorization"] = f"Basic {basic_credentials()}"
    return json.dumps(quoted).replace("/", "\\/").encode()


# Which canaries each provider is set up with, and so is sent and echoes.
ECHOED = (
    ("bearer", "variable", "basic"),
    ("bearer", "parameter"),
    ("token", "client_secret"),
)
# The OAuth provider's token endpoint hands out the token canary.
TOKEN_REPLY = Reply(
    body=json.dumps({"access_token": CANARIES["token"], "expires_in": 3600}).encode(),
    headers={"Content-Type": "application/json"},
)


def found_in(text: str) -> list[str]:
    """Which canaries the text holds in clear, in any spelling."""
    texts = (text, html.unescape(text))
    return sorted(
        name
        for name, secret in CANARIES.items()
        if any(s in t for s in spellings(secret) for t in texts)
    )


def set_up_providers(client: Client, urls: list[str]) -> tuple[Provider, ...]:
    clevertap = screen_data(
        "clevertap",
        nickname="Canary basic",
        endpoint=f"{urls[0]}send/{{subAccountId}}",
        authentication="basic",
        basic_username=BASIC_USER,
        basic_password=CANARIES["basic"],
        dlr_credentials=f"dlr-user:{CANARIES['callback']}",
        rows={
            "headers": [
                ("X-Auth", f"Bearer {CANARIES['bearer']}", True),
                ("X-Api-Key", "{apiKey}", False),
            ],
            "variables": [
                ("subAccountId", "acme_sub", False),
                ("apiKey", CANARIES["variable"], True),
            ],
        },
    )
    moengage = screen_data(
        "moengage",
        nickname="Canary parameter",
        endpoint=f"{urls[1]}send",
        rows={
            "headers": [("Authorization", f"Bearer {CANARIES['bearer']}", True)],
            "url_parameters": [("signature", CANARIES["parameter"], True)],
            "variables": [("apiKey", CANARIES["variable"], True)],
        },
    )
    oauth = screen_data(
        "clevertap",
        nickname="Canary oauth",
        endpoint=f"{urls[2]}send",
        authentication="oauth",
        oauth_token_url=f"{urls[3]}token",
        oauth_client_id="acme-client",
        oauth_client_secret=CANARIES["client_secret"],
        rows={"headers": [("X-Trace", "1", False)], "variables": []},
    )
    screens = (("clevertap", clevertap), ("moengage", moengage), ("clevertap", oauth))
    for screen, data in screens:
        add = reverse("admin:providers_provider_add") + f"?screen={screen}"
        response = client.post(add, as_post(data, _save="Save"))
        assert response.status_code == 302, response.content.decode()[:2000]
    return tuple(Provider.objects.order_by("pk"))


def staff_client(role: str, *, username: str) -> Client:
    user = User.objects.create_user(username=username, is_staff=True)
    user.groups.add(role_group(role))
    client = Client()
    client.force_login(user)
    return client


def send_test(client: Client, provider: Provider) -> str:
    page = reverse("admin:providers_provider_send_test", args=[provider.pk])
    response = client.post(
        page, {"country": "SG", "number": "91234567", "message": "Hello"}
    )
    assert response.status_code == 302
    return response["Location"]


def crawl(client: Client, start: list[str]) -> dict[str, str]:
    """Every admin page reachable from the start pages by following links."""
    seen: dict[str, str] = {}
    queue = list(start)
    while queue and len(seen) < 400:
        url = queue.pop()
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response.content.decode(errors="replace")
        if response.status_code != 200:
            continue
        for href in re.findall(r'href="([^"#]+)', seen[url]):
            target = html.unescape(href)
            path = urlsplit(target).path
            if path.startswith("/admin/") and not SKIPPED.search(path):
                queue.append(target if "result=" in target else path)
    return seen


@pytest.fixture
def canary_setup(admin_client, caplog):
    """Providers holding every kind of secret, each tested once by the superuser
    and once by Support, against a provider that echoes all of them."""
    caplog.set_level(logging.DEBUG)
    answers = [Reply(status=401, body=echoing_answer(*names)) for names in ECHOED]
    with (
        running(answers[0]) as first,
        running(answers[1]) as second,
        running(answers[2]) as third,
        running(TOKEN_REPLY) as tokens,
    ):
        servers = [first, second, third]
        urls = [server.url for server in [*servers, tokens]]
        providers = set_up_providers(admin_client, urls)
        support = staff_client("Support", username="support-tester")
        results = [
            send_test(client, provider)
            for provider in providers
            for client in (admin_client, support)
        ]
    return providers, results, servers


def test_the_echoing_provider_got_the_canaries_it_quotes_back(canary_setup) -> None:
    _, _, servers = canary_setup
    sent = [
        json.dumps([[r.path, r.headers] for r in server.received]) for server in servers
    ]

    assert [found_in(text) for text in sent] == [
        ["bearer", "variable"],
        ["bearer", "parameter"],
        ["token"],
    ]
    assert f"Basic {basic_credentials()}" in sent[0]
    assert {t.category for t in SentTest.objects.all()} == {Category.AUTH}


@pytest.mark.parametrize("role", ["superuser", *ROLES])
def test_no_page_a_role_can_open_shows_a_canary(canary_setup, admin_client, role):
    _, results, _ = canary_setup
    client = (
        admin_client if role == "superuser" else staff_client(role, username="crawler")
    )
    tests = SentTest.objects.all()
    start = [
        "/admin/",
        *results,
        *(
            reverse("admin:providers_provider_test_status", args=[t.provider_id, t.pk])
            for t in tests
        ),
    ]

    pages = crawl(client, start)

    opened = [url for url, page in pages.items() if page]
    assert len(opened) > 5
    assert {url: found_in(page) for url, page in pages.items() if found_in(page)} == {}


def test_the_request_preview_of_a_saved_provider_shows_no_canary(
    canary_setup, admin_client
) -> None:
    provider = canary_setup[0][0]
    data = screen_data(
        "clevertap",
        nickname=provider.nickname,
        endpoint=provider.endpoint,
        authentication="basic",
        basic_username=BASIC_USER,
        rows={
            "headers": [("X-Auth", "", True), ("X-Api-Key", "{apiKey}", False)],
            "variables": [("subAccountId", "acme_sub", False), ("apiKey", "", True)],
        },
    )
    url = reverse("admin:providers_provider_preview_existing", args=[provider.pk])

    response = admin_client.post(url, as_post(data))

    assert response.json()["ok"] is True
    assert found_in(response.content.decode()) == []


def test_no_log_line_holds_a_canary(canary_setup, caplog) -> None:
    records = caplog.get_records("setup")
    logged = "\n".join(repr(r.args) + r.getMessage() for r in records)

    assert "sms send" in logged
    assert found_in(logged) == []


def test_the_database_files_hold_no_canary_in_clear(canary_setup) -> None:
    name = Path(connection.settings_dict["NAME"])
    files = [p for p in name.parent.glob(f"{name.name}*") if p.is_file()]
    raw = b"".join(p.read_bytes() for p in files)
    stored = raw.decode("utf-8", errors="replace")

    assert SentTest.objects.count() == 6
    assert "Canary basic" in stored
    assert found_in(stored) == []
    assert basic_credentials() not in stored
