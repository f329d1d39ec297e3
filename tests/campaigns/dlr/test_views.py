"""The delivery-report callback /dlr/<token>/, its admin set-up, and the sandbox's
reports arriving over real HTTP.

Callbacks are replayed from the payload files in tests/fixtures/dlr/, exactly as
the providers send them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.dlr.applying import apply_waiting
from campaigns.models import DeliveryReport
from providers import presets
from providers.forms.setup import FORMS
from providers.models import Provider
from providers.models import TestSend as SentTest
from providers.outbound import transport
from providers.outbound.outcomes import Category
from providers.sandbox.demo import form_data
from providers.send_test_sms import send_test_sms

from ..fake_provider import accepted_test_send

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dlr"

LIFECYCLE_ID = "4b1d7e0c9a2f4e6b8d3c5a7f1e9b2d40"
LIFECYCLE_UMID = "6f3c1a52-9d0e-5b7a-8c41-2e7d90b1f4a3"
UNDELIVERED_ID = "7e2a9c4f1b6d4a0e8c3f5b9d2e7a1c64"
CT_DELIVERED_ID = "8d2f0b6a1c3e4f5a9b7d6e0c2a4f8b13"
CT_FAILED_ID = "5a0c8e2f6b1d4c7a9e3b0f4d8a2c6e57"
CT_OTHER_ID = "e6b3d9a0f2c84b1e7a5d3c0f9b6e2a18"
MSG91_DELIVERED_ID = "b7e1c4a9d2f04e6b8a3c5d7f0e9b1a26"
MSG91_FAILED_ID = "f3a9d6c0b8e24a7d1c5e9b0a4f2d6c81"
TWILIO_DELIVERED_SID = "SM5d0f8a3c1e7b4926a8c0d4e2f6b1a937"
TWILIO_UNDELIVERED_SID = "SM91c6e2b8f4a0d3579e1b6c8a2d4f0e73"
KANNEL_ID = "c4e8a1f6d3b94072a5e1c9d8b6f0a2e3"

FORM = "application/x-www-form-urlencoded"
PROPOSE_URL = reverse("admin:providers_provider_propose_mapping")
CHANGELIST_URL = reverse("admin:providers_provider_changelist")


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def loaded(name: str) -> Any:
    return json.loads(raw(name))


def url(token: str) -> str:
    return f"/dlr/{token}/"


def callback(client, method: str, path: str, *args: Any, **kwargs: Any):
    """A request to the callback URL, then what the worker does moments later."""
    response = getattr(client, method)(path, *args, **kwargs)
    apply_waiting()
    return response


def post(client, provider: Provider, name: str, **kwargs: Any):
    """POST a fixture to the callback URL as the provider would: JSON, or a form."""
    content_type = FORM if name.endswith(".txt") else "application/json"
    return callback(
        client,
        "post",
        url(provider.callback_token),
        raw(name),
        content_type=content_type,
        **kwargs,
    )


def post_json(client, token: str, body: Any, **kwargs: Any):
    return callback(
        client,
        "post",
        url(token),
        json.dumps(body),
        content_type="application/json",
        **kwargs,
    )


def report() -> DeliveryReport:
    return DeliveryReport.objects.latest("pk")


def accepted(response) -> int:
    """How many updates the answer says were accepted; it carries the receipt
    of the logged callback."""
    assert response.status_code == 200
    body = response.json()
    assert body.keys() == {"status", "processed", "unprocessed", "receipt"}
    assert (body["status"], body["unprocessed"]) == ("success", [])
    assert body["receipt"] == str(report().receipt)
    return body["processed"]


def use_mapping(provider: Provider, **fields: Any) -> Provider:
    for name, value in fields.items():
        setattr(provider, name, value)
    provider.save()
    return provider


# --- 8x8's webhook -------------------------------------------------------------------


def test_it_marks_a_test_send_delivered_from_8x8s_receipt(client, provider) -> None:
    test = accepted_test_send(
        provider, LIFECYCLE_ID, provider_message_id=LIFECYCLE_UMID
    )

    response = post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert response.status_code == 200
    assert accepted(response) == 1
    assert test.delivery_state == "delivered"
    assert timezone.now() - test.dlr_received_at < timedelta(seconds=5)
    assert test.delivery_reported_at.isoformat() == "2024-05-02T10:15:33.470000+00:00"


def test_it_matches_8x8s_receipt_by_client_message_id(client, provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)

    post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert test.delivery_state == "delivered"


def test_it_matches_8x8s_receipt_by_umid_alone(client, provider) -> None:
    test = accepted_test_send(
        provider, "id-8x8-was-never-given", provider_message_id=LIFECYCLE_UMID
    )

    response = post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert accepted(response) == 1
    assert test.delivery_state == "delivered"


def test_it_records_8x8s_error_for_an_undelivered_message(client, provider) -> None:
    test = accepted_test_send(provider, UNDELIVERED_ID)

    post(client, provider, "8x8_undelivered.json")

    test.refresh_from_db()
    assert (
        test.delivery_state,
        test.delivery_error_code,
        test.delivery_description,
    ) == ("failed", "15", "Invalid destination")


# --- CleverTap's event groups --------------------------------------------------------


def test_it_answers_clevertap_with_its_contract_body(client, provider) -> None:
    test = accepted_test_send(provider, CT_FAILED_ID)

    response = post(client, provider, "clevertap_failed.json")

    test.refresh_from_db()
    assert response.status_code == 200
    assert accepted(response) == 1
    assert (
        test.delivery_state,
        test.delivery_error_code,
        test.delivery_description,
    ) == ("failed", "901", "DND Failure")


def test_it_counts_replies_and_clicks_as_processed(client, provider) -> None:
    for message_id in (CT_DELIVERED_ID, CT_FAILED_ID, CT_OTHER_ID):
        accepted_test_send(provider, message_id)

    response = post(client, provider, "clevertap_mixed.json")

    assert accepted(response) == 5
    assert report().result == "3 applied, 0 unchanged, 0 unmatched, 2 other events"


# --- callbacks read through the provider's mapping -----------------------------------


MSG91_MAPPING = {
    "dlr_id_path": "moengageMsgId",
    "dlr_provider_id_path": "requestId",
    "dlr_status_path": "status",
    "dlr_description_path": "desc",
    "dlr_status_values": {"DELIVRD": "delivered", "FAILED": "failed"},
}
TWILIO_MAPPING = {
    "dlr_provider_id_path": "MessageSid",
    "dlr_status_path": "MessageStatus",
    "dlr_error_code_path": "ErrorCode",
    "dlr_status_values": {"delivered": "delivered", "undelivered": "failed"},
}
KANNEL_MAPPING = {
    "dlr_id_path": "id",
    "dlr_status_path": "stat",
    "dlr_error_code_path": "err",
    "dlr_status_values": {"DELIVRD": "delivered", "UNDELIV": "failed"},
}


@pytest.mark.parametrize(
    ("name", "message_id", "expected"),
    [
        ("msg91_delivered.json", MSG91_DELIVERED_ID, ("delivered", "", "Delivered")),
        ("msg91_failed.json", MSG91_FAILED_ID, ("failed", "", "NDNC rejected")),
    ],
)
def test_it_applies_a_mapped_json_callback(
    client, provider, name, message_id, expected
) -> None:
    use_mapping(provider, **MSG91_MAPPING)
    test = accepted_test_send(provider, message_id)

    response = post(client, provider, name)

    test.refresh_from_db()
    assert accepted(response) == 1
    assert (
        test.delivery_state,
        test.delivery_error_code,
        test.delivery_description,
    ) == expected
    assert report().format == "mapped"


@pytest.mark.parametrize(
    ("name", "sid", "expected"),
    [
        ("twilio_delivered.txt", TWILIO_DELIVERED_SID, ("delivered", "")),
        ("twilio_undelivered.txt", TWILIO_UNDELIVERED_SID, ("failed", "30003")),
    ],
)
def test_it_applies_a_mapped_form_post(client, provider, name, sid, expected) -> None:
    use_mapping(provider, **TWILIO_MAPPING)
    test = accepted_test_send(provider, "ours-1", provider_message_id=sid)

    response = post(client, provider, name)

    test.refresh_from_db()
    assert accepted(response) == 1
    assert (test.delivery_state, test.delivery_error_code) == expected


def test_it_applies_a_mapped_get_query(client, provider) -> None:
    use_mapping(provider, **KANNEL_MAPPING)
    test = accepted_test_send(provider, KANNEL_ID)
    query = raw("kannel_delivered.txt").decode()

    response = callback(client, "get", f"{url(provider.callback_token)}?{query}")

    test.refresh_from_db()
    assert response.status_code == 200
    assert accepted(response) == 1
    assert (test.delivery_state, test.delivery_error_code) == ("delivered", "000")
    stored = report()
    assert (stored.method, stored.body, stored.format) == ("GET", query, "mapped")


def test_it_still_reads_8x8s_format_when_a_mapping_is_set(client, provider) -> None:
    use_mapping(provider, **MSG91_MAPPING)
    test = accepted_test_send(provider, LIFECYCLE_ID)

    post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert test.delivery_state == "delivered"


# --- replays and reports out of order ------------------------------------------------


def test_it_changes_nothing_when_8x8_repeats_a_receipt(client, provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    post(client, provider, "8x8_delivered.json")
    test.refresh_from_db()
    first = test.dlr_received_at

    response = post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert accepted(response) == 1
    assert (test.delivery_state, test.dlr_received_at) == ("delivered", first)
    assert report().result == "0 applied, 1 unchanged, 0 unmatched, 0 other events"


def test_it_keeps_delivered_when_a_late_sent_arrives(client, provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    post(client, provider, "8x8_delivered.json")

    response = post(client, provider, "8x8_sent.json")

    test.refresh_from_db()
    assert response.status_code == 200
    assert test.delivery_state == "delivered"
    assert test.delivery_reported_at.isoformat() == "2024-05-02T10:15:33.470000+00:00"


def test_it_advances_through_queued_sent_and_delivered(client, provider) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    seen = []

    for name in ("8x8_queued.json", "8x8_sent.json", "8x8_delivered.json"):
        post(client, provider, name)
        test.refresh_from_db()
        seen.append(test.delivery_state)

    assert seen == ["queued", "sent", "delivered"]


# --- ids smsbridge does not know -----------------------------------------------------


def test_it_answers_200_for_an_unknown_id_and_logs_it(client, provider) -> None:
    # 200 so the provider stops retrying: the id is not the provider's to fix.
    response = post(client, provider, "8x8_delivered.json")

    assert accepted(response) == 1
    assert report().unmatched_ids == [LIFECYCLE_ID]
    assert report().result == "0 applied, 0 unchanged, 1 unmatched, 0 other events"


def test_it_processes_the_known_ids_of_a_partly_unknown_callback(
    client, provider
) -> None:
    accepted_test_send(provider, CT_DELIVERED_ID)
    accepted_test_send(provider, CT_FAILED_ID)

    response = post(client, provider, "clevertap_mixed.json")

    assert accepted(response) == 5
    assert report().unmatched_ids == [CT_OTHER_ID]
    assert report().processed == 2


def test_it_does_not_touch_another_providers_message_of_the_same_id(
    client, provider
) -> None:
    other = Provider.objects.create(nickname="Other", endpoint="https://8.8.4.4/x")
    theirs = accepted_test_send(other, LIFECYCLE_ID, provider_message_id=LIFECYCLE_UMID)
    before = theirs.delivery_state

    post(client, provider, "8x8_delivered.json")

    theirs.refresh_from_db()
    assert (theirs.delivery_state, theirs.dlr_received_at) == (before, None)
    assert report().unmatched_ids == [LIFECYCLE_ID]


# --- callbacks refused ---------------------------------------------------------------


def test_it_refuses_malformed_json_with_a_reason(client, provider) -> None:
    truncated = raw("8x8_delivered.json")[:120]

    response = callback(
        client,
        "post",
        url(provider.callback_token),
        truncated,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["status"] == "fail"
    assert response.json()["error"].startswith("The body is not valid JSON")


def test_it_refuses_an_unrecognised_shape_without_a_mapping(client, provider) -> None:
    accepted_test_send(provider, MSG91_DELIVERED_ID)

    response = post(client, provider, "msg91_delivered.json")

    assert response.status_code == 400
    assert "no delivery report mapping" in response.json()["error"]


def test_it_refuses_a_body_over_256_kib(client, provider, settings) -> None:
    payload = loaded("8x8_delivered.json")
    payload["padding"] = "x" * settings.DLR_MAX_BODY_BYTES

    response = post_json(client, provider.callback_token, payload)

    assert response.status_code == 413
    assert report().response_status == 413


def test_a_callback_that_cannot_be_stored_is_answered_503(
    transactional_db, client, provider, tmp_path
) -> None:
    assert post(client, provider, "8x8_delivered.json").status_code == 200
    # A thread whose connection finds no database: the provider is already
    # known to this process, the write is what fails.
    missing = {"sqlite": str(tmp_path / "gone" / "db.sqlite3")}
    database = connections.settings["default"]
    saved = database["NAME"]
    answers = []

    def post_while_the_database_is_away() -> None:
        try:
            answers.append(
                Client().post(
                    url(provider.callback_token),
                    raw("8x8_delivered.json"),
                    content_type="application/json",
                )
            )
        finally:
            connection.close()

    database["NAME"] = missing.get(connection.vendor, "smsbridge_gone")
    try:
        thread = threading.Thread(target=post_while_the_database_is_away)
        thread.start()
        thread.join(timeout=30)
    finally:
        database["NAME"] = saved

    assert answers[0].status_code == 503
    assert answers[0].json()["error"] == (
        "The callback could not be stored; send it again."
    )
    assert DeliveryReport.objects.count() == 1


def test_it_answers_404_for_an_unknown_token(client, provider) -> None:
    response = callback(
        client,
        "post",
        url("not-a-token-anyone-was-given"),
        raw("8x8_delivered.json"),
        content_type="application/json",
    )

    assert response.status_code == 404
    assert not DeliveryReport.objects.exists()


def test_it_refuses_an_empty_post(client, provider) -> None:
    response = callback(
        client, "post", url(provider.callback_token), b"", content_type="text/plain"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "The callback is empty."


@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_it_refuses_an_empty_post_of_any_type(client, provider, content_type) -> None:
    response = callback(
        client, "post", url(provider.callback_token), b"", content_type=content_type
    )

    assert response.status_code == 400


def test_it_refuses_a_get_without_a_query(client, provider) -> None:
    use_mapping(provider, **KANNEL_MAPPING)

    response = callback(client, "get", url(provider.callback_token))

    assert response.status_code == 400


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_only_answers_get_and_post(client, provider, method) -> None:
    response = getattr(client, method)(
        url(provider.callback_token),
        raw("8x8_delivered.json"),
        content_type="application/json",
    )

    assert response.status_code == 405


# --- rotating the callback URL -------------------------------------------------------


def test_it_accepts_the_old_token_during_the_grace_period(client, provider) -> None:
    old = provider.callback_token
    provider.rotate_callback_token(now=timezone.now())
    test = accepted_test_send(provider, LIFECYCLE_ID)

    response = callback(
        client,
        "post",
        url(old),
        raw("8x8_delivered.json"),
        content_type="application/json",
    )

    test.refresh_from_db()
    assert response.status_code == 200
    assert test.delivery_state == "delivered"


def test_it_refuses_the_old_token_after_the_grace_period(
    client, provider, settings
) -> None:
    old = provider.callback_token
    hours = settings.DLR_TOKEN_GRACE_HOURS
    provider.rotate_callback_token(now=timezone.now() - timedelta(hours=hours + 1))
    accepted_test_send(provider, LIFECYCLE_ID)

    response = callback(
        client,
        "post",
        url(old),
        raw("8x8_delivered.json"),
        content_type="application/json",
    )

    assert response.status_code == 404


def test_it_accepts_the_new_token_at_once(client, provider) -> None:
    provider.rotate_callback_token(now=timezone.now())
    test = accepted_test_send(provider, LIFECYCLE_ID)

    response = post(client, provider, "8x8_delivered.json")

    test.refresh_from_db()
    assert response.status_code == 200
    assert test.delivery_state == "delivered"


def test_it_gives_the_old_token_24_hours_by_default(provider, settings) -> None:
    now = timezone.now()

    provider.rotate_callback_token(now=now)

    provider.refresh_from_db()
    assert settings.DLR_TOKEN_GRACE_HOURS == 24
    assert provider.previous_token_valid_until == now + timedelta(hours=24)
    assert provider.accepts_token(
        provider.previous_callback_token, now=now + timedelta(hours=23, minutes=59)
    )
    assert not provider.accepts_token(
        provider.previous_callback_token, now=now + timedelta(hours=24)
    )


# --- basic auth on the callback ------------------------------------------------------


def basic(credentials: str) -> dict[str, str]:
    token = base64.b64encode(credentials.encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def guarded(provider) -> Provider:
    provider.dlr_credentials = "ops:secret1\nops:secret2"
    provider.save()
    accepted_test_send(provider, LIFECYCLE_ID)
    return provider


def test_it_asks_for_credentials_when_they_are_missing(client, guarded) -> None:
    response = post(client, guarded, "8x8_delivered.json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    assert report().response_status == 401


@pytest.mark.parametrize(
    "headers",
    [
        basic("ops:wrong"),
        basic("ops:secret1\nops:secret2"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer ops:secret1"},
        {"Authorization": basic("ops:secret1")["Authorization"].replace("Basic", "")},
    ],
)
def test_it_refuses_wrong_credentials(client, guarded, headers) -> None:
    response = post(client, guarded, "8x8_delivered.json", headers=headers)

    assert response.status_code == 401
    assert SentTest.objects.get().delivery_state == ""


@pytest.mark.parametrize("credentials", ["ops:secret1", "ops:secret2"])
def test_it_accepts_either_listed_credential(client, guarded, credentials) -> None:
    response = post(client, guarded, "8x8_delivered.json", headers=basic(credentials))

    assert response.status_code == 200
    assert SentTest.objects.get().delivery_state == "delivered"


def test_credentials_saved_in_the_admin_apply_to_the_next_callback(
    client, provider
) -> None:
    accepted_test_send(provider, LIFECYCLE_ID)
    post(client, provider, "8x8_delivered.json")  # the provider is now remembered

    provider.dlr_credentials = "ops:secret1"
    provider.save()

    assert post(client, provider, "8x8_delivered.json").status_code == 401


@pytest.mark.parametrize(("seconds", "answer"), [(3600, 200), (0, 401)])
def test_a_change_saved_by_another_process_applies_within_the_cache_time(
    client, provider, settings, seconds, answer
) -> None:
    settings.DLR_PROVIDER_CACHE_SECONDS = seconds
    accepted_test_send(provider, LIFECYCLE_ID)
    post(client, provider, "8x8_delivered.json")

    # As another web process would save it: this process hears nothing of it.
    Provider.objects.filter(pk=provider.pk).update(dlr_credentials="ops:secret1")

    assert post(client, provider, "8x8_delivered.json").status_code == answer


def test_it_accepts_a_password_containing_a_colon(client, provider) -> None:
    provider.dlr_credentials = "ops:pa:ss"
    provider.save()

    response = post(client, provider, "8x8_delivered.json", headers=basic("ops:pa:ss"))

    assert response.status_code == 200


# --- input no provider should send, answered without breaking anything ------------


@pytest.fixture
def delivered(client, provider) -> SentTest:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    assert accepted(post(client, provider, "8x8_delivered.json")) == 1
    test.refresh_from_db()
    return test


def assert_nothing_lost(delivered: SentTest) -> None:
    before = (delivered.delivery_state, delivered.delivery_reported_at)
    delivered.refresh_from_db()
    assert (delivered.delivery_state, delivered.delivery_reported_at) == before
    assert DeliveryReport.objects.filter(response_status=200).count() == 1


def refused_and_logged(response, status: int = 400) -> DeliveryReport:
    """The answer names the problem, and the log keeps the callback with it."""
    assert response.status_code == status
    stored = report()
    assert stored.response_status == status
    assert stored.result == response.json()["error"]
    return stored


@pytest.mark.parametrize(
    "body",
    [b"[" * 240_000, b"[" * 33 + b"]" * 33, b'{"a":' * 33 + b"1" + b"}" * 33],
    ids=["240-kb-unclosed", "33-arrays", "33-objects"],
)
def test_json_nested_past_the_depth_limit_is_refused_400_and_logged(
    client, admin_client, provider, delivered, settings, body
) -> None:
    response = callback(
        client,
        "post",
        url(provider.callback_token),
        body,
        content_type="application/json",
    )

    stored = refused_and_logged(response)
    assert "nests more than 32 levels" in stored.result
    assert stored.body == body[: settings.DLR_STORED_BODY_CHARS].decode()
    page = admin_client.get(reverse("admin:campaigns_deliveryreport_changelist"))
    assert "nests more than 32 levels" in page.content.decode()
    assert_nothing_lost(delivered)


def test_the_depth_limit_is_a_setting(client, provider, settings) -> None:
    settings.DLR_MAX_JSON_DEPTH = 3
    payload = loaded("8x8_delivered.json")  # objects three deep

    assert accepted(post_json(client, provider.callback_token, payload)) == 1
    payload["payload"]["status"]["extra"] = {"deeper": 1}
    response = post_json(client, provider.callback_token, payload)

    assert "nests more than 3 levels" in refused_and_logged(response).result


def test_the_size_limit_is_a_setting(client, provider, settings) -> None:
    settings.DLR_MAX_BODY_BYTES = 100

    response = post(client, provider, "8x8_delivered.json")

    stored = refused_and_logged(response, status=413)
    assert stored.result == "The body is larger than 100 bytes."


def test_a_body_over_djangos_upload_limit_is_refused_413_and_logged_capped(
    client, provider, delivered, settings
) -> None:
    body = b"[" + b"1," * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2) + b"1]"

    response = callback(
        client,
        "post",
        url(provider.callback_token),
        body,
        content_type="application/json",
    )

    stored = refused_and_logged(response, status=413)
    assert stored.body == body[: settings.DLR_STORED_BODY_CHARS].decode()
    assert_nothing_lost(delivered)


@pytest.mark.parametrize(
    "timestamp",
    [
        1e20,
        -1,
        float("nan"),
        float("inf"),
        10**30,
        "1e20",
        "NaN",
        "-Infinity",
        True,
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        {"at": 1},
    ],
)
def test_an_8x8_receipt_with_an_unusable_timestamp_is_applied_without_a_time(
    client, provider, timestamp
) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    payload = loaded("8x8_delivered.json")
    payload["payload"]["status"]["timestamp"] = timestamp

    response = post_json(client, provider.callback_token, payload)

    test.refresh_from_db()
    assert accepted(response) == 1
    assert (test.delivery_state, test.delivery_reported_at) == ("delivered", None)


def test_a_form_post_with_too_many_fields_is_refused_400_and_logged(
    client, provider, settings
) -> None:
    use_mapping(provider, **TWILIO_MAPPING)
    fields = "&".join(
        f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)
    )

    response = callback(
        client, "post", url(provider.callback_token), fields, content_type=FORM
    )

    stored = refused_and_logged(response)
    assert "more than 1,000 fields" in stored.result
    assert stored.body == fields[: settings.DLR_STORED_BODY_CHARS]


def test_a_get_with_too_many_parameters_is_refused_400_and_logged(
    client, provider, settings
) -> None:
    use_mapping(provider, **KANNEL_MAPPING)
    query = {f"f{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}

    response = callback(client, "get", url(provider.callback_token), query)

    assert "more than 1,000 fields" in refused_and_logged(response).result


def test_a_multipart_post_without_a_boundary_is_refused_400_and_logged(
    client, provider
) -> None:
    response = callback(
        client,
        "post",
        url(provider.callback_token),
        b"id=1",
        content_type="multipart/form-data",
    )

    assert "boundary" in refused_and_logged(response).result


def test_json_that_is_not_utf8_is_refused_400_and_logged(client, provider) -> None:
    body = b'{"id": "\xff\xfe"}'

    response = callback(
        client,
        "post",
        url(provider.callback_token),
        body,
        content_type="application/json",
    )

    stored = refused_and_logged(response)
    assert stored.result.startswith("The body is not valid JSON")
    assert stored.body == '{"id": "\ufffd\ufffd"}'


def test_a_nul_in_a_receipts_ids_is_dropped_and_the_receipt_applied(
    client, provider
) -> None:
    test = accepted_test_send(provider, LIFECYCLE_ID)
    payload = loaded("8x8_delivered.json")
    payload["payload"]["clientMessageId"] = LIFECYCLE_ID[:4] + "\x00" + LIFECYCLE_ID[4:]
    payload["payload"]["status"]["detail"] = "delivered\x00"

    response = post_json(client, provider.callback_token, payload)

    test.refresh_from_db()
    assert accepted(response) == 1
    assert test.delivery_state == "delivered"


def test_a_nul_in_a_refused_callback_is_logged_as_a_replacement_character(
    client, provider
) -> None:
    use_mapping(provider, **TWILIO_MAPPING)

    response = callback(
        client,
        "post",
        url(provider.callback_token),
        b"Message\x00Sid=",
        content_type=FORM,
    )

    stored = refused_and_logged(response)
    assert stored.body == "Message\ufffdSid="


def test_a_nul_quoted_in_the_reason_is_logged_as_a_replacement_character(
    client, provider
) -> None:
    groups = [{"event": "deli\x00vered", "data": [{"ts": 1}]}]

    response = post_json(client, provider.callback_token, groups)

    assert "deli\ufffdvered" in refused_and_logged(response).result


# --- the log of callbacks ------------------------------------------------------------


def test_it_stores_every_callback_with_what_it_did(client, provider) -> None:
    accepted_test_send(provider, LIFECYCLE_ID)

    post(client, provider, "8x8_delivered.json")

    stored = report()
    assert stored.provider == provider
    assert (stored.method, stored.content_type) == ("POST", "application/json")
    assert stored.body == raw("8x8_delivered.json").decode()
    assert (stored.format, stored.response_status, stored.processed) == ("8x8", 200, 1)
    assert stored.result == "1 applied, 0 unchanged, 0 unmatched, 0 other events"
    assert stored.unmatched_ids == []


def test_an_accepted_callback_is_stored_waiting_as_it_came(client, provider) -> None:
    before = timezone.now()

    response = client.post(
        url(provider.callback_token),
        raw("8x8_delivered.json"),
        content_type="application/json",
    )

    stored = report()
    assert str(stored.receipt) == response.json()["receipt"]
    assert before <= stored.received_at <= timezone.now()
    assert (stored.provider, stored.method, stored.format) == (provider, "POST", "8x8")
    assert stored.body == raw("8x8_delivered.json").decode()
    assert (stored.state, stored.response_status, stored.result) == (
        "waiting",
        200,
        "Waiting",
    )
    assert (stored.processed, stored.unmatched_ids) == (0, [])
    assert [update["state"] for update in stored.updates] == ["delivered"]


# As the answer spelt it; some providers' logs upper-case it.
@pytest.mark.parametrize("spelling", [str, lambda r: str(r).upper()])
def test_support_finds_a_callback_by_the_receipt_it_was_answered_with(
    client, admin_client, provider, spelling
) -> None:
    post(client, provider, "8x8_delivered.json")
    other = report()
    response = post(client, provider, "8x8_delivered.json")
    wanted = report()
    assert str(wanted.receipt) == response.json()["receipt"]

    page = admin_client.get(
        reverse("admin:campaigns_deliveryreport_changelist"),
        {"q": spelling(wanted.receipt)},
    )
    detail = admin_client.get(
        reverse("admin:campaigns_deliveryreport_change", args=[wanted.pk])
    )

    assert list(page.context["cl"].result_list) == [wanted]
    assert other.pk != wanted.pk
    assert str(wanted.receipt) in detail.content.decode()


@pytest.mark.parametrize("term", ["not-a-receipt", "%", "0190"])
def test_searching_the_log_for_anything_else_is_no_error(
    client, admin_client, provider, term
) -> None:
    post(client, provider, "8x8_delivered.json")

    page = admin_client.get(
        reverse("admin:campaigns_deliveryreport_changelist"), {"q": term}
    )

    assert page.status_code == 200


def test_it_stores_a_refused_callback_with_its_reason(client, provider) -> None:
    response = post(client, provider, "msg91_delivered.json")

    stored = report()
    assert (stored.response_status, stored.format, stored.processed) == (400, "", 0)
    assert stored.result == response.json()["error"]
    assert stored.body == raw("msg91_delivered.json").decode()


def test_it_caps_the_stored_body(client, provider, settings) -> None:
    payload = loaded("8x8_delivered.json")
    payload["padding"] = "x" * (settings.DLR_STORED_BODY_CHARS * 2)
    body = json.dumps(payload)

    post_json(client, provider.callback_token, payload)

    stored = report()
    assert stored.response_status == 200
    assert stored.body == body[: settings.DLR_STORED_BODY_CHARS]


def test_it_stores_a_form_post_as_sent(client, provider) -> None:
    use_mapping(provider, **TWILIO_MAPPING)

    post(client, provider, "twilio_delivered.txt")

    stored = report()
    assert (stored.method, stored.content_type) == ("POST", FORM)
    assert stored.body == raw("twilio_delivered.txt").decode()
    assert stored.unmatched_ids == [TWILIO_DELIVERED_SID]


# --- setting it up in the admin ------------------------------------------------------


def preset_data(slug: str, **fields: Any) -> QueryDict:
    """A preset's setup screen filled in as a user would, pointed at 8.8.8.8."""
    preset = presets.BY_SLUG[slug]
    initial = preset.initial()
    initial["endpoint"] = initial["endpoint"].replace(
        "https://sms.8x8.com", "https://8.8.8.8"
    )
    for row in initial["variables"]:
        row["value"] = {"subAccountId": "acme_sub", "apiKey": "key-1234567890"}[
            row["name"]
        ]
    initial.update(
        nickname="8x8 via CleverTap",
        sender_name="8x8",
        sender_id="ACME",
        sender_type="transactional",
        is_default=True,
        is_active=True,
        **fields,
    )
    return form_data(initial)


