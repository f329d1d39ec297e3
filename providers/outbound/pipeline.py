"""The one outbound pipeline: a provider and a sender, messages in, one outcome
per message out.

Send Test SMS, campaigns and event-triggered sends all go through it, so a
provider's answer is read the same way everywhere: the request is compiled
once, rendered per message or per batch, sent by transport (with an OAuth
provider's bearer token, oauth.py), and its answer read record by record
(outcomes.read_records).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from ..models import Provider, Sender
from . import oauth, transport
from .outcomes import Category, Outcome, read_records
from .redaction import redact_request, redact_text
from .rendering import HttpRequest, Message, TemplateError, compile_request
from .spec import request_spec, saved_secrets, wire_secrets

__all__ = ["Category", "Message", "Outbound", "Outcome", "TemplateError"]


class Outbound:
    """A provider ready to send as one sender.

    Raises TemplateError when the provider's saved configuration no longer
    compiles, so nothing half-rendered ever leaves.
    """

    def __init__(self, provider: Provider, sender: Sender | None) -> None:
        self.provider = provider
        self.compiled = compile_request(request_spec(provider, sender=sender))
        self.rules = provider.response_rules()
        self.secrets = saved_secrets(provider)
        self.credentials = provider.client_credentials()  # None unless OAuth
        self.batch_size = provider.batch_size if provider.batch_enabled else 1

    def batches(self, messages: Sequence[Message]) -> Iterator[Sequence[Message]]:
        """The messages grouped as requests will carry them."""
        for start in range(0, len(messages), self.batch_size):
            yield messages[start : start + self.batch_size]

    def render(self, messages: Sequence[Message]) -> HttpRequest:
        return self.compiled.render(messages)

    def shown(self, request: HttpRequest) -> HttpRequest:
        """The request with every secret masked, to store or display."""
        shown = redact_request(request, wire_secrets(request, self.secrets))
        return oauth.with_bearer(shown, oauth.MASKED) if self.credentials else shown

    def send(
        self, messages: Sequence[Message], *, request: HttpRequest | None = None
    ) -> list[Outcome]:
        """Send one request carrying these messages; an outcome for each, in order."""
        try:
            request = request or self.render(messages)
        except TemplateError as err:
            # A value that cannot go on the wire fails these messages for good;
            # sending it again would meet the same refusal.
            return [Outcome.failure(Category.INVALID, err.message)] * len(messages)
        try:
            answer, secrets = self.transmit(request)
        except oauth.TokenFailure as failure:
            return [failure.outcome] * len(messages)
        found = read_records(
            answer, rules=self.rules, message_ids=[m.message_id for m in messages]
        )
        if all(outcome is answer for outcome in found):
            return found  # already redacted by transport
        # Reasons read from the answer may quote a secret the provider echoed.
        return [redacted(outcome, secrets) for outcome in found]

    def transmit(self, request: HttpRequest) -> tuple[Outcome, list[str]]:
        """The provider's answer, and the secrets the request carried."""
        if self.credentials is None:
            secrets = wire_secrets(request, self.secrets)
            return transport.send(request, rules=self.rules, secrets=secrets), secrets
        token = oauth.access_token(self.credentials)
        answer, secrets = self.send_bearing(request, token)
        if answer.status_code == 401:
            # Revoked or expired early: one new token and one more try, which
            # cannot send twice (a 401 delivered nothing) nor loop.
            token = oauth.access_token(self.credentials, refused=token)
            answer, secrets = self.send_bearing(request, token)
            answer = oauth.refused_token(answer)
        return answer, secrets

    def send_bearing(
        self, request: HttpRequest, token: str
    ) -> tuple[Outcome, list[str]]:
        sent = oauth.with_bearer(request, token)
        secrets = [*wire_secrets(sent, self.secrets), token]
        return transport.send(sent, rules=self.rules, secrets=secrets), secrets


def redacted(outcome: Outcome, secrets: list[str]) -> Outcome:
    diagnosis = redact_text(outcome.diagnosis, secrets)
    if diagnosis == outcome.diagnosis:
        return outcome
    return replace(outcome, diagnosis=diagnosis)
