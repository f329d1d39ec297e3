"""The admin of API tokens (shown once, stored hashed) and of the opt-out list."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import ApiToken, OptOut, hash_token

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"sb_[A-Za-z0-9_-]{43}")


def add_token(admin_client, name: str = "app-backend") -> str:
    # Followed, so the page after the redirect shows (and uses up) the message.
    response = admin_client.post(
        reverse("admin:campaigns_apitoken_add"), {"name": name}, follow=True
    )
    [token] = TOKEN.findall(response.content.decode())
    return token


def test_it_shows_a_new_token_once_in_a_success_message(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:campaigns_apitoken_add"), {"name": "app-backend"}, follow=True
    )

    api_token = ApiToken.objects.get()
    [token] = TOKEN.findall(response.content.decode())
    assert f"Copy it now: {token} — it will not be shown again." in (
        response.content.decode()
    )
    again = admin_client.get(reverse("admin:campaigns_apitoken_changelist"))
    assert token not in again.content.decode()
    assert f"{api_token.prefix}…" in again.content.decode()


def test_it_stores_only_the_hash(admin_client) -> None:
    token = add_token(admin_client)

    row = ApiToken.objects.values().get()
    assert row["token_hash"] == hash_token(token)
    assert row["prefix"] == token[:10]
    assert not any(token in str(value) for value in row.values())
    assert ApiToken.find(token).name == "app-backend"


def test_it_shows_only_the_prefix_on_the_change_page(admin_client) -> None:
    token = add_token(admin_client)
    api_token = ApiToken.objects.get()

    page = admin_client.get(
        reverse("admin:campaigns_apitoken_change", args=[api_token.pk])
    ).content.decode()

    assert token not in page
    assert api_token.token_hash not in page
    assert f"{token[:10]}…" in page


def test_it_asks_only_for_a_name_and_scopes_when_adding(admin_client) -> None:
    response = admin_client.get(reverse("admin:campaigns_apitoken_add"))

    form = response.context["adminform"].form
    assert list(form.fields) == ["name", "can_send", "can_read"]
    assert form["can_send"].initial is True
    assert form["can_read"].initial is True


def test_it_keeps_the_token_when_a_name_is_changed(admin_client) -> None:
    token = add_token(admin_client)
    api_token = ApiToken.objects.get()

    response = admin_client.post(
        reverse("admin:campaigns_apitoken_change", args=[api_token.pk]),
        {"name": "renamed", "is_active": "on"},
    )

    assert response.status_code == 302
    assert ApiToken.find(token).name == "renamed"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert not any(TOKEN.search(m) for m in shown), shown


def test_it_deactivates_tokens_which_then_stop_working(admin_client, client) -> None:
    token = add_token(admin_client)

    admin_client.post(
        reverse("admin:campaigns_apitoken_changelist"),
        {
            "action": "deactivate",
            "_selected_action": [ApiToken.objects.get().pk],
        },
    )

    assert ApiToken.find(token) is None
    response = client.get(
        "/api/v1/messages/x", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


# --- opt-outs ---------------------------------------------------------------------


def test_it_adds_an_opt_out_in_e164(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:campaigns_optout_add"),
        {"to": "+65 9123 4567", "source": "support ticket 42"},
    )

    assert response.status_code == 302
    assert OptOut.objects.get().to == "+6591234567"


@pytest.mark.parametrize(
    ("number", "error"),
    [
        (
            "91234567",
            "“91234567” has no country code; write it in international format "
            "with a leading + (e.g. +6591234567).",
        ),
        (
            "+65 1234",
            "+65 1234 is not a valid mobile number for +65; check the digits and "
            "the country code.",
        ),
    ],
)
def test_it_refuses_a_number_not_in_international_format(
    admin_client, number, error
) -> None:
    response = admin_client.post(
        reverse("admin:campaigns_optout_add"), {"to": number, "source": "admin"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"to": [error]}
    assert not OptOut.objects.exists()


def test_it_refuses_the_same_number_twice(admin_client) -> None:
    OptOut.objects.create(to="+6591234567")

    response = admin_client.post(
        reverse("admin:campaigns_optout_add"), {"to": "+65 9123 4567", "source": "x"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "to": ["Opt-out with this Number already exists."]
    }


def test_it_lists_and_searches_opt_outs_with_their_source(admin_client) -> None:
    OptOut.objects.create(to="+6591234567", source="reply STOP")
    OptOut.objects.create(to="+6598765432", source="admin")

    page = admin_client.get(
        reverse("admin:campaigns_optout_changelist"), {"q": "91234567"}
    ).content.decode()

    assert "+6591234567" in page
    assert "reply STOP" in page
    assert "+6598765432" not in page