def as_post(data: QueryDict, **extra: str) -> dict[str, list[str]]:
    return {**dict(data.lists()), **{k: [v] for k, v in extra.items()}}


def propose(admin_client, sample: str) -> dict[str, Any]:
    response = admin_client.post(PROPOSE_URL, {"sample": sample})
    assert response.status_code == 200
    return response.json()


def test_it_proposes_a_mapping_for_msg91s_sample(admin_client) -> None:
    answer = propose(admin_client, raw("msg91_delivered.json").decode())

    mapping = answer.pop("mapping")
    assert answer == {
        "ok": True,
        "format": "mapped",
        "sample_status": "DELIVRD",
        "sample_state": "delivered",
    }
    values = mapping.pop("dlr_status_values").splitlines()
    assert mapping == {
        "dlr_id_path": "moengageMsgId",
        "dlr_provider_id_path": "",
        "dlr_status_path": "status",
        "dlr_error_code_path": "",
        "dlr_description_path": "desc",
        "dlr_timestamp_path": "",
    }
    assert {"delivrd = delivered", "failed = failed"} <= set(values)


def test_it_proposes_a_mapping_for_a_form_sample(admin_client) -> None:
    answer = propose(admin_client, raw("twilio_undelivered.txt").decode())

    assert answer["mapping"]["dlr_provider_id_path"] == "MessageSid"
    assert answer["mapping"]["dlr_status_path"] == "MessageStatus"
    assert (answer["sample_status"], answer["sample_state"]) == (
        "undelivered",
        "failed",
    )


