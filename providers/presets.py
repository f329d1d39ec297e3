"""Ready-made configurations for widely used providers.

Each preset pre-fills a setup screen so that only credentials and the sender ID
remain. Request shapes follow each provider's public API documentation; the two
8x8 presets follow 8x8's own CleverTap and MoEngage setup guides.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Row:
    name: str
    value: str = ""
    secret: bool = False
    hint: str = ""

    def as_initial(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "secret": self.secret,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class SenderIdRules:
    """What a provider documents about the sender ID (8x8's `source`)."""

    max_length: int = 0  # 0: no documented limit
    alphanumeric_max_length: int = 0  # names (not numbers) are often shorter

    def problems(self, sender_id: str, *, provider: str) -> list[str]:
        """Why the provider would refuse this sender ID, in words for the admin."""
        found = []
        if self.max_length and len(sender_id) > self.max_length:
            found.append(
                f"{provider} accepts sender IDs of at most {self.max_length} "
                f"characters; this one has {len(sender_id)}."
            )
        alphanumeric = any(c.isalpha() for c in sender_id)
        limit = self.alphanumeric_max_length
        if alphanumeric and limit:
            if len(sender_id) > limit:
                found.append(
                    f"An alphanumeric sender ID may have at most {limit} characters "
                    f"at {provider} (numbers may have up to {self.max_length})."
                )
            if not re.fullmatch(r"[A-Za-z0-9 ]+", sender_id):
                found.append(
                    f"An alphanumeric sender ID at {provider} may use only letters, "
                    "digits and spaces."
                )
        return found


@dataclass(frozen=True)
class Preset:
    slug: str
    name: str
    screen: str
    endpoint: str
    summary: str
    method: str = "POST"
    body_type: str = "json"
    payload: Any = None
    headers: tuple[Row, ...] = ()
    url_parameters: tuple[Row, ...] = ()
    variables: tuple[Row, ...] = ()
    authentication: str = "none"
    basic_username: str = ""
    batch_key: str = ""
    batch_size: int = 1000
    number_format: str = "e164"
    message_id_path: str = ""
    response_rule: str = ""
    response_rule_path: str = ""
    response_rule_values: str = ""
    # For answers about a whole batch: where the count of accepted records is,
    # and where each record echoes our message id (so records match by id).
    accepted_count_path: str = ""
    record_id_path: str = ""
    # Refusal codes that are the provider's own trouble, not the message's:
    # on a route, such a message moves to the next provider.
    fallback_codes: str = ""
    sender_hint: str = "The sender ID or number registered with the provider."
    sender_rules: SenderIdRules = SenderIdRules()
    # The provider behind the preset, as users name it ("8x8"), and other hosts
    # of the same API (regional endpoints).
    provider_name: str = ""
    other_hosts: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hosts(self) -> tuple[str, ...]:
        return (urlsplit(self.endpoint).hostname or "", *self.other_hosts)

    @property
    def label(self) -> str:
        return self.provider_name or self.name

    def body_fields(self) -> list[str]:
        """The field names the provider's API expects in a message's body."""
        payload = self.payload
        if isinstance(payload, dict) and self.batch_key:
            payload = payload[self.batch_key][0]
        if isinstance(payload, dict):
            return list(payload)
        return [line.partition("=")[0] for line in self.payload_text.splitlines()]

    @property
    def payload_text(self) -> str:
        if self.payload is None:
            return ""
        if isinstance(self.payload, str):
            return self.payload
        return json.dumps(self.payload, indent=2)

    @property
    def nickname(self) -> str:
        """The nickname a new provider starts with: 8x8's own guides suggest
        "8x8 SMS"; other providers go by their name ("Twilio")."""
        if self.provider_name:
            return f"{self.provider_name} SMS"
        return self.name.partition(" (")[0]

    def initial(self) -> dict[str, Any]:
        """Initial data for a setup screen's form."""
        return {
            "preset": self.slug,
            "nickname": self.nickname,
            "method": self.method,
            "endpoint": self.endpoint,
            "authentication": self.authentication,
            "basic_username": self.basic_username,
            "body_type": self.body_type,
            "payload": self.payload_text,
            "batch_enabled": bool(self.batch_key),
            "batch_key": self.batch_key,
            "batch_size": self.batch_size,
            "number_format": self.number_format,
            "message_id_path": self.message_id_path,
            "response_rule": self.response_rule,
            "response_rule_path": self.response_rule_path,
            "response_rule_values": self.response_rule_values,
            "accepted_count_path": self.accepted_count_path,
            "record_id_path": self.record_id_path,
            "fallback_codes": self.fallback_codes,
            "headers": [row.as_initial() for row in self.headers],
            "url_parameters": [row.as_initial() for row in self.url_parameters],
            "variables": [row.as_initial() for row in self.variables],
        }


JSON_CONTENT = Row("Content-Type", "application/json")
EIGHT_BY_EIGHT = {
    "provider_name": "8x8",
    "other_hosts": ("sms.us.8x8.com", "sms.8x8.uk", "sms.8x8.id"),
    # 8x8's `source`: up to 16 characters; names are limited as on most networks.
    "sender_rules": SenderIdRules(max_length=16, alphanumeric_max_length=11),
}
EIGHT_BY_EIGHT_VARIABLES = (
    Row("subAccountId", hint="Subaccount ID, from 8x8 Connect → API Keys"),
    Row("apiKey", secret=True, hint="API Key, from 8x8 Connect → API Keys"),
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        slug="8x8-clevertap",
        name="8x8 via CleverTap (partner batch endpoint)",
        screen="clevertap",
        summary="8x8's CleverTap guide: partner batch endpoint, msgs array, "
        "1,000 records per request, delivery reports to the callback URL.",
        endpoint="https://sms.8x8.com/api/v1/subaccounts/{subAccountId}"
        "/partners/clevertap/batch",
        headers=(Row("Authorization", "Bearer {apiKey}"), JSON_CONTENT),
        variables=EIGHT_BY_EIGHT_VARIABLES,
        payload={
            "msgs": [
                {
                    "source": "{sender_id}",
                    "destination": "$$To",
                    "text": "$$Body",
                    "mid": "$$MessageID",
                    "encoding": "Auto",
                    "partnerCallbackUrl": "{callback_url}",
                }
            ]
        },
        batch_key="msgs",
        # The partner endpoint answers with counts only: {"batchId", "acceptedCount",
        # "rejectedCount"}; a refused record is counted, inside a 200.
        accepted_count_path="acceptedCount",
        sender_hint="Sender ID or virtual number registered in your 8x8 account.",
        **EIGHT_BY_EIGHT,
    ),
    Preset(
        slug="8x8-moengage",
        name="8x8 via MoEngage (messages endpoint)",
        screen="moengage",
        summary="8x8's MoEngage guide: one message per request to the messages "
        "endpoint; 8x8 answers with a umid, or status REJECTED.",
        endpoint="https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages",
        headers=(JSON_CONTENT, Row("Authorization", "Bearer {apiKey}")),
        variables=EIGHT_BY_EIGHT_VARIABLES,
        payload={
            "source": "{sender_id}",
            "destination": "Moesms_destination",
            "text": "Moesms_message",
        },
        message_id_path="umid",
        response_rule="reject_if",
        response_rule_path="status.code",
        response_rule_values="REJECTED",
        sender_hint="Sender ID in your 8x8 account.",
        **EIGHT_BY_EIGHT,
    ),
    Preset(
        slug="twilio",
        name="Twilio (Programmable Messaging)",
        screen="clevertap",
        summary="Form-encoded POST to the Messages resource with Basic "
        "Authentication (Account SID and Auth Token).",
        endpoint="https://api.twilio.com/2010-04-01/Accounts/{accountSid}"
        "/Messages.json",
        authentication="basic",
        basic_username="{accountSid}",
        variables=(Row("accountSid", hint="Account SID, from the Twilio Console"),),
        body_type="form",
        payload="To=$$To\nFrom={sender_id}\nBody=$$Body\nStatusCallback={callback_url}",
        message_id_path="sid",
        # 21408: no permission to send to the region; 21606: the From number is
        # not one of the account's SMS numbers (Twilio's error dictionary).
        fallback_codes="21408, 21606",
        sender_hint="A Twilio phone number in E.164, or a Messaging Service SID.",
    ),
    Preset(
        slug="vonage",
        name="Vonage (SMS API)",
        screen="clevertap",
        summary="JSON POST to the SMS API; Vonage answers 200 with a per-message "
        "status, where 0 means accepted.",
        endpoint="https://rest.nexmo.com/sms/json",
        headers=(JSON_CONTENT,),
        variables=(
            Row("apiKey", hint="API key, from the Vonage dashboard"),
            Row("apiSecret", secret=True, hint="API secret, from the Vonage dashboard"),
        ),
        payload={
            "api_key": "{apiKey}",
            "api_secret": "{apiSecret}",
            "from": "{sender_id}",
            "to": "$$To",
            "text": "$$Body",
            "client-ref": "$$MessageID",
            "callback": "{callback_url}",
        },
        number_format="digits",
        message_id_path="messages.0.message-id",
        response_rule="accept_if",
        response_rule_path="messages.0.status",
        response_rule_values="0",
        # Vonage's SMS API statuses: 1 throttled, 5 internal error, 8 account
        # barred, 9 out of credit, 10 too many binds, 11 account not enabled for
        # HTTP, 15 sender not allowed, 29 destination not whitelisted. Not 7
        # (the number is barred) nor 3 or 6 (the message is wrong).
        fallback_codes="1, 5, 8, 9, 10, 11, 15, 29",
    ),
    Preset(
        slug="infobip",
        name="Infobip (SMS API, advanced)",
        screen="clevertap",
        summary="JSON POST with an App API key; batches messages in the messages "
        "array and reports delivery to notifyUrl.",
        endpoint="https://{baseUrl}/sms/2/text/advanced",
        headers=(
            Row("Authorization", "App {apiKey}"),
            JSON_CONTENT,
            Row("Accept", "application/json"),
        ),
        variables=(
            Row("baseUrl", hint="Your API base URL host, e.g. xxxxx.api.infobip.com"),
            Row("apiKey", secret=True, hint="API key, from the Infobip portal"),
        ),
        payload={
            "messages": [
                {
                    "destinations": [{"to": "$$To", "messageId": "$$MessageID"}],
                    "from": "{sender_id}",
                    "text": "$$Body",
                    "notifyUrl": "{callback_url}",
                    "notifyContentType": "application/json",
                }
            ]
        },
        batch_key="messages",
        number_format="digits",
        message_id_path="messages.0.messageId",
        # Infobip echoes each record's messageId (ours), refused ones included.
        record_id_path="messages.0.messageId",
        response_rule="reject_if",
        response_rule_path="messages.0.status.groupName",
        response_rule_values="REJECTED,UNDELIVERABLE",
    ),
    Preset(
        slug="plivo",
        name="Plivo (Messages API)",
        screen="clevertap",
        summary="JSON POST with Basic Authentication (Auth ID and Auth Token); "
        "Plivo answers 202 with message_uuid.",
        endpoint="https://api.plivo.com/v1/Account/{authId}/Message/",
        authentication="basic",
        basic_username="{authId}",
        headers=(JSON_CONTENT,),
        variables=(Row("authId", hint="Auth ID, from the Plivo console"),),
        payload={
            "src": "{sender_id}",
            "dst": "$$To",
            "text": "$$Body",
            "url": "{callback_url}",
            "method": "POST",
        },
        message_id_path="message_uuid.0",
    ),
    Preset(
        slug="sinch",
        name="Sinch (SMS REST API, batches)",
        screen="clevertap",
        summary="JSON POST to the batches endpoint with a Bearer API token; "
        "delivery reports per recipient to callback_url.",
        endpoint="https://us.sms.api.sinch.com/xms/v1/{servicePlanId}/batches",
        headers=(Row("Authorization", "Bearer {apiToken}"), JSON_CONTENT),
        variables=(
            Row("servicePlanId", hint="Service plan ID, from the Sinch dashboard"),
            Row("apiToken", secret=True, hint="API token, from the Sinch dashboard"),
        ),
        payload={
            "from": "{sender_id}",
            "to": ["$$To"],
            "body": "$$Body",
            "client_reference": "$$MessageID",
            "delivery_report": "per_recipient",
            "callback_url": "{callback_url}",
        },
        message_id_path="id",
    ),
    Preset(
        slug="exotel",
        name="Exotel (India, DLT)",
        screen="clevertap",
        summary="Form-encoded POST to Exotel's Sms/send resource with Basic "
        "Authentication (API key and token); each message names its DLT entity and "
        "template, and its text must follow that template.",
        endpoint="https://api.in.exotel.com/v1/Accounts/{accountSid}/Sms/send.json",
        authentication="basic",
        basic_username="{apiKey}",
        variables=(
            Row("accountSid", hint="Account SID, from Exotel's API settings"),
            Row("apiKey", hint="API key, from Exotel's API settings"),
            Row("dltEntityId", hint="Your DLT entity ID (PE ID)"),
        ),
        body_type="form",
        payload="From={sender_id}\nTo=$$To\nBody=$$Body\nDltEntityId={dltEntityId}\n"
        "DltTemplateId=$$TemplateID\nCustomField=$$MessageID\n"
        "StatusCallback={callback_url}",
        message_id_path="SMSMessage.Sid",
        sender_hint="The DLT-registered sender ID (header) linked to your ExoPhone.",
        provider_name="Exotel",
        other_hosts=("api.exotel.com",),
    ),
)

