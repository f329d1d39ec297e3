"""Send Test SMS: one synchronous attempt, never retried, always recorded."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError

from .models import Provider, Sender, TestSend
from .outbound.pipeline import Category, Message, Outbound, Outcome, TemplateError


def send_test_sms(
    *,
    provider: Provider,
    sender: Sender | None,
    to: str,
    text: str,
    user=None,
    placeholders: Mapping[str, str] | None = None,
) -> TestSend:
    test = TestSend(
        provider=provider,
        sender=sender or provider.primary_sender,
        created_by=user,
        to=to,
        message=text,
        message_id=uuid.uuid4().hex,
    )
    # Saved before sending: a fast provider's delivery report must find it.
    test.record_outcome(Outcome.failure(Category.PENDING, "Sending…"))
    test.save()
    # Kept on the instance for the caller (a route test reads its refusal
    # codes); what is stored is the TestSend's own fields.
    test.outcome = attempt(test, placeholders or {})
    test.record_outcome(test.outcome)
    test.save()
    return test


def attempt(test: TestSend, placeholders: Mapping[str, str]) -> Outcome:
    provider = test.provider
    if not provider.is_active:
        return Outcome.failure(
            Category.INVALID,
            f"{provider.nickname} is archived (inactive); nothing was sent.",
        )
    try:
        outbound = Outbound(provider, test.sender)
    except TemplateError as err:
        return Outcome.failure(
            Category.INVALID, f"The provider's configuration is invalid: {err.message}"
        )
    message = Message(
        to=test.to,
        body=test.message,
        message_id=test.message_id,
        template_id=placeholders.get("TemplateID", ""),
        template_variables=placeholders.get("TemplateVariables", ""),
        extra=placeholders,
    )
    try:
        request = outbound.render([message])
    except TemplateError as err:
        return Outcome.failure(Category.INVALID, f"Not sent: {err.message}")
    test.record_request(outbound.shown(request))
    (outcome,) = outbound.send([message], request=request)
    return outcome


def record_invalid_input(
    *, provider: Provider, to: str, text: str, error: ValidationError, user=None
) -> TestSend:
    """Keep a refused attempt too, so support can see what was tried."""
    reasons = " ".join(error.messages)
    test = TestSend(
        provider=provider,
        created_by=user,
        to=to[:40],
        message=text,
        message_id=uuid.uuid4().hex,
    )
    test.record_outcome(Outcome.failure(Category.INVALID, f"Not sent: {reasons}"))
    test.save()
    return test