def test_it_proposes_a_mapping_for_a_query_string_sample(admin_client) -> None:
    answer = propose(admin_client, "?" + raw("kannel_delivered.txt").decode())

    assert answer["mapping"]["dlr_id_path"] == "id"
    assert answer["mapping"]["dlr_status_path"] == "stat"
    assert answer["sample_state"] == "delivered"


@pytest.mark.parametrize(
    ("name", "kind", "correlates_on"),
    [
        ("8x8_undelivered.json", "8x8", "umid"),
        ("clevertap_mixed.json", "clevertap", "meta"),
    ],
)
def test_it_says_8x8_and_clevertap_need_no_mapping(
    admin_client, name, kind, correlates_on
) -> None:
    answer = propose(admin_client, raw(name).decode())

    assert {k: answer[k] for k in ("ok", "format", "mapping")} == {
        "ok": True,
        "format": kind,
        "mapping": None,
    }
    assert correlates_on in answer["note"]  # which field finds the message


def test_it_asks_for_a_sample_when_none_is_pasted(admin_client) -> None:
    answer = propose(admin_client, "   ")

    assert answer == {"ok": False, "error": "Paste a sample callback first."}


def test_a_sample_nested_past_the_depth_limit_gets_an_error(admin_client) -> None:
    answer = propose(admin_client, "[" * 100_000 + "]" * 100_000)

    assert answer == {
        "ok": False,
        "error": "The sample is refused: The JSON nests more than 32 levels of "
        "arrays and objects; flatten it.",
    }


