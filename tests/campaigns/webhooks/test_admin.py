"""The webhook admin: the secret shown once and stored encrypted, rotation with
overlap, the URL checked on its field, and the delivery log's "Send again" for
the roles allowed it."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns.models import WebhookDelivery, WebhookEndpoint
from campaigns.webhooks.delivering import deliver
from campaigns.webhooks.forms import WebhookEndpointForm
from providers.outbound import transport
from providers.roles import MARKETING, ONBOARDING, SUPPORT
from tests.providers.network import name_server

from .conftest import OTP, hooked, new_endpoint

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")
ADD = reverse("admin:campaigns_webhookendpoint_add")
ENDPOINTS = reverse("admin:campaigns_webhookendpoint_changelist")
DELIVERIES = reverse("admin:campaigns_webhookdelivery_changelist")


def raw_secret(endpoint: WebhookEndpoint) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM campaigns_webhookendpoint WHERE id = %s", [endpoint.pk]
        )
        return cursor.fetchone()[0]


def staff(client, role: str) -> User:
    user = User.objects.create_user(username=role.replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


# --- the secret -----------------------------------------------------------------------


def test_a_new_webhooks_secret_is_shown_once_and_stored_encrypted(
    admin_client, api_token
) -> None:
    response = admin_client.post(
        ADD,
        {
            "token": api_token.pk,
            "url": "https://hooks.example.test/sms",
            "is_active": "on",
        },
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    [secret] = SECRET.findall(response.content.decode())
    assert f"Copy the signing secret now: {secret}" in response.content.decode()
    assert endpoint.secret == secret
    assert endpoint.token == api_token
    assert secret not in raw_secret(endpoint)
    for page in (
        ENDPOINTS,
        reverse("admin:campaigns_webhookendpoint_change", args=[endpoint.pk]),
    ):
        shown = admin_client.get(page).content.decode()
        assert secret not in shown
        assert f"••••{secret[-4:]}" in shown


def test_rotating_shows_a_new_secret_and_the_old_one_signs_a_day_more(
    admin_client, api_token
) -> None:
    endpoint, old = new_endpoint(api_token, "https://hooks.example.test/sms")

    response = admin_client.post(
        ENDPOINTS,
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )

    endpoint.refresh_from_db()
    page = response.content.decode()
    [new] = SECRET.findall(page)
    assert new != old
    assert "The previous one signs beside it for 24 hours" in page
    assert endpoint.signing_secrets(now=timezone.now()) == [new, old]
    a_day_on = timezone.now() + timedelta(hours=24, seconds=1)
    assert endpoint.signing_secrets(now=a_day_on) == [new]
    change = reverse("admin:campaigns_webhookendpoint_change", args=[endpoint.pk])
    shown = admin_client.get(change).content.decode()
    assert "the previous one also signs until" in shown
    assert old not in shown
    assert new not in shown


# --- the form -------------------------------------------------------------------------


@pytest.fixture
def guard_on(settings):
    settings.SMS_ALLOW_PRIVATE_ENDPOINTS = False
    transport.session().close()
    yield
    transport.session().close()


def url_errors(url: str, token=None) -> dict:
    form = WebhookEndpointForm(
        {"token": token.pk if token else "", "url": url, "is_active": "on"}
    )
    assert not form.is_valid()
    return form.errors.as_data()


def test_a_private_address_is_refused_on_the_url_field(guard_on, admin_client) -> None:
    response = admin_client.post(
        ADD, {"url": "https://10.1.2.3/hook", "is_active": "on"}
    )

    form = response.context["adminform"].form
    assert [e.code for e in form.errors.as_data()["url"]] == ["private_address"]
    assert form.errors["url"] == [
        "10.1.2.3 is a loopback, private, link-local or reserved address "
        "(10.1.2.3); a webhook must be reachable on the public internet."
    ]
    assert not WebhookEndpoint.objects.exists()


def test_a_name_resolving_to_a_private_address_is_refused(
    guard_on, monkeypatch
) -> None:
    name_server(monkeypatch).answers["hooks.customer.test"] = ["192.168.1.20"]

    errors = url_errors("https://hooks.customer.test/sms")

    assert [e.code for e in errors["url"]] == ["private_address"]


def test_plain_http_and_a_non_url_are_refused_with_how_to_fix_them(guard_on) -> None:
    http = url_errors("http://hooks.example.test/sms")["url"]
    nonsense = url_errors("hooks.example.test/sms")["url"]

    assert [e.code for e in http] == ["not_https"]
    assert http[0].messages == [
        "The webhook URL must use HTTPS: your URL must begin with https://."
    ]
    assert [e.code for e in nonsense] == ["invalid_url"]
    assert "https://app.example.com/hooks/smsbridge" in nonsense[0].messages[0]


def test_one_webhook_per_token_and_one_for_every_token(api_token) -> None:
    new_endpoint(api_token, "https://hooks.example.test/a")
    new_endpoint(None, "https://hooks.example.test/b")

    for token, whose in (
        (api_token, f"the API token {api_token}"),
        (None, "every API token"),
    ):
        errors = url_errors("https://hooks.example.test/c", token)
        assert [e.code for e in errors["token"]] == ["webhook_exists"]
        assert errors["token"][0].messages == [
            f"There already is a webhook for {whose}; change that one, or choose "
            "another token."
        ]


# --- the delivery log -----------------------------------------------------------------


def test_support_sends_a_delivery_again_from_the_log(
    client, post, broker_queue, api_token, campaign
) -> None:
    staff(client, SUPPORT)
    with hooked(api_token, answers=[500]) as (_, receiver):
        post(OTP)
        delivery = WebhookDelivery.objects.get()
        deliver(delivery_id=delivery.pk)
        log = client.get(DELIVERIES).content.decode()
        broker_queue()
        response = client.post(
            DELIVERIES,
            {"action": "send_again", "_selected_action": [delivery.pk]},
            follow=True,
        )
        [task] = [t for t in broker_queue() if t.name.endswith("deliver_webhook")]
        deliver(delivery_id=task.args[0])

    delivery.refresh_from_db()
    assert "Answered 500" in log
    assert (
        "1 webhook delivery(ies) queued to be sent again" in response.content.decode()
    )
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [got.event["attempt"] for got in receiver.verified] == [1, 2]


def test_send_again_is_refused_to_marketing_and_offered_to_onboarding(
    client, broker_queue, post, api_token, campaign
) -> None:
    new_endpoint(api_token, "https://hooks.example.test/a")
    post(OTP)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(status=WebhookDelivery.Status.FAILED)
    action = {"action": "send_again", "_selected_action": [delivery.pk]}

    staff(client, MARKETING)
    marketing = [
        client.get(DELIVERIES).status_code,
        client.post(DELIVERIES, action).status_code,
    ]
    staff(client, ONBOARDING)
    offered = client.get(DELIVERIES).context["action_form"].fields["action"].choices

    assert marketing == [403, 403]
    assert "send_again" in dict(offered)
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.FAILED


def test_the_roles_hold_the_webhook_permissions() -> None:
    def permissions(role: str) -> set[str]:
        group = Group.objects.get(name=role)
        return {p.codename for p in group.permissions.all() if "webhook" in p.codename}

    assert permissions(ONBOARDING) == {
        "add_webhookendpoint",
        "change_webhookendpoint",
        "view_webhookendpoint",
        "view_webhookdelivery",
        "resend_webhookdelivery",
    }
    assert permissions(SUPPORT) == {
        "view_webhookendpoint",
        "view_webhookdelivery",
        "resend_webhookdelivery",
    }
    assert permissions(MARKETING) == set()


def test_support_may_view_webhooks_but_not_add_or_rotate(client, api_token) -> None:
    endpoint, secret = new_endpoint(api_token, "https://hooks.example.test/a")
    staff(client, SUPPORT)
    rotate = {"action": "rotate_secret", "_selected_action": [endpoint.pk]}

    listed = client.get(ENDPOINTS)
    refused = [client.get(ADD).status_code, client.post(ENDPOINTS, rotate).status_code]

    assert listed.status_code == 200
    assert secret not in listed.content.decode()
    assert refused == [403, 403]
    endpoint.refresh_from_db()
    assert endpoint.secret == secret


def test_creating_rotating_and_deactivating_are_audited_without_a_secret(
    admin_client, api_token
) -> None:
    page = admin_client.post(
        ADD,
        {
            "token": api_token.pk,
            "url": "https://hooks.example.test/a",
            "is_active": "on",
        },
        follow=True,
    ).content.decode()
    [first] = SECRET.findall(page)
    endpoint = WebhookEndpoint.objects.get()
    selected = {"_selected_action": [endpoint.pk]}
    page = admin_client.post(
        ENDPOINTS, {"action": "rotate_secret", **selected}, follow=True
    ).content.decode()
    [second] = SECRET.findall(page)
    admin_client.post(ENDPOINTS, {"action": "deactivate", **selected})

    entries = LogEntry.objects.get_for_object(endpoint).order_by("pk")
    assert [
        ((e.additional_data or {}).get("action"), e.actor.username) for e in entries
    ] == [
        ("Webhook created", "admin"),
        ("Rotated the signing secret", "admin"),
        ("Webhook deactivated", "admin"),
    ]
    assert entries[1].changes["secret"] == ["••••", "changed"]
    assert entries[1].changes["previous_secret"] == ["", "changed"]
    written = json.dumps([(e.changes, e.changes_text) for e in entries])
    for secret in (first, second, raw_secret(endpoint)):
        assert secret not in written
    history = reverse("admin:campaigns_webhookendpoint_history", args=[endpoint.pk])
    shown = admin_client.get(history).content.decode()
    assert "Rotated the signing secret" in shown
    assert first not in shown
    assert second not in shown
