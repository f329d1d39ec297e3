"""The OpenAPI document at /api/v1/openapi.json is valid, and every answer the
API really gives, for every documented status, matches it."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_spec_validator import validate

from campaigns.models import ApiToken, Message

from . import test_event_api as event_api
from .conftest import EVENTS

OTP = event_api.OTP
wire, provider, sender, campaign = (
    event_api.wire,
    event_api.provider,
    event_api.sender,
    event_api.campaign,
)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def served_here(settings) -> None:
    # The document names its server; the test client's host is testserver.
    settings.PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def contract(client) -> OpenAPI:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # a valid OpenAPI 3.1 document
    return OpenAPI.from_dict(document)


def checked(contract: OpenAPI, response) -> None:
    """The real answer matches the document for its request."""
    contract.validate_response(
        DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
    )


def test_the_document_is_public_and_names_every_route(client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {"/api/v1/events", "/api/v1/messages/{message_id}"}


def test_every_documented_answer_of_the_event_api_is_real_and_matches(
    client, contract, post, token, provider, campaign, wire
) -> None:
    seen: set[tuple[str, str]] = set()

    def call(response, expected: int):
        assert response.status_code == expected, response.content
        checked(contract, response)
        path = response.wsgi_request.path
        route = "/api/v1/events" if path == EVENTS else "/api/v1/messages/{message_id}"
        seen.add((route, str(expected)))
        return response

    auth = {"Authorization": f"Bearer {token}"}
    queued = call(post(OTP), 202)
    replayed = call(post(OTP, headers={"Idempotency-Key": "k1"}), 202)
    call(post(OTP, headers={"Idempotency-Key": "k1"}), 202)
    call(post({**OTP, "to": "+6591234568"}, headers={"Idempotency-Key": "k1"}), 409)
    call(post(None, raw=b"{not json"), 400)
    call(post(OTP, auth="Bearer sb_wrong"), 401)
    call(post({**OTP, "event": "unknown"}), 404)
    call(post({**OTP, "to": "12"}), 422)
    call(post(None, raw=b'{"event": "' + b"x" * 70_000 + b'"}'), 413)
    message_id = queued.json()["messages"][0]["id"]
    call(client.get(f"/api/v1/messages/{message_id}", headers=auth), 200)
    call(client.get("/api/v1/messages/nope", headers=auth), 404)
    call(client.get(f"/api/v1/messages/{message_id}"), 401)
    provider.is_active = False  # the campaign cannot send any more
    provider.save()
    call(post({**OTP, "to": "+6591234569"}), 409)
    ApiToken.objects.update(can_send=False, can_read=False)
    call(post(OTP), 403)
    call(client.get(f"/api/v1/messages/{message_id}", headers=auth), 403)

    document = client.get("/api/v1/openapi.json").json()
    documented = {
        (path, status)
        for path, methods in document["paths"].items()
        for operation in methods.values()
        for status in operation["responses"]
    }
    # Every answer the document promises was given for real above.
    assert documented == seen
    assert Message.objects.count() == 2
    assert replayed.json()["messages"][0]["status"] in {"queued", "sent"}


def test_an_answer_that_left_the_contract_would_be_caught(contract, client) -> None:
    # The check itself can fail: a 202 without its "messages" does not match.
    from django.http import JsonResponse
    from django.test import RequestFactory

    request = RequestFactory().post(
        EVENTS, data=json.dumps(OTP), content_type="application/json"
    )
    wrong = JsonResponse({"queued": 1}, status=202)
    with pytest.raises(Exception, match="messages|Response"):
        contract.validate_response(
            DjangoOpenAPIRequest(request), DjangoOpenAPIResponse(wrong)
        )


def test_the_docs_page_serves_swagger_ui_from_the_apps_own_files(client) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-document="/api/v1/openapi.json"' in html
    for name in (
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "api/docs.js",
    ):
        assert f"/static/{name}" in html
        assert finders.find(name), name
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in html  # nothing inline for the policy to refuse
