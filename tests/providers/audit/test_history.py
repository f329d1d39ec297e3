"""The audit history of providers and their rows, senders, DLT templates and
routes: who changed what, when, from what to what, secrets only as "changed";
admin actions with their user; the History pages and the list of entries."""

from __future__ import annotations

import json

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.db import connection
from django.forms.models import model_to_dict
from django.urls import reverse

from providers.message_templates import MessageTemplate
from providers.models import Provider, Sender
from providers.roles import MARKETING, ONBOARDING, SUPPORT
from providers.routes import Route, RouteStep

from ..formdata import API_KEY, BASIC_PASSWORD, HEADER_SECRET, as_post, screen_data

pytestmark = pytest.mark.django_db

ADD = reverse("admin:providers_provider_add") + "?screen=clevertap"
CHANGELIST = reverse("admin:providers_provider_changelist")
ENTRIES = reverse("admin:auditlog_logentry_changelist")
NEW_KEY = "sk-live-new-9a7c3e1b5d20"
NEW_PASSWORD = "basic-pass-new-7e4a2c9f10"
BASIC = {"authentication": "basic", "basic_username": "acme"}


def change_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_change", args=[provider.pk])


def history_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[obj.pk])


def entries(obj) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(obj).order_by("pk"))


@pytest.fixture
def provider(admin_client) -> Provider:
    data = screen_data("clevertap", basic_password=BASIC_PASSWORD, **BASIC)
    assert admin_client.post(ADD, as_post(data)).status_code == 302
    return Provider.objects.get()


def changed(admin_client, provider: Provider, **fields) -> None:
    rows = {
        "headers": [
            ("Authorization", "Bearer {apiKey}", False),
            ("Content-Type", "application/json; charset=utf-8", False),
            ("X-Api-Secret", "", True),  # left blank: the stored value is kept
        ],
        "variables": [("subAccountId", "acme_sub", False), ("apiKey", NEW_KEY, True)],
    }
    data = screen_data("clevertap", rows=rows, **{**BASIC, **fields})
    response = admin_client.post(change_url(provider), as_post(data))
    assert response.status_code == 302, response.content[:2000]


def test_a_change_says_who_changed_what_from_what_to_what(admin_client, provider):
    changed(
        admin_client, provider, endpoint="https://sms.example.com/v2/{subAccountId}"
    )

    created, update = entries(provider)
    assert created.action == LogEntry.Action.CREATE
    assert created.changes["Variable apiKey"] == ["None", "changed"]
    assert created.changes["basic_password"] == ["", "changed"]
    assert update.actor == User.objects.get(username="admin")
    assert update.changes == {
        "endpoint": [
            "https://sms.example.com/api/v1/subaccounts/{subAccountId}/messages",
            "https://sms.example.com/v2/{subAccountId}",
        ],
        "Header Content-Type": ["application/json", "application/json; charset=utf-8"],
        "Variable apiKey": ["••••", "changed"],
    }


def test_the_history_page_shows_the_changes_in_words(admin_client, provider):
    changed(admin_client, provider, basic_password=NEW_PASSWORD)

    page = admin_client.get(history_url(provider)).content.decode()

    assert "<td>admin</td>" in page
    assert (
        "<td>password</td><td><code>••••</code></td><td>&rarr;</td><td><code>changed"
        in page
    )
    assert "<td>Variable apiKey</td><td><code>••••</code></td>" in page
    assert f"Sender {provider.nickname}" in page  # its sender's entry too


