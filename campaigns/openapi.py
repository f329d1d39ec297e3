"""The public API's contract, OpenAPI 3.1, served at /api/v1/openapi.json.

Written out rather than generated: the API validates its input by hand, with
refusals worded for the caller (a NUL in a property, JSON nested too deep, a
body over 64 KiB), which no schema library says as well. The tests call every
endpoint and check each real answer against this document
(tests/campaigns/test_openapi.py), so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .models import Message

TEXT = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def error(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
        **extra,
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smsbridge API",
            "version": "1",
            "description": "Send event-triggered SMS (OTPs, alerts) through the "
            "providers configured in smsbridge, and read what became of each "
            "message. Authenticate with an API token from the admin's API tokens "
            "page: `Authorization: Bearer sb_...`.",
        },
        "servers": [{"url": settings.PUBLIC_BASE_URL}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/events": {"post": post_event()},
            "/api/v1/messages/{message_id}": {"get": get_message()},
        },
        "webhooks": {
            "messageStatus": {"post": message_status()},
            "messageReply": {"post": message_reply()},
        },
        "components": {"securitySchemes": SECURITY, "schemas": SCHEMAS},
    }


SECURITY = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (sb_...). A token may send events, read "
        "messages, or both.",
    }
}


def post_event() -> dict[str, Any]:
    return {
        "operationId": "sendEvent",
        "summary": "Queue a message for every active campaign triggered by an event",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Makes a retry safe: the same key and body within "
                f"{settings.IDEMPOTENCY_KEY_HOURS} hours get the first answer again "
                "and send nothing more.",
                "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Event"}}
            },
        },
        "responses": {
            "202": {
                "description": "Queued (or skipped: an opted-out number for a "
                "promotional campaign); one entry per campaign.",
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "`true` when this is the first answer to "
                        "the same Idempotency-Key, given again.",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                },
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/Queued"}
                    }
                },
            },
            "400": error("The body is not a JSON object of the documented shape."),
            "401": error("No API token, or an unknown or deactivated one."),
            "403": error("The token may not send events."),
            "404": error("No active campaign is triggered by the event."),
            "409": error(
                "A campaign cannot send (no sender, archived provider, no provider "
                "on its route for the number's country), or the Idempotency-Key "
                "was used with another body or is still being answered."
            ),
            "413": error("The body is larger than 64 KiB."),
            "422": error(
                "A bad number, missing properties, a text off its DLT template, or "
                "a message longer than the segment limit once filled in."
            ),
        },
    }


def get_message() -> dict[str, Any]:
    return {
        "operationId": "getMessage",
        "summary": "What became of a message",
        "parameters": [
            {
                "name": "message_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "maxLength": 64},
            }
        ],
        "responses": {
            "200": {
                "description": "The message.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}
                    }
                },
            },
            "401": error("No API token, or an unknown or deactivated one."),
            "403": error("The token may not read messages."),
            "404": error("No message has the id."),
        },
    }


def message_status() -> dict[str, Any]:
    """What smsbridge posts to a status webhook (campaigns/webhooks/)."""
    return {
        "operationId": "messageStatus",
        "summary": "A message an API token queued changed status",
        "description": "Posted to the token's webhook and to the one of every "
        "token. Check Smsbridge-Signature as README's Status webhooks says; "
        "answer 2xx, or it is tried again for "
        f"{settings.WEBHOOK_RETRY_HOURS:g} hours.",
        "security": [],
        "parameters": [
            {
                "name": "Smsbridge-Signature",
                "in": "header",
                "required": True,
                "description": "t=<Unix seconds>,v1=<hex HMAC-SHA256 of "
                '"<t>.<body>" keyed with the webhook\'s secret>; a second v1 '
                "while a rotated secret still signs.",
                "schema": {
                    "type": "string",
                    "pattern": "^t=[0-9]+(,v1=[0-9a-f]{64}){1,2}$",
                },
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/StatusEvent"}
                }
            },
        },
        "responses": {"2XX": {"description": "Received; any other answer is retried."}},
    }


def message_reply() -> dict[str, Any]:
    """What smsbridge posts when a number replies (campaigns/inbound.py)."""
    told = message_status()
    return {
        **told,
        "operationId": "messageReply",
        "summary": "A number replied to one of the senders' numbers",
        "description": "Posted to the webhook of every token, and to that of the "
        "token whose event queued the last message sent to the number; signed "
        "and retried as status events are.",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ReplyEvent"}
                }
            },
        },
    }


STATUSES = list(Message.Status.values)
SCHEMAS: dict[str, Any] = {
    "ReplyEvent": {
        "type": "object",
        "required": ["type", "id", "attempt", "occurred_at", "reply"],
        "properties": {
            "type": {"const": "message.reply"},
            "id": {"type": "integer"},
            "attempt": {"type": "integer", "minimum": 1},
            "occurred_at": {"type": "string", "format": "date-time"},
            "reply": {
                "type": "object",
                "required": ["id", "from", "to", "text", "received_at", "action"],
                "properties": {
                    "id": {"type": "integer"},
                    "from": TEXT,
                    "to": TEXT,
                    "text": TEXT,
                    "received_at": {"type": "string", "format": "date-time"},
                    "provider": TEXT,
                    "campaign": TEXT_OR_NULL,
                    "in_reply_to": {
                        **TEXT_OR_NULL,
                        "description": "Our id of the last message sent to the number.",
                    },
                    "keyword": TEXT,
                    "action": {
                        **TEXT,
                        "description": "What its keyword did: opt_out, opt_in, or "
                        "empty.",
                    },
                },
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["event", "to"],
        "properties": {
            "event": {**TEXT, "minLength": 1, "examples": ["otp_requested"]},
            "to": {
                **TEXT,
                "minLength": 1,
                "description": "International (+...), or national with `country`.",
                "examples": ["+6591234567"],
            },
            "country": {
                **TEXT,
                "description": "ISO 3166 country of a national number, e.g. SG.",
            },
            "properties": {
                "type": "object",
                "description": "Fill the campaign's $$placeholders and the "
                "provider's custom ones.",
                "additionalProperties": {"type": ["string", "number"]},
                "examples": [{"code": "123456"}],
            },
        },
    },
    "Queued": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "campaign", "status"],
                    "properties": {
                        "id": TEXT,
                        "campaign": TEXT,
                        "status": {"type": "string", "enum": STATUSES},
                    },
                },
            }
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "to",
            "status",
            "campaign",
            "provider",
            "provider_message_id",
            "failure_category",
            "failure_reason",
            "sent_at",
            "delivered_at",
            "delivery_error_code",
        ],
        "properties": {
            "id": TEXT,
            "to": TEXT,
            "status": {"type": "string", "enum": STATUSES},
            "campaign": TEXT,
            "provider": {
                **TEXT_OR_NULL,
                "description": "The provider it went to; on a route, the one it "
                "is with now.",
            },
            "provider_message_id": TEXT,
            "failure_category": TEXT,
            "failure_reason": TEXT,
            "sent_at": TIME_OR_NULL,
            "delivered_at": TIME_OR_NULL,
            "delivery_error_code": TEXT,
        },
    },
    "StatusEvent": {
        "type": "object",
        "required": ["type", "id", "attempt", "occurred_at", "message"],
        "properties": {
            "type": {"const": "message.status"},
            "id": {
                "type": "integer",
                "description": "The same on every attempt of one delivery, and "
                "growing with every change: skip one seen, order by it.",
            },
            "attempt": {"type": "integer", "minimum": 1},
            "occurred_at": {"type": "string", "format": "date-time"},
            "message": {"$ref": "#/components/schemas/MessageChange"},
        },
    },
    "MessageChange": {
        "description": "The message as the change left it: the fields of "
        "GET /api/v1/messages/{message_id} and a few more.",
        "allOf": [
            {"$ref": "#/components/schemas/Message"},
            {
                "type": "object",
                "required": [
                    "previous_status",
                    "attempts",
                    "next_attempt_at",
                    "delivery_description",
                ],
                "properties": {
                    "previous_status": {
                        "type": ["string", "null"],
                        "enum": [*STATUSES, None],
                        "description": "Null when the message was just created.",
                    },
                    "attempts": {"type": "integer", "minimum": 0},
                    "next_attempt_at": {
                        **TIME_OR_NULL,
                        "description": "Queued again after a failed attempt: "
                        "when the next one is due.",
                    },
                    "delivery_description": TEXT,
                },
            },
        ],
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": TEXT,
            "field": {**TEXT, "description": "The field or header refused."},
            "missing": {"type": "array", "items": TEXT},
            "campaign": TEXT,
            "segments": {"type": "integer"},
            "limit": {"type": "integer"},
            "allowed": {"type": "array", "items": TEXT},
        },
    },
}
