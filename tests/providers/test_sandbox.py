"""providers.sandbox.views: the built-in fake 8x8 answers with 8x8's bodies and codes.

The slow magic number (+6590000003) is exercised over real HTTP in
test_send_test_page.py, where the read timeout cuts it short.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

import pytest

from providers.outbound import transport
from providers.sandbox import views as sandbox

from .fake_provider import Reply, running
from .network import connects_recorded, listening

SINGLE = "/sandbox/api/v1/subaccounts/demo-acc/messages"
BATCH = "/sandbox/api/v1/subaccounts/demo-acc/messages/batch"
CLEVERTAP = "/sandbox/api/v1/subaccounts/demo-acc/partners/clevertap/batch"


@pytest.fixture
def post(client, settings):
    def send(path: str, data, *, key: str | None = None, raw: bool = False):
        key = settings.SMS_SANDBOX_API_KEY if key is None else key
        return client.post(
            path,
            data=data if raw else json.dumps(data),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    return send


def message(**fields) -> dict:
    return {
        "source": "ACME",
        "destination": "+6591234567",
        "text": "Hello",
        "clientMessageId": "m-1",
        **fields,
    }


def assert_error(response, status: int, code: int) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "errorId", "timestamp"}
    assert body["code"] == code
    uuid.UUID(body["errorId"])
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    return body


# --- one message ----------------------------------------------------------------------


def test_it_queues_a_valid_message(post) -> None:
    response = post(SINGLE, message())

    assert response.status_code == 200
    body = response.json()
    uuid.UUID(body.pop("umid"))
    assert body == {
        "clientMessageId": "m-1",
        "destination": "6591234567",
        "encoding": "GSM7",
        "status": {
            "code": "QUEUED",
            "description": "SMS is accepted and queued for processing",
        },
    }


def test_it_gives_every_message_its_own_umid(post) -> None:
    first = post(SINGLE, message()).json()["umid"]
    second = post(SINGLE, message()).json()["umid"]

    assert first != second


def test_it_accepts_a_number_without_plus(post) -> None:
    response = post(SINGLE, message(destination="6591234567"))

    assert response.json()["destination"] == "6591234567"


def test_it_reports_ucs2_for_text_outside_gsm(post) -> None:
    response = post(SINGLE, message(text="你好 ✓"))

    assert response.json()["encoding"] == "UCS2"


def test_it_echoes_a_missing_client_message_id_as_null(post) -> None:
    data = message()
    del data["clientMessageId"]

    assert post(SINGLE, data).json()["clientMessageId"] is None


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_it_refuses_a_wrong_api_key_like_8x8(post, key) -> None:
    body = assert_error(post(SINGLE, message(), key=key), 401, 1200)

    assert body["message"] == "Request was not authenticated properly"


def test_it_refuses_a_request_without_authorization(client) -> None:
    response = client.post(
        SINGLE, data=json.dumps(message()), content_type="application/json"
    )

    assert_error(response, 401, 1200)


def test_it_checks_the_key_before_anything_else(post) -> None:
    response = post(
        "/sandbox/api/v1/subaccounts/x/messages", b"not json", key="bad", raw=True
    )

    assert_error(response, 401, 1200)


@pytest.mark.parametrize("destination", ["12345", "+0659123456", "+65 9123 4567"])
def test_it_refuses_a_number_that_is_not_e164(post, destination) -> None:
    body = assert_error(post(SINGLE, message(destination=destination)), 400, 1002)

    assert "E.164" in body["message"]


def test_it_refuses_a_missing_number(post) -> None:
    data = message()
    del data["destination"]

    assert_error(post(SINGLE, data), 400, 3002)


@pytest.mark.parametrize("text", [None, "", 42])
def test_it_refuses_a_missing_text(post, text) -> None:
    data = message(text=text)
    if text is None:
        del data["text"]

    body = assert_error(post(SINGLE, data), 400, 3005)

    assert body["message"] == "Missed Text"


def test_it_refuses_a_source_longer_than_16(post) -> None:
    assert_error(post(SINGLE, message(source="S" * 17)), 400, 3011)


def test_it_answers_200_rejected_for_the_magic_number(post) -> None:
    response = post(SINGLE, message(destination="+6590000001"))

    assert response.status_code == 200
    assert response.json()["status"] == {
        "code": "REJECTED",
        "description": "Destination is blocked",
    }


def test_it_answers_500_for_the_server_error_number(post) -> None:
    body = assert_error(post(SINGLE, message(destination="+6590000002")), 500, 2000)

    assert body["message"] == "Internal server error"


def test_it_queues_the_undelivered_number(post) -> None:
    response = post(SINGLE, message(destination="+6590000004"))

    assert response.json()["status"]["code"] == "QUEUED"


@pytest.mark.parametrize("subaccount", ["ab", "a" * 51, "bad!chars"])
def test_it_refuses_an_illegal_subaccount(post, subaccount) -> None:
    path = f"/sandbox/api/v1/subaccounts/{subaccount}/messages"

    body = assert_error(post(path, message()), 400, 1001)

    assert body["message"] == "Illegal SubAccountId"


@pytest.mark.parametrize(
    ("raw", "explained"),
    [
        (b"not json at all", "the body is not JSON"),
        (b"\xff\xfe\x00", "the body is not JSON"),
        (b"", "the body is not JSON"),
        (b'["a list"]', "expected a JSON object"),
    ],
)
def test_it_refuses_a_body_that_is_not_a_json_object(post, raw, explained) -> None:
    body = assert_error(post(SINGLE, raw, raw=True), 400, 1000)

    assert explained in body["message"]


def test_it_only_answers_post(client, settings) -> None:
    response = client.get(
        SINGLE, headers={"Authorization": f"Bearer {settings.SMS_SANDBOX_API_KEY}"}
    )

    assert response.status_code == 405


# --- batches --------------------------------------------------------------------------


def test_it_counts_a_batch_and_merges_the_template(post) -> None:
    data = {
        "clientBatchId": "b-1",
        "template": {"source": "ACME", "text": "Hello all"},
        "messages": [
            {"destination": "+6591234567", "clientMessageId": "m-1"},
            {"destination": "+6590000001", "clientMessageId": "m-2"},
            {"destination": "+6598765432", "text": "Hi you", "clientMessageId": "m-3"},
        ],
        "includeMessagesInResponse": True,
    }

    response = post(BATCH, data)

    assert response.status_code == 200
    body = response.json()
    uuid.UUID(body["batchId"])
    assert body["clientBatchId"] == "b-1"
    assert (body["acceptedCount"], body["rejectedCount"]) == (2, 1)
    assert [m["clientMessageId"] for m in body["messages"]] == ["m-1", "m-2", "m-3"]
    assert [m["status"]["code"] for m in body["messages"]] == [
        "QUEUED",
        "REJECTED",
        "QUEUED",
    ]


def test_it_leaves_messages_out_of_a_batch_answer_unless_asked(post) -> None:
    data = {"messages": [message()]}

    body = post(BATCH, data).json()

    assert "messages" not in body
    assert (body["acceptedCount"], body["rejectedCount"]) == (1, 0)
    assert body["clientBatchId"] is None


@pytest.mark.parametrize("messages", [[], None, "m-1"])
def test_it_refuses_a_batch_without_messages(post, messages) -> None:
    data = {"messages": messages} if messages is not None else {}

    assert_error(post(BATCH, data), 400, 3012)


def test_it_refuses_a_batch_with_a_non_object_message(post) -> None:
    assert_error(post(BATCH, {"messages": [message(), "oops"]}), 400, 1000)


def test_it_counts_a_record_it_refuses_inside_a_batchs_200(post) -> None:
    data = {
        "messages": [message(), message(destination="123"), message(source="X" * 17)],
        "includeMessagesInResponse": True,
    }

    response = post(BATCH, data)

    assert response.status_code == 200
    body = response.json()
    assert (body["acceptedCount"], body["rejectedCount"]) == (1, 2)
    assert [m["status"]["code"] for m in body["messages"]] == [
        "QUEUED",
        "REJECTED",
        "REJECTED",
    ]
    assert body["messages"][2]["status"]["description"] == "Too long SMS Source"


def test_it_answers_a_clevertap_batch_with_counts_only(post) -> None:
    data = {
        "msgs": [
            {
                "source": "ACME",
                "destination": "+6591234567",
                "text": "Hello",
                "mid": "ct-1",
                "encoding": "Auto",
            },
            {
                "source": "ACME",
                "destination": "+6590000001",
                "text": "Hello",
                "mid": "ct-2",
            },
        ]
    }

    response = post(CLEVERTAP, data)

    assert response.status_code == 200
    body = response.json()
    # Counts only: the partner endpoint does not say which record was refused.
    assert (body["acceptedCount"], body["rejectedCount"]) == (1, 1)
    assert "messages" not in body
    uuid.UUID(body["batchId"])


def test_it_counts_a_guide_placeholder_sender_as_refused_in_a_clevertap_batch(
    post,
) -> None:
    record = {
        "source": "<Your Sender ID or Virtual Number>",
        "destination": "+6591234567",
        "text": "Hello",
        "mid": "ct-1",
    }

    body = post(CLEVERTAP, {"msgs": [record]}).json()

    assert (body["acceptedCount"], body["rejectedCount"]) == (0, 1)


def test_it_refuses_a_clevertap_batch_without_msgs(post) -> None:
    assert_error(post(CLEVERTAP, {"messages": [message()]}), 400, 3012)


def test_it_refuses_a_clevertap_batch_with_a_wrong_key(post) -> None:
    assert_error(post(CLEVERTAP, {"msgs": [message()]}, key="nope"), 401, 1200)


# --- delivery reports it posts --------------------------------------------------------


@pytest.fixture
def private_endpoints(settings):
    def allow(allowed: bool) -> None:
        settings.SMS_ALLOW_PRIVATE_ENDPOINTS = allowed
        transport.session().close()

    yield allow
    transport.session().close()


def test_it_posts_a_delivery_report_to_a_local_callback_when_allowed(
    private_endpoints,
) -> None:
    private_endpoints(True)
    with running(Reply(200, b"OK")) as server:
        sandbox.post_report(f"{server.url}dlr/t-1/", {"event": "delivered"})

    [received] = server.received
    assert (received.method, received.path) == ("POST", "/dlr/t-1/")
    assert json.loads(received.body) == {"event": "delivered"}
    assert received.headers["Content-Type"] == "application/json"


def test_a_delivery_report_post_keeps_the_callback_token_out_of_the_log(
    private_endpoints, caplog
) -> None:
    private_endpoints(False)
    caplog.set_level(logging.INFO)

    sandbox.post_report("http://127.0.0.1:9/dlr/cb-token-canary/", {"a": 1})

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "could not post a delivery report" in logged
    assert "cb-token-canary" not in logged


def test_it_never_posts_a_delivery_report_to_a_refused_address(
    private_endpoints, caplog
) -> None:
    private_endpoints(False)
    with listening() as listener, connects_recorded() as attempts:
        sandbox.post_report(f"http://127.0.0.1:{listener.port}/dlr/", {"a": 1})
        accepted = listener.accepted()

    assert attempts == []
    assert accepted == 0
    [warning] = [r for r in caplog.records if r.name == "providers.sandbox.views"]
    assert "127.0.0.1 is a loopback, private or reserved address" in warning.message


def test_a_callback_url_that_is_not_a_url_is_logged_not_raised(
    private_endpoints, caplog
) -> None:
    private_endpoints(False)

    sandbox.post_report({"not": "a url"}, {"a": 1})

    [warning] = [r for r in caplog.records if r.name == "providers.sandbox.views"]
    assert "could not post a delivery report" in warning.message
