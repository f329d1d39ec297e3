"""From a provider (saved, or still in a form) to the plain RequestSpec that
rendering works on, and the secrets that must be masked wherever it is shown."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..rows import RowValue
from .rendering import (
    CustomPlaceholders,
    HttpRequest,
    Message,
    RequestSpec,
    TemplateError,
    compile_request,
)

if TYPE_CHECKING:
    from ..models import Provider, Sender

# Headers whose value is a credential, whether or not its row is marked secret.
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})


class SampleValues(dict):
    """Custom placeholders' values in previews and save-time checks, where no
    campaign gives them: "sample-<name>"."""

    def __missing__(self, name: str) -> str:
        return f"sample-{name}"


# A recipient and text for previews and save-time checks.
SAMPLE_MESSAGE = Message(
    to="+6591234567",
    body="This is a test message powered by smsbridge",
    message_id="sample-message-id",
    campaign_id="sample-campaign",
    template_id="sample-template-id",
    template_variables='["sample"]',
    extra=SampleValues(),
)


def request_spec(provider: Provider, *, sender: Sender | None = None) -> RequestSpec:
    """The request spec of a saved provider, sending as `sender` (its first
    sender when None)."""
    sender = sender or provider.primary_sender
    return build_request_spec(
        provider,
        headers=provider.rows("headers"),
        url_parameters=provider.rows("url_parameters"),
        variables=provider.rows("variables"),
        sender_id=sender.sender_id if sender else "",
    )


def custom_placeholders(
    provider: Provider, *, sender: Sender | None = None
) -> CustomPlaceholders:
    """The custom $$names a saved provider's request needs; none while its
    configuration does not compile (sending says why)."""
    try:
        return compile_request(
            request_spec(provider, sender=sender)
        ).custom_placeholders()
    except TemplateError:
        return CustomPlaceholders()


def saved_secrets(provider: Provider) -> list[str]:
    """Every secret a saved provider holds, for masking and redaction."""
    kinds = ("variables", "headers", "url_parameters")
    return secrets_of(provider, [row for kind in kinds for row in provider.rows(kind)])


def build_request_spec(
    provider: Provider,
    *,
    headers: Iterable[RowValue],
    url_parameters: Iterable[RowValue],
    variables: Iterable[RowValue],
    sender_id: str,
) -> RequestSpec:
    names = {row.name: row.value for row in variables}
    names.update(sender_id=sender_id, callback_url=provider.callback_url)
    post = provider.method == "POST"
    basic = provider.authentication == "basic"
    return RequestSpec(
        method=provider.method,
        endpoint=provider.endpoint,
        body_type=provider.body_type,
        payload=provider.payload if post else "",
        url_parameters=tuple((r.name, r.value) for r in url_parameters),
        headers=with_content_type(
            headers, json_body=post and provider.body_type == "json"
        ),
        variables=names,
        batch_key=provider.batch_key if (post and provider.batch_enabled) else "",
        number_format=provider.number_format,
        basic_auth=(provider.basic_username, provider.basic_password)
        if basic
        else None,
    )


def with_content_type(
    headers: Iterable[RowValue], *, json_body: bool
) -> tuple[tuple[str, str], ...]:
    """The headers, plus the JSON Content-Type a JSON body needs if none is set.

    Guides list it as a header to add, and providers answer 415 without it.
    """
    pairs = tuple((r.name, r.value) for r in headers)
    if json_body and not any(name.lower() == "content-type" for name, _ in pairs):
        pairs += (("Content-Type", "application/json"),)
    return pairs


def secrets_of(provider: Provider, rows: Iterable[RowValue]) -> list[str]:
    """Every secret value a provider's requests can carry."""
    found = [row.value for row in rows if row.secret and row.value]
    if provider.authentication == "basic" and provider.basic_password:
        found.append(provider.basic_password)
    if provider.authentication == "oauth" and provider.oauth_client_secret:
        found.append(provider.oauth_client_secret)
    return found


def wire_secrets(request: HttpRequest, secrets: list[str]) -> list[str]:
    """Add the secrets that only exist once rendered: an Authorization header as
    sent, such as Basic's base64 of the username and password."""
    sent = [value for name, value in request.headers if name.lower() in AUTH_HEADERS]
    return secrets + sent
