"""A provider set up with OAuth 2.0 client credentials, and the token endpoint's
answers, shared by the provider and campaign tests."""

from __future__ import annotations

import json
from typing import Any

from providers.models import Provider, Sender

TOKEN_URL = "https://auth.example.com/oauth/token"
ENDPOINT = "https://sms.example.com/v1/messages"
CLIENT_ID = "acme client"
CLIENT_SECRET = 'cnry-client-secret-"8Hf/2+Qa"'
TOKEN = "cnry-access-token-4Rt9/Ws+1Xe7"
SECOND_TOKEN = "cnry-access-token-2-6Lp3/Dk+8Zn0"
PAYLOAD = json.dumps({"to": "$$To", "text": "$$Body", "ref": "$$MessageID"})


def oauth_provider(**fields: Any) -> Sender:
    """An OAuth provider at ENDPOINT, one message a request, and its sender."""
    provider = Provider.objects.create(
        nickname=fields.pop("nickname", "OAuth SMS"),
        endpoint=ENDPOINT,
        payload=PAYLOAD,
        authentication="oauth",
        oauth_token_url=TOKEN_URL,
        oauth_client_id=CLIENT_ID,
        oauth_client_secret=CLIENT_SECRET,
        **fields,
    )
    return Sender.objects.create(
        provider=provider,
        name="OAuth sender",
        sender_id="ACME",
        is_default=True,
    )


def token_answer(token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", **extra}
