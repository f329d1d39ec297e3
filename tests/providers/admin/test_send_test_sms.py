"""The Send Test SMS page, end to end: providers made from the 8x8 presets through
the real setup form, sending over real HTTP to the built-in sandbox served by
pytest-django's live server."""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path

import pytest
import responses
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from campaigns.dlr.applying import apply_waiting
from providers.crypto import mask
from providers.models import Provider
from providers.models import TestSend as SentTest
from providers.outbound import transport
from providers.outbound.outcomes import Category
from providers.presets import BY_SLUG
from providers.roles import FIRST_ROLES, MARKETING, SUPPORT
from providers.sandbox.demo import form_data

from ..fake_provider import sandbox_provider

MOENGAGE_NICKNAME = "8x8 sandbox (MoEngage style)"
WRONG_KEY = "wrong-key-0123456789"


@pytest.fixture
def sandbox(live_server):
    """The MoEngage-style 8x8 preset, pointed at the sandbox, with the right key."""
    return sandbox_provider(live_server.url, nickname=MOENGAGE_NICKNAME)


@pytest.fixture
def nothing_sent():
    """Fails the test if anything at all goes out over HTTP."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert len(mock.calls) == 0


def page_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_send_test", args=[provider.pk])


def post_test(client, provider, number="91234567", message="Hello", country="SG"):
    return client.post(
        page_url(provider), {"country": country, "number": number, "message": message}
    )


def sent_and_shown(client, provider, **fields) -> tuple[SentTest, str]:
    """Send through the page; return the stored test and the result page."""
    response = post_test(client, provider, **fields)
    test = SentTest.objects.latest("pk")
    assert response.status_code == 302
    assert response["Location"] == f"{page_url(provider)}?result={test.pk}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    return test, page.content.decode()


def fact(page: str, label: str) -> str:
    match = re.search(rf"<th>{label}</th>\s*<td[^>]*>(.*?)</td>", page, re.S)
    assert match, f"no {label} on the page"
    return match.group(1).strip()


def headline_of(page: str) -> str:
    match = re.search(r"<h2 data-headline>(.*?)</h2>", page, re.S)
    assert match, "no result headline on the page"
    return html.unescape(match.group(1).strip())


def field_errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


def sandbox_key() -> str:
    return django_settings.SMS_SANDBOX_API_KEY


def use_key(provider: Provider, key: str) -> None:
    variable = provider.variables.get(name="apiKey")
    variable.value = key
    variable.save()


# --- the form -------------------------------------------------------------------------


def test_it_shows_the_form_with_a_country_code_and_a_default_message(
    admin_client, sandbox
) -> None:
    response = admin_client.get(page_url(sandbox))

    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<option value="SG" selected>Singapore \(\+65\)</option>', page)
    assert "Country code" in page
    assert "Mobile number" in page
    assert f"This is a test message powered by {MOENGAGE_NICKNAME}" in page
    assert "data-headline" not in page
    assert sandbox_key() not in page


# --- sending --------------------------------------------------------------------------


def test_it_sends_to_the_sandbox_and_shows_success(admin_client, sandbox) -> None:
    test, page = sent_and_shown(admin_client, sandbox, message="Hello from the test")

    assert test.category == Category.ACCEPTED
    assert test.to == "+6591234567"
    assert test.created_by.username == "admin"
    uuid.UUID(test.provider_message_id)
    assert headline_of(page) == "Accepted — waiting for the delivery report"
    assert fact(page, "Provider message id") == test.provider_message_id
    assert fact(page, "HTTP status") == "200"
    assert re.fullmatch(r"\d+ ms", fact(page, "Latency"))
    assert "Request as sent" in page


def test_it_records_the_request_exactly_as_sent_with_the_key_masked(
    admin_client, sandbox, live_server
) -> None:
    test, page = sent_and_shown(admin_client, sandbox, message="Hello")

    key = sandbox_key()
    assert test.request_method == "POST"
    assert test.request_url == (
        f"{live_server.url}/sandbox/api/v1/subaccounts/demo-account/messages"
    )
    assert test.request_headers == [
        ["Content-Type", "application/json"],
        ["Authorization", f"Bearer {mask(key)}"],
    ]
    assert test.request_body == (
        '{"source":"smsbridge","destination":"+6591234567","text":"Hello"}'
    )
    answer = json.loads(test.response_excerpt)
    assert answer["umid"] == test.provider_message_id
    assert answer["destination"] == "6591234567"
    assert f"Bearer {mask(key)}" in page
    assert key not in page


def test_it_sends_through_the_clevertap_batch_preset(admin_client, live_server) -> None:
    provider = sandbox_provider(
        live_server.url, slug="8x8-clevertap", nickname="8x8 sandbox (CleverTap)"
    )

    test, page = sent_and_shown(admin_client, provider, message="Batch hello")

    assert test.category == Category.ACCEPTED
    assert test.request_url.endswith(
        "/sandbox/api/v1/subaccounts/demo-account/partners/clevertap/batch"
    )
    [record] = json.loads(test.request_body)["msgs"]
    assert record["mid"] == test.message_id
    assert record["destination"] == "+6591234567"
    assert record["text"] == "Batch hello"
    # The partner endpoint answers with counts only.
    assert json.loads(test.response_excerpt)["acceptedCount"] == 1
    assert headline_of(page) == "Accepted — waiting for the delivery report"


def test_it_never_sends_again_when_the_result_is_reloaded(
    admin_client, sandbox
) -> None:
    response = post_test(admin_client, sandbox)

    for _ in range(2):
        assert admin_client.get(response["Location"]).status_code == 200

    assert SentTest.objects.count() == 1


def test_it_lets_a_number_with_plus_override_the_country(admin_client, sandbox) -> None:
    test, _ = sent_and_shown(
        admin_client, sandbox, country="US", number="+65 9123 4567"
    )

    assert test.to == "+6591234567"
    assert test.category == Category.ACCEPTED


def test_it_explains_a_wrong_api_key(admin_client, sandbox) -> None:
    use_key(sandbox, WRONG_KEY)

    test, page = sent_and_shown(admin_client, sandbox)

    assert test.category == Category.AUTH
    assert test.status_code == 401
    assert headline_of(page) == "Not delivered — Authentication failed"
    assert "credentials" in test.diagnosis
    assert "API key" in test.diagnosis
    assert "Request was not authenticated properly" in test.diagnosis
    assert fact(page, "HTTP status") == "401"
    assert WRONG_KEY not in page
    assert mask(WRONG_KEY) in page


def test_it_reports_the_sandboxs_rejected_number_as_rejected(
    admin_client, sandbox
) -> None:
    test, page = sent_and_shown(admin_client, sandbox, number="90000001")

    assert test.category == Category.REJECTED
    assert test.status_code == 200
    assert "Destination is blocked" in test.diagnosis
    assert headline_of(page).startswith(
        "Rejected by the provider: status.code is 'REJECTED' (Destination is blocked"
    )
    assert "test-result-failure" in page


def test_it_reports_a_provider_server_error(admin_client, sandbox) -> None:
    test, page = sent_and_shown(admin_client, sandbox, number="+6590000002")

    assert test.category == Category.SERVER_ERROR
    assert test.status_code == 500
    assert "Internal server error" in test.diagnosis
    assert headline_of(page) == "Not delivered — Provider server error"


def test_it_times_out_on_the_slow_number(admin_client, sandbox, settings) -> None:
    settings.SMS_READ_TIMEOUT = 0.5
    settings.SMS_SANDBOX_SLOW_SECONDS = 2

    test, page = sent_and_shown(admin_client, sandbox, number="90000003")

    assert test.category == Category.TIMEOUT
    assert test.status_code is None
    assert test.diagnosis.startswith("localhost did not answer within 0.5 s")
    assert 500 <= test.latency_ms < 2000
    assert headline_of(page) == "Not delivered — Timed out"
    assert "Timed out" in page


def test_it_blocks_an_endpoint_that_now_resolves_to_a_private_address(
    admin_client, sandbox, settings
) -> None:
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False
    # Connections kept alive from earlier sends were opened under the old policy.
    transport.session().close()

    test, page = sent_and_shown(admin_client, sandbox)

    assert test.category == Category.BLOCKED
    assert test.diagnosis.startswith("localhost resolves to 127.0.0.1")
    assert test.status_code is None
    assert headline_of(page) == "Not delivered — Blocked by policy"
    assert "Blocked by policy" in page


# --- refused before sending -----------------------------------------------------------


def test_it_refuses_a_number_invalid_for_the_country_and_records_it(
    admin_client, sandbox, nothing_sent
) -> None:
    response = post_test(admin_client, sandbox, number="123")

    assert response.status_code == 200
    assert field_errors(response, "number") == [
        "123 is not a valid mobile number for +65; check the digits and the "
        "country code."
    ]
    test = SentTest.objects.get()
    assert test.category == Category.INVALID
    assert not test.succeeded
    assert test.to == "123"
    assert test.diagnosis.startswith("Not sent: 123 is not a valid mobile number")
    assert (test.request_method, test.status_code) == ("", None)


def test_it_refuses_an_empty_message(admin_client, sandbox, nothing_sent) -> None:
    response = post_test(admin_client, sandbox, message="")

    assert response.status_code == 200
    assert field_errors(response, "message") == ["Enter the message to send."]
    assert SentTest.objects.get().category == Category.INVALID


def test_it_tells_how_to_fix_a_blank_message(
    admin_client, sandbox, nothing_sent
) -> None:
    response = post_test(admin_client, sandbox, message="   \n  ")

    assert field_errors(response, "message") == ["Enter the message to send."]


def test_it_refuses_a_message_with_too_many_segments(
    admin_client, sandbox, settings, nothing_sent
) -> None:
    too_long = "a" * (153 * settings.SMS_MAX_SEGMENTS + 1)

    response = post_test(admin_client, sandbox, message=too_long)

    [error] = field_errors(response, "message")
    assert f"is {settings.SMS_MAX_SEGMENTS + 1} segments long" in error
    assert f"the maximum is {settings.SMS_MAX_SEGMENTS}" in error
    assert SentTest.objects.get().category == Category.INVALID


def test_a_message_that_would_break_a_header_line_is_refused_not_sent(
    admin_client, sandbox, nothing_sent
) -> None:
    sandbox.headers.create(name="X-Text", value="$$Body", position=9)

    test, page = sent_and_shown(admin_client, sandbox, message="Hello\r\nX-Injected: 1")

    assert test.category == Category.INVALID
    assert test.diagnosis.startswith(
        "Not sent: The header X-Text would contain a line break (CR/LF)"
    )
    assert headline_of(page).startswith("Not delivered — Not sent")


def test_it_refuses_to_send_through_an_inactive_provider(
    admin_client, sandbox, nothing_sent
) -> None:
    sandbox.is_active = False
    sandbox.save()

    response = post_test(admin_client, sandbox)

    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    assert "archived (inactive)" in error
    assert "activate it" in error
    test = SentTest.objects.get()
    assert test.category == Category.INVALID
    assert "archived (inactive)" in test.diagnosis


def test_it_reports_a_configuration_that_no_longer_compiles(
    admin_client, sandbox, nothing_sent
) -> None:
    sandbox.variables.filter(name="subAccountId").delete()

    test, page = sent_and_shown(admin_client, sandbox)

    assert test.category == Category.INVALID
    assert test.diagnosis.startswith("The provider's configuration is invalid: ")
    assert "subAccountId" in test.diagnosis
    assert headline_of(page).startswith("Not delivered — Not sent")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": ""}, "country"),
        ({"number": "not a number"}, "number"),
        ({"number": "+" * 60}, "number"),
        ({"number": ""}, "number"),
        ({"message": "nul \x00 byte"}, "message"),
    ],
)
def test_it_answers_odd_input_with_a_field_error_never_a_500(
    admin_client, sandbox, nothing_sent, fields, field
) -> None:
    data = {"country": "SG", "number": "91234567", "message": "Hi", **fields}

    response = admin_client.post(page_url(sandbox), data)

    assert response.status_code == 200
    assert field_errors(response, field)
    assert SentTest.objects.get().category == Category.INVALID


def test_it_ignores_a_result_id_of_another_provider(admin_client, live_server) -> None:
    first = sandbox_provider(live_server.url, nickname="first")
    second = sandbox_provider(live_server.url, nickname="second")
    test, _ = sent_and_shown(admin_client, first)

    for query in (f"?result={test.pk}", "?result=abc", "?result=999999"):
        response = admin_client.get(page_url(second) + query)
        assert response.status_code == 200
        assert response.context["result"] is None


# --- around the page ------------------------------------------------------------------


def test_it_sends_a_newly_saved_provider_to_its_test_page(admin_client) -> None:
    preset = BY_SLUG["8x8-moengage"]
    initial = preset.initial()
    for row in initial["variables"]:
        row["value"] = {"subAccountId": "acme", "apiKey": "sk-live-0123456789abcd"}[
            row["name"]
        ]
    initial.update(
        nickname="Fresh 8x8",
        sender_name="Fresh 8x8",
        sender_id="ACME",
        sender_type="transactional",
        is_active=True,
    )
    # As lists: the test client would send only the last value of each row key.
    data = {**dict(form_data(initial).lists()), "_save": "Save"}

    response = admin_client.post(
        reverse("admin:providers_provider_add") + "?preset=8x8-moengage", data
    )

    provider = Provider.objects.get(nickname="Fresh 8x8")
    assert response.status_code == 302
    assert response["Location"] == page_url(provider)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Provider saved — send a test SMS to verify it." in page


def test_it_shows_the_last_test_in_the_provider_list(admin_client, live_server) -> None:
    good = sandbox_provider(live_server.url, nickname="good one")
    bad = sandbox_provider(live_server.url, nickname="bad one")
    sandbox_provider(live_server.url, nickname="never tested")
    use_key(bad, WRONG_KEY)
    sent_and_shown(admin_client, bad)
    sent_and_shown(admin_client, good, number="90000001")  # a failure first
    sent_and_shown(admin_client, good)

    page = admin_client.get(
        reverse("admin:providers_provider_changelist")
    ).content.decode()

    rows = {
        nickname: row
        for row in page.split("<tr")
        for nickname in ("good one", "bad one", "never tested")
        if f">{nickname}</a>" in row
    }
    assert '<span class="test-ok">✓</span>' in rows["good one"]
    assert '<span class="test-failed">✗</span>' in rows["bad one"]
    assert "test-ok" not in rows["never tested"]
    assert "test-failed" not in rows["never tested"]


# --- who may send ---------------------------------------------------------------------


def staff_user(client, role: str) -> User:
    group, created = Group.objects.get_or_create(name=role)
    if created:
        # The flush after each transactional test removes the groups the data
        # migration made; grant the role's permissions as that migration does.
        for dotted in FIRST_ROLES[role]:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )
    user = User.objects.create_user(username=role.replace(" ", "_"), is_staff=True)
    user.groups.add(group)
    client.force_login(user)
    return user


def test_it_lets_support_send_a_test(client, sandbox) -> None:
    user = staff_user(client, SUPPORT)

    test, page = sent_and_shown(client, sandbox)

    assert test.category == Category.ACCEPTED
    assert test.created_by == user
    assert sandbox_key() not in page


def test_it_forbids_marketing_to_send_a_test(client, sandbox, nothing_sent) -> None:
    staff_user(client, MARKETING)

    assert client.get(page_url(sandbox)).status_code == 403
    assert post_test(client, sandbox).status_code == 403
    assert not SentTest.objects.exists()


# --- reading the provider's message id ------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dlr"
EIGHT_BY_EIGHT_MESSAGES = (
    "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"
)


@pytest.fixture
def by_hand(live_server) -> Provider:
    """The sandbox's 8x8 set up by hand: no message id path, no preset."""
    provider = sandbox_provider(live_server.url, nickname="8x8 by hand")
    Provider.objects.filter(pk=provider.pk).update(message_id_path="", preset="")
    provider.refresh_from_db()
    return provider


