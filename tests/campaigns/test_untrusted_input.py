"""Whatever arrives at the event API is answered with a 4xx or a success, never
a server error (the callback URL's half is in tests/campaigns/dlr/)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.models import ApiToken

from .untrusted_bodies import BODIES, CONTENT_TYPES, DOCUMENTS, FUZZ


@pytest.fixture
def token(db) -> str:
    api_token = ApiToken(name="fuzz")
    plain = api_token.issue()
    api_token.save()
    return plain


EVENTS = st.one_of(
    BODIES,
    st.fixed_dictionaries(
        {"event": DOCUMENTS, "to": DOCUMENTS, "properties": DOCUMENTS},
        optional={"country": DOCUMENTS},
    ).map(lambda d: json.dumps(d).encode()),
)


@FUZZ
@given(body=EVENTS, content_type=st.sampled_from(CONTENT_TYPES))
def test_no_event_gets_a_server_error(
    client, token, body: bytes, content_type: str
) -> None:
    response = client.post(
        "/api/v1/events",
        body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code in (400, 404, 409, 413, 422)
    answer: Any = response.json()
    assert answer["error"]