@pytest.mark.parametrize(
    "garbage",
    [
        "not a callback at all",
        raw("8x8_delivered.json")[:120].decode(),
    ],
    ids=["prose", "truncated-json"],
)
def test_it_gives_an_error_for_garbage(admin_client, garbage) -> None:
    answer = propose(admin_client, garbage)

    assert answer["ok"] is False
    assert answer["error"]


def test_it_only_proposes_on_post(admin_client) -> None:
    assert admin_client.get(PROPOSE_URL).status_code == 405


def test_it_rotates_callback_urls_from_the_changelist(admin_client, provider) -> None:
    old = provider.callback_token
    accepted_test_send(provider, LIFECYCLE_ID)

    response = admin_client.post(
        CHANGELIST_URL,
        {"action": "rotate_callback_urls", "_selected_action": [provider.pk]},
    )

    provider.refresh_from_db()
    assert response.status_code == 302
    assert provider.callback_token not in ("", old)
    assert provider.previous_callback_token == old
    assert provider.previous_token_valid_until > timezone.now() + timedelta(hours=23)
    for token in (old, provider.callback_token):
        answered = admin_client.post(
            url(token), raw("8x8_queued.json"), content_type="application/json"
        )
        assert answered.status_code == 200


@pytest.mark.parametrize(
    "line", ["DELIVRD delivered", "DELIVRD = arrived", " = delivered"]
)
def test_the_form_rejects_a_bad_status_values_line(db, line) -> None:
    form = FORMS["clevertap"](
        preset_data("8x8-clevertap", dlr_status_values=f"ACCEPTD = sent\n{line}"),
        instance=Provider(),
    )

    assert not form.is_valid()
    (error,) = form.errors.as_data()["dlr_status_values"]
    assert error.code == "invalid_status_value"
    assert "Line 2" in error.messages[0]