BY_SLUG = {preset.slug: preset for preset in PRESETS}


def free_nickname(wanted: str, *, taken: set[str]) -> str:
    """`wanted`, or `wanted 2`, `wanted 3`… if taken; `taken` is lower-cased, as
    nicknames are unique whatever their letter case."""
    nickname, number = wanted, 1
    while nickname.lower() in taken:
        number += 1
        nickname = f"{wanted} {number}"
    return nickname


def recognise(endpoint: str) -> Preset | None:
    """The preset whose provider serves this endpoint template, if any.

    Matched on the host; among presets of the same host, the one whose path
    matches (a {variable} segment on either side matches any segment) wins.
    """
    try:
        parts = urlsplit(endpoint.strip())
    except ValueError:
        return None  # malformed; the endpoint's own check says why
    host = (parts.hostname or "").lower()
    same_host = [preset for preset in PRESETS if host in preset.hosts]
    for preset in same_host:
        if _same_path(parts.path, urlsplit(preset.endpoint).path):
            return preset
    return same_host[0] if same_host else None


def _same_path(given: str, known: str) -> bool:
    ours, theirs = given.strip("/").split("/"), known.strip("/").split("/")
    return len(ours) == len(theirs) and all(
        a == b or "{" in a or "{" in b for a, b in zip(ours, theirs, strict=True)
    )
