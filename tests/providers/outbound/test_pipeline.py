"""providers.outbound.pipeline: a request that cannot be rendered fails its messages for
good and never reaches the wire."""

from __future__ import annotations

import pytest
import responses

from providers.outbound.outcomes import Category
from providers.outbound.pipeline import Message, Outbound

from ..fake_provider import sandbox_provider

pytestmark = pytest.mark.django_db


def test_a_body_with_a_line_break_in_a_header_fails_every_message_unsent() -> None:
    provider = sandbox_provider("https://sms.example.com")
    provider.headers.create(name="X-Text", value="$$Body", position=9)
    outbound = Outbound(provider, provider.primary_sender)

    with responses.RequestsMock() as wire:
        outcomes = outbound.send(
            [Message(to="+6591234567", body="Hi\nX-Injected: 1", message_id="m-1")]
        )

        assert len(wire.calls) == 0
    [outcome] = outcomes
    assert outcome.category == Category.INVALID
    assert not outcome.transient
    assert "X-Text would contain a line break (CR/LF)" in outcome.diagnosis
