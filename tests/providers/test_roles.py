"""providers.roles and migration 0002: what each staff role may see and do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import responses
from django.contrib.auth.models import Group
from django.urls import reverse

from providers.forms.setup import ClevertapProviderForm
from providers.models import Provider
from providers.roles import MARKETING, ONBOARDING, SUPPORT
from providers.send_test_sms import send_test_sms

if TYPE_CHECKING:
    from providers.models import TestSend

from .formdata import (
    API_KEY,
    BASIC_PASSWORD,
    HEADER_SECRET,
    as_post,
    screen_data,
    values,
)

pytestmark = pytest.mark.django_db

EDIT = {
    "providers.add_provider",
    "providers.change_provider",
    "providers.delete_provider",
    "providers.add_sender",
    "providers.change_sender",
    "providers.delete_sender",
}
VIEW = {"providers.view_provider", "providers.view_sender"}
ADD_URL = reverse("admin:providers_provider_add")


def permissions(role: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=role).permissions.select_related("content_type")
    }


@pytest.fixture
def provider(db) -> Provider:
    form = ClevertapProviderForm(
        screen_data(
            "clevertap",
            authentication="basic",
            basic_username="{subAccountId}",
            basic_password=BASIC_PASSWORD,
        )
    )
    assert form.is_valid(), form.errors
    return form.save()


def change_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_change", args=[provider.pk])


def assert_no_secrets(html: str) -> None:
    for secret in (API_KEY, HEADER_SECRET, BASIC_PASSWORD):
        assert secret not in html


# --- groups from the migration -----------------------------------------------------


def test_it_creates_the_three_roles_in_the_migration() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {
        ONBOARDING,
        SUPPORT,
        MARKETING,
    }


def test_it_lets_onboarding_staff_edit_providers_and_senders_and_send_tests() -> None:
    assert permissions(ONBOARDING) >= EDIT | VIEW | {"providers.send_test_sms"}


def test_it_lets_support_view_and_send_tests_but_not_edit() -> None:
    granted = permissions(SUPPORT)

    assert granted >= VIEW | {"providers.send_test_sms"}
    assert not granted & EDIT


def test_it_lets_marketing_only_view() -> None:
    granted = permissions(MARKETING)

    assert granted >= VIEW
    assert not granted & (EDIT | {"providers.send_test_sms"})


ROUTE_EDIT = {
    "providers.add_route",
    "providers.change_route",
    "providers.delete_route",
}
PAUSE = "providers.pause_provider"


def test_it_lets_onboarding_staff_edit_routes_and_pause_providers() -> None:
    assert permissions(ONBOARDING) >= ROUTE_EDIT | {"providers.view_route", PAUSE}


def test_it_lets_support_view_routes_and_pause_providers_but_not_edit_routes() -> None:
    granted = permissions(SUPPORT)

    assert granted >= {"providers.view_route", PAUSE}
    assert not granted & ROUTE_EDIT


def test_it_lets_marketing_view_routes_only() -> None:
    granted = permissions(MARKETING)

    assert "providers.view_route" in granted
    assert not granted & (ROUTE_EDIT | {PAUSE})


# --- Support -----------------------------------------------------------------------


def test_it_shows_support_the_provider_read_only(client, staff_in, provider) -> None:
    staff_in(SUPPORT)

    response = client.get(change_url(provider))

    html = response.content.decode()
    assert response.status_code == 200
    assert provider.nickname in html
    assert 'name="nickname"' not in html
    assert 'name="_save"' not in html
    assert 'value="Save"' not in html


def test_it_refuses_a_change_posted_by_support(client, staff_in, provider) -> None:
    staff_in(SUPPORT)
    data = screen_data(
        "clevertap",
        nickname="Hijacked",
        rows={"variables": [("subAccountId", "x", False), ("apiKey", "stolen", True)]},
    )

    response = client.post(change_url(provider), as_post(data, _save="Save"))

    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.nickname == "8x8_SMS"
    assert values(provider.variables)["apiKey"] == API_KEY


def test_it_refuses_support_the_preview(client, staff_in, provider) -> None:
    staff_in(SUPPORT)
    data = as_post(screen_data("clevertap"))

    existing = client.post(
        reverse("admin:providers_provider_preview_existing", args=[provider.pk]), data
    )
    new = client.post(
        f"{reverse('admin:providers_provider_preview')}?screen=clevertap", data
    )

    assert (existing.status_code, new.status_code) == (403, 403)
    assert_no_secrets(existing.content.decode())


def test_it_refuses_support_the_add_and_delete_pages(
    client, staff_in, provider
) -> None:
    staff_in(SUPPORT)

    assert client.get(f"{ADD_URL}?screen=clevertap").status_code == 403
    delete = reverse("admin:providers_provider_delete", args=[provider.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Provider.objects.filter(pk=provider.pk).exists()


SUPPORT_PAGES = [
    ("admin:index", None),
    ("admin:providers_provider_changelist", None),
    ("admin:providers_provider_change", "provider"),
    ("admin:providers_provider_history", "provider"),
    ("admin:providers_sender_changelist", None),
    ("admin:providers_sender_change", "sender"),
]


@pytest.mark.parametrize(("name", "of"), SUPPORT_PAGES)
def test_it_shows_support_no_secret_on_any_page_it_can_reach(
    client, staff_in, provider, name, of
) -> None:
    staff_in(SUPPORT)
    target = {"provider": provider, "sender": provider.senders.get()}.get(of)

    response = client.get(reverse(name, args=[target.pk] if target else []))

    assert response.status_code == 200
    assert_no_secrets(response.content.decode())


@pytest.fixture
def sent_test(provider) -> TestSend:
    """A test SMS whose provider echoed the credentials back, as some do."""
    endpoint = "https://sms.example.com/api/v1/subaccounts/acme_sub/messages"
    echo = {"umid": "u-1", "echo": {"key": API_KEY, "header": HEADER_SECRET}}
    with responses.RequestsMock() as mock:
        mock.post(endpoint, json=echo, status=200)
        test = send_test_sms(
            provider=provider, sender=None, to="+6591234567", text="Hello"
        )
    assert test.succeeded, test.diagnosis
    assert "u-1" in test.response_excerpt
    return test


@pytest.mark.parametrize(
    "name",
    [
        "admin:providers_testsend_changelist",
        "admin:providers_testsend_change",
        "admin:providers_provider_send_test",
    ],
)
def test_it_shows_support_no_secret_in_the_test_sms_log(
    client, staff_in, sent_test, name
) -> None:
    staff_in(SUPPORT)
    target = {
        "admin:providers_testsend_change": [sent_test.pk],
        "admin:providers_provider_send_test": [sent_test.provider_id],
    }.get(name, [])
    query = f"?result={sent_test.pk}" if target and "send_test" in name else ""

    response = client.get(reverse(name, args=target) + query)

    assert response.status_code == 200
    assert_no_secrets(response.content.decode())


def test_it_shows_support_secret_rows_masked(client, staff_in, provider) -> None:
    staff_in(SUPPORT)

    html = client.get(change_url(provider)).content.decode()

    assert "acme_sub" in html
    assert "••••" + API_KEY[-4:] in html
    assert "••••" + HEADER_SECRET[-4:] in html


# --- Marketing admin and Onboarding staff ------------------------------------------


def test_it_lets_marketing_view_providers(client, staff_in, provider) -> None:
    staff_in(MARKETING)

    changelist = client.get(reverse("admin:providers_provider_changelist"))
    change = client.get(change_url(provider))

    assert (changelist.status_code, change.status_code) == (200, 200)
    assert 'name="_save"' not in change.content.decode()


def test_it_refuses_marketing_the_add_screens(client, staff_in) -> None:
    staff_in(MARKETING)

    assert client.get(ADD_URL).status_code == 403
    assert client.get(f"{ADD_URL}?screen=moengage").status_code == 403
    response = client.post(
        f"{ADD_URL}?screen=clevertap",
        as_post(screen_data("clevertap", nickname="New"), _save="Save"),
    )
    assert response.status_code == 403
    assert not Provider.objects.exists()


def test_it_lets_onboarding_staff_add_a_provider(client, staff_in) -> None:
    staff_in(ONBOARDING)

    chooser = client.get(ADD_URL)
    response = client.post(
        f"{ADD_URL}?screen=moengage", as_post(screen_data("moengage"), _save="Save")
    )

    assert chooser.status_code == 200
    assert response.status_code == 302
    assert Provider.objects.get().setup_screen == Provider.SetupScreen.MOENGAGE


def test_it_lets_onboarding_staff_edit_and_preview(client, staff_in, provider) -> None:
    staff_in(ONBOARDING)
    data = screen_data("clevertap", nickname="Renamed")

    preview = client.post(
        reverse("admin:providers_provider_preview_existing", args=[provider.pk]),
        as_post(data),
    )
    response = client.post(change_url(provider), as_post(data, _save="Save"))

    assert preview.json()["ok"]
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.nickname == "Renamed"