def test_the_form_reads_status_values_lines(db) -> None:
    form = FORMS["clevertap"](
        preset_data(
            "8x8-clevertap", dlr_status_values="DELIVRD = Delivered\n\nUNDELIV = failed"
        ),
        instance=Provider(),
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["dlr_status_values"] == {
        "DELIVRD": "delivered",
        "UNDELIV": "failed",
    }


@pytest.mark.parametrize("line", ["ops-secret1", "ops:", ":secret1"])
def test_the_form_rejects_a_bad_credentials_line(db, line) -> None:
    form = FORMS["clevertap"](
        preset_data("8x8-clevertap", dlr_credentials=f"ops:secret1\n{line}"),
        instance=Provider(),
    )

    assert not form.is_valid()
    (error,) = form.errors.as_data()["dlr_credentials"]
    assert error.code == "invalid_credentials"


@pytest.fixture
def guarded_by_form(db) -> Provider:
    form = FORMS["clevertap"](
        preset_data("8x8-clevertap", dlr_credentials="ops:secret1\nops:secret2"),
        instance=Provider(),
    )
    assert form.is_valid(), form.errors
    return form.save()


def test_the_form_keeps_stored_credentials_when_left_blank(guarded_by_form) -> None:
    form = FORMS["clevertap"](
        preset_data("8x8-clevertap", dlr_credentials=""), instance=guarded_by_form
    )

    assert form.is_valid(), form.errors
    form.save()
    guarded_by_form.refresh_from_db()
    assert guarded_by_form.dlr_credentials == "ops:secret1\nops:secret2"


def test_the_form_removes_credentials_given_a_dash(guarded_by_form) -> None:
    form = FORMS["clevertap"](
        preset_data("8x8-clevertap", dlr_credentials="-"), instance=guarded_by_form
    )

    assert form.is_valid(), form.errors
    form.save()
    guarded_by_form.refresh_from_db()
    assert guarded_by_form.dlr_credentials == ""


def change_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_change", args=[provider.pk])


def test_the_change_page_never_renders_credentials_back(
    admin_client, guarded_by_form
) -> None:
    page = admin_client.get(change_url(guarded_by_form)).content.decode()

    assert "secret1" not in page
    assert "secret2" not in page


def test_the_change_page_offers_the_delivery_report_fields(
    admin_client, guarded_by_form
) -> None:
    page = admin_client.get(change_url(guarded_by_form)).content.decode()

    for name in ("dlr_credentials", "dlr_sample", "dlr_status_path"):
        assert f'name="{name}"' in page
    assert "2 credential(s) stored" in page


def test_the_change_page_saves_a_mapping_and_keeps_blank_credentials(
    admin_client, guarded_by_form
) -> None:
    data = preset_data(
        "8x8-clevertap",
        dlr_credentials="",
        dlr_id_path="moengageMsgId",
        dlr_status_path="status",
        dlr_status_values="DELIVRD = delivered",
    )

    response = admin_client.post(
        change_url(guarded_by_form), as_post(data, _save="Save")
    )

    guarded_by_form.refresh_from_db()
    assert response.status_code == 302
    assert guarded_by_form.dlr_credentials == "ops:secret1\nops:secret2"
    assert guarded_by_form.dlr_mapping().usable
    assert guarded_by_form.dlr_status_values == {"DELIVRD": "delivered"}


# --- end to end: the sandbox posts its reports over real HTTP ------------------------


# The live server starts (and WhiteNoise looks for STATIC_ROOT) before any test's
# settings apply; its warning about the missing directory is not this test's.
live_static_warning = pytest.mark.filterwarnings("ignore:No directory at:UserWarning")


@pytest.fixture
def sandbox_provider(transactional_db, live_server, dlr_worker, settings):
    """Providers made from an 8x8 preset through the form, as seed_demo makes them,
    sending to the sandbox on the live server, which posts reports back to it."""
    settings.PUBLIC_BASE_URL = live_server.url

    def make(slug: str) -> Provider:
        preset = presets.BY_SLUG[slug]
        initial = preset.initial()
        initial["endpoint"] = initial["endpoint"].replace(
            "https://sms.8x8.com", f"{live_server.url}/sandbox"
        )
        keys = {"subAccountId": "demo-account", "apiKey": settings.SMS_SANDBOX_API_KEY}
        for row in initial["variables"]:
            row["value"] = keys[row["name"]]
        if preset.screen == "moengage":
            initial["payload"] = initial["payload"].replace(
                '"text": "Moesms_message"',
                '"text": "Moesms_message",\n  "clientMessageId": "$$MessageID",\n'
                '  "dlrCallbackUrl": "{callback_url}"',
            )
        initial.update(
            nickname=f"sandbox {slug}",
            sender_name=f"sandbox {slug}",
            sender_id="smsbridge",
            sender_type="transactional",
            is_default=True,
            is_active=True,
        )
        form = FORMS[preset.screen](form_data(initial), instance=Provider())
        assert form.is_valid(), form.errors
        return form.save()

    yield make
    # Close the kept-alive connections to the live server while it still shares
    # the test database, so its request threads end cleanly.
    transport.session().close()


def delivery_of(test: SentTest, *, within: float = 5.0) -> SentTest:
    """The test send once the provider's report has been applied (or time is up).

    Waiting for it also keeps the live server and the worker off the database
    when the test's flush comes.
    """
    deadline = time.monotonic() + within
    logged = DeliveryReport.objects.filter(
        provider=test.provider, state=DeliveryReport.State.APPLIED
    )
    while not logged.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    test.refresh_from_db()
    return test


@live_static_warning
def test_the_sandbox_reports_8x8_delivery_to_the_callback(sandbox_provider) -> None:
    provider = sandbox_provider("8x8-moengage")

    test = send_test_sms(
        provider=provider, sender=None, to="+6591234567", text="Hello from smsbridge"
    )

    assert test.category == Category.ACCEPTED, test.diagnosis
    delivery_of(test)
    assert test.delivery_state == "delivered"
    assert test.provider_message_id
    assert DeliveryReport.objects.get(provider=provider).format == "8x8"


@live_static_warning
def test_the_sandbox_reports_8x8_failure_with_code_15(sandbox_provider) -> None:
    provider = sandbox_provider("8x8-moengage")

    test = send_test_sms(provider=provider, sender=None, to="+6590000004", text="Hi")

    delivery_of(test)
    assert (
        test.delivery_state,
        test.delivery_error_code,
        test.delivery_description,
    ) == ("failed", "15", "Invalid destination")


@live_static_warning
def test_the_sandbox_reports_clevertap_delivery_to_the_callback(
    sandbox_provider,
) -> None:
    provider = sandbox_provider("8x8-clevertap")

    test = send_test_sms(provider=provider, sender=None, to="+6591234567", text="Hi")

    assert test.category == Category.ACCEPTED, test.diagnosis
    delivery_of(test)
    assert test.delivery_state == "delivered"
    assert DeliveryReport.objects.get(provider=provider).format == "clevertap"


@live_static_warning
def test_the_sandbox_reports_clevertap_failure(sandbox_provider) -> None:
    provider = sandbox_provider("8x8-clevertap")

    test = send_test_sms(provider=provider, sender=None, to="+6590000004", text="Hi")

    delivery_of(test)
    assert (test.delivery_state, test.delivery_error_code) == ("failed", "900")