def raw_values() -> list[str]:
    """Everything stored of the secrets: ciphertexts and the callback tokens."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT basic_password, dlr_credentials, callback_token, "
            "previous_callback_token FROM providers_provider"
        )
        found = [v for row in cursor.fetchall() for v in row]
        for table in ("providers_header", "providers_providervariable"):
            cursor.execute(f"SELECT value FROM {table}")  # noqa: S608 - our names
            found += [v for (v,) in cursor.fetchall()]
    return [v for v in found if v]


def test_no_secret_nor_its_ciphertext_is_in_an_entry_or_an_audit_page(
    admin_client, provider
):
    stored_before = raw_values()
    changed(
        admin_client,
        provider,
        basic_password=NEW_PASSWORD,
        dlr_credentials="cb-user:cb-pass-5e1d7a",
    )
    admin_client.post(
        CHANGELIST,
        {"action": "rotate_callback_urls", "_selected_action": [provider.pk]},
    )
    plain = [API_KEY, NEW_KEY, HEADER_SECRET, BASIC_PASSWORD, NEW_PASSWORD]
    plain += ["cb-pass-5e1d7a"]
    forbidden = {*plain, *(p[-6:] for p in plain), *stored_before, *raw_values()}
    pages = [admin_client.get(ENTRIES), admin_client.get(history_url(provider))]
    pages += [admin_client.get(ENTRIES + f"{e.pk}/change/") for e in entries(provider)]

    for entry in LogEntry.objects.all():
        text = json.dumps(model_to_dict(entry), default=str) + entry.object_repr
        assert not [secret for secret in forbidden if secret in text]
    for page in pages:
        assert page.status_code == 200
        assert not [s for s in forbidden if s in page.content.decode()]


def test_rotating_the_callback_url_names_the_action_and_its_user(
    admin_client, provider
):
    admin_client.post(
        CHANGELIST,
        {"action": "rotate_callback_urls", "_selected_action": [provider.pk]},
    )

    rotated = entries(provider)[-1]
    assert rotated.additional_data == {"action": "Rotated the callback URL"}
    assert rotated.actor.username == "admin"
    assert rotated.changes["callback_token"] == ["••••", "changed"]
    assert rotated.changes["previous_callback_token"] == ["", "changed"]


def test_pausing_and_resuming_are_entries_with_the_reason(admin_client, provider):
    for action in ("pause_providers", "resume_providers"):
        admin_client.post(
            CHANGELIST, {"action": action, "_selected_action": [provider.pk]}
        )

    paused, resumed = entries(provider)[-2:]
    assert paused.additional_data["action"] == "Paused sending"
    assert paused.additional_data["reason"].startswith("Paused by admin at ")
    assert resumed.additional_data == {"action": "Resumed sending"}
    assert {paused.actor.username, resumed.actor.username} == {"admin"}


def test_archiving_and_restoring_read_as_such(admin_client, provider):
    changed(admin_client, provider, is_active=None)
    changed(admin_client, provider)

    archived, restored = entries(provider)[-2:]
    assert archived.additional_data == {"action": "Archived"}
    assert archived.changes["is_active"] == ["True", "False"]
    assert restored.additional_data == {"action": "Restored"}


def test_senders_templates_routes_and_steps_are_recorded(admin_client, provider):
    sender = Sender.objects.get()
    sender.sender_id = "ACMEPAY"
    sender.save()
    template = MessageTemplate.objects.create(
        name="OTP",
        template_id="1107161234567890123",
        text="Code {#var#}",
        sender=sender,
        entity_id="1101234567890123456",
    )
    template.text = "Your code {#var#}"
    template.save()
    route = Route.objects.create(name="India first")
    step = RouteStep.objects.create(route=route, sender=sender, countries="IN")
    step.countries = "IN, +1"
    step.save()

    assert entries(sender)[-1].changes == {"sender_id": ["ACME", "ACMEPAY"]}
    assert entries(template)[-1].changes == {
        "text": ["Code {#var#}", "Your code {#var#}"]
    }
    assert entries(step)[-1].changes == {"countries": ["IN", "IN, +1"]}
    page = admin_client.get(history_url(route)).content.decode()
    assert "Provider on the route" in page
    assert "IN, +1" in page
    assert admin_client.get(history_url(template)).status_code == 200


def test_the_list_shows_each_role_the_entries_of_what_it_may_view(
    client, staff_in, provider
):
    from campaigns.models import ApiToken

    token = ApiToken(name="backend")
    token.issue()
    token.save()

    staff_in(SUPPORT)
    listed = client.get(ENTRIES).content.decode()
    filtered = client.get(ENTRIES + "?what=Paused+sending")

    assert provider.nickname in listed
    assert "backend" not in listed  # Support may not view API tokens
    assert filtered.status_code == 200
    client.force_login(User.objects.create_user("nobody", is_staff=True))
    assert client.get(ENTRIES).status_code == 403


def test_marketing_reads_the_list_but_not_a_token_entry(client, staff_in, provider):
    staff_in(MARKETING)

    response = client.get(ENTRIES)

    assert response.status_code == 200
    assert provider.nickname in response.content.decode()


def test_the_roles_migration_lets_every_role_read_the_list() -> None:
    for role in (ONBOARDING, SUPPORT, MARKETING):
        granted = Group.objects.get(name=role).permissions
        assert granted.filter(
            content_type__app_label="auditlog", codename="view_logentry"
        ).exists()