def use_url(provider: Provider, test: SentTest) -> str:
    return reverse(
        "admin:providers_provider_use_message_id", args=[provider.pk, test.pk]
    )


def status_of(client, provider: Provider, test: SentTest) -> dict:
    url = reverse("admin:providers_provider_test_status", args=[provider.pk, test.pk])
    return client.get(url).json()


def native_report(umid: str, *, state: str = "delivered", error: int = 0) -> str:
    """8x8's own webhook for a message, as it posts it to the account's webhook;
    without clientMessageId, since the payload sent none."""
    report = json.loads((FIXTURES / "8x8_delivered.json").read_text())
    report["payload"]["umid"] = umid
    del report["payload"]["clientMessageId"]
    report["payload"]["status"].update(state=state, errorCode=error)
    if error:
        report["payload"]["status"]["errorMessage"] = "Invalid destination"
    return json.dumps(report)


def post_report(client, provider: Provider, body: str) -> None:
    """The provider's callback, then what the worker does moments later."""
    response = client.post(
        f"/dlr/{provider.callback_token}/", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    apply_waiting()


def test_it_proposes_the_id_it_finds_in_the_answer(admin_client, by_hand) -> None:
    test, page = sent_and_shown(admin_client, by_hand)

    assert test.category == Category.ACCEPTED
    assert test.provider_message_id == ""
    umid = json.loads(test.response_excerpt)["umid"]
    assert "Use umid as the provider message id" in page
    assert f'action="{use_url(by_hand, test)}"' in page
    assert f"<code>{umid}</code>" in page


def test_its_proposal_sets_the_path_and_lets_a_later_report_match(
    admin_client, by_hand
) -> None:
    test, _ = sent_and_shown(admin_client, by_hand)
    umid = json.loads(test.response_excerpt)["umid"]

    response = admin_client.post(use_url(by_hand, test), {"path": "umid"})

    assert response.status_code == 302
    assert response["Location"] == f"{page_url(by_hand)}?result={test.pk}"
    by_hand.refresh_from_db()
    test.refresh_from_db()
    assert by_hand.message_id_path == "umid"
    assert test.provider_message_id == umid
    page = admin_client.get(response["Location"]).content.decode()
    assert "The provider message id path is now umid" in page
    assert "Use umid as the provider message id" not in page

    post_report(admin_client, by_hand, native_report(umid))

    test.refresh_from_db()
    assert test.delivery_state == "delivered"
    status = status_of(admin_client, by_hand, test)
    assert status["headline"] == "Delivered"
    assert status["ok"] is True
    assert status["unmatched"] == ""


def test_its_proposal_refuses_a_path_the_answer_lacks(admin_client, by_hand) -> None:
    test, _ = sent_and_shown(admin_client, by_hand)

    for path in ("status.code", "messages.0.umid"):
        response = admin_client.post(use_url(by_hand, test), {"path": path})
        assert response.status_code == 302

    by_hand.refresh_from_db()
    assert by_hand.message_id_path == ""
    page = admin_client.get(response["Location"]).content.decode()
    assert "has no message id at “messages.0.umid”" in page


def test_only_who_may_change_the_provider_is_offered_the_proposal(
    client, by_hand
) -> None:
    staff_user(client, SUPPORT)
    test, page = sent_and_shown(client, by_hand)

    assert "Use umid" not in page
    assert client.post(use_url(by_hand, test), {"path": "umid"}).status_code == 403
    by_hand.refresh_from_db()
    assert by_hand.message_id_path == ""


@responses.activate
def test_it_sets_a_known_providers_message_id_path_itself(admin_client) -> None:
    provider = sandbox_provider("https://unused.example", nickname="8x8 direct")
    Provider.objects.filter(pk=provider.pk).update(
        endpoint=EIGHT_BY_EIGHT_MESSAGES, message_id_path=""
    )
    provider.refresh_from_db()
    umid = "6f3c1a52-9d0e-5b7a-8c41-2e7d90b1f4a3"
    responses.post(
        "https://sms.8x8.com/api/v1/subaccounts/demo-account/messages",
        json={"umid": umid, "status": {"code": "QUEUED"}},
    )

    test, page = sent_and_shown(admin_client, provider)

    provider.refresh_from_db()
    test.refresh_from_db()
    assert provider.message_id_path == "umid"
    assert test.provider_message_id == umid
    assert "8x8 answers with umid: set as the provider message id." in page
    assert "Use umid" not in page


@responses.activate
def test_it_names_the_fields_a_known_provider_expects_after_a_400(
    admin_client,
) -> None:
    # The MoEngage guide's own field names, which 8x8's API does not know.
    provider = sandbox_provider("https://unused.example", nickname="8x8 guide")
    Provider.objects.filter(pk=provider.pk).update(
        endpoint=EIGHT_BY_EIGHT_MESSAGES,
        payload='{"sender": "{sender_id}", "recipient": "Moesms_destination", '
        '"message": "Moesms_message"}',
    )
    responses.post(
        "https://sms.8x8.com/api/v1/subaccounts/demo-account/messages",
        status=400,
        json={"code": 3002, "message": "Missed MSISDN"},
    )

    test, page = sent_and_shown(admin_client, provider)

    assert test.category == Category.BAD_REQUEST
    assert "Missed MSISDN" in test.diagnosis
    assert "8x8&#x27;s API expects source, destination, text in the body." in page
    add = reverse("admin:providers_provider_add")
    assert f'href="{add}?preset=8x8-moengage"' in page
    assert admin_client.get(f"{add}?preset=8x8-moengage").status_code == 200


def test_it_names_no_fields_for_a_provider_it_does_not_know(
    admin_client, by_hand
) -> None:
    _, page = sent_and_shown(admin_client, by_hand, number="+6590000002")

    assert "data-preset-hint" not in page


# --- what the result says, as the delivery report lands -------------------------------


@pytest.mark.parametrize(
    ("state", "error", "headline", "ok"),
    [
        ("delivered", 0, "Delivered", True),
        (
            "undelivered",
            15,
            "Accepted — delivery failed (15 Invalid destination)",
            False,
        ),
    ],
)
def test_its_headline_follows_the_delivery_report(
    admin_client, sandbox, state, error, headline, ok
) -> None:
    test, _ = sent_and_shown(admin_client, sandbox)
    status = status_of(admin_client, sandbox, test)
    assert status["headline"] == "Accepted — waiting for the delivery report"

    post_report(
        admin_client,
        sandbox,
        native_report(test.provider_message_id, state=state, error=error),
    )

    status = status_of(admin_client, sandbox, test)
    assert (status["headline"], status["ok"]) == (headline, ok)
    page = admin_client.get(f"{page_url(sandbox)}?result={test.pk}").content.decode()
    assert headline_of(page) == headline
    assert ("test-result-success" if ok else "test-result-failure") in page


def test_a_failed_delivery_is_a_failed_test_in_the_provider_list(
    admin_client, sandbox
) -> None:
    test, _ = sent_and_shown(admin_client, sandbox)
    post_report(
        admin_client,
        sandbox,
        native_report(test.provider_message_id, state="undelivered", error=15),
    )

    page = admin_client.get(
        reverse("admin:providers_provider_changelist")
    ).content.decode()
    assert '<span class="test-failed">✗</span>' in page
    assert "test-ok" not in page


# --- a report that matched nothing ----------------------------------------------------


def test_its_checklist_says_why_a_report_matched_nothing(admin_client, by_hand) -> None:
    test, _ = sent_and_shown(admin_client, by_hand)
    umid = json.loads(test.response_excerpt)["umid"]

    post_report(admin_client, by_hand, native_report(umid))

    unmatched = status_of(admin_client, by_hand, test)["unmatched"]
    assert re.fullmatch(
        r"A delivery report arrived at \d\d:\d\d:\d\d but matched no message: this "
        r"provider's answers are not read for a message id — set the provider "
        r"message id path \(Use umid below\)\.",
        unmatched,
    )


def test_its_checklist_says_a_report_came_before_the_id_was_known(
    admin_client, by_hand
) -> None:
    test, _ = sent_and_shown(admin_client, by_hand)
    umid = json.loads(test.response_excerpt)["umid"]
    post_report(admin_client, by_hand, native_report(umid))

    admin_client.post(use_url(by_hand, test), {"path": "umid"})

    unmatched = status_of(admin_client, by_hand, test)["unmatched"]
    assert "before its provider message id was known" in unmatched


def test_its_checklist_ignores_reports_from_before_the_test(
    admin_client, by_hand
) -> None:
    post_report(admin_client, by_hand, native_report("an-older-message"))
    test, _ = sent_and_shown(admin_client, by_hand)

    assert status_of(admin_client, by_hand, test)["unmatched"] == ""


# --- $$MessageID on the MoEngage screen -----------------------------------------------


def test_a_moengage_payload_may_send_our_message_id(admin_client, by_hand) -> None:
    Provider.objects.filter(pk=by_hand.pk).update(
        payload='{"source": "{sender_id}", "destination": "Moesms_destination", '
        '"text": "Moesms_message", "clientMessageId": "$$MessageID"}'
    )

    test, _ = sent_and_shown(admin_client, by_hand)

    assert json.loads(test.request_body)["clientMessageId"] == test.message_id
    assert json.loads(test.response_excerpt)["clientMessageId"] == test.message_id
