"""The admin's Export selected providers action and the import page."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from providers import presets
from providers.models import Provider
from providers.roles import ONBOARDING, SUPPORT
from providers.transfer.exporting import export_text

from ..transfer.test_round_trip import from_preset

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:providers_provider_changelist")
IMPORT = reverse("admin:providers_provider_import")
VONAGE_SECRET = "vonage-secret-8c2f0a91d3"


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("p.json", text.encode(), "application/json")


def vonage_file() -> str:
    provider = from_preset(presets.BY_SLUG["vonage"])
    text = export_text([provider])
    provider.delete()
    return text


def test_export_selected_providers_downloads_the_file_without_secrets(
    client, staff_in
) -> None:
    staff_in(SUPPORT)
    provider = from_preset(presets.BY_SLUG["vonage"])
    secret = provider.variables.get(name="apiSecret").value

    response = client.post(
        CHANGELIST, {"action": "export_providers", "_selected_action": [provider.pk]}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        'attachment; filename="smsbridge-providers-'
    )
    document = json.loads(response.content)
    assert [p["nickname"] for p in document["providers"]] == ["Vonage"]
    assert {"name": "apiSecret", "secret": True} in document["providers"][0][
        "variables"
    ]
    assert secret.encode() not in response.content


def test_the_import_page_reads_the_file_asks_for_its_secrets_then_imports(
    client, staff_in
) -> None:
    staff_in(ONBOARDING)
    text = vonage_file()
    listed = client.get(CHANGELIST)

    asked = client.post(IMPORT, {"file": upload(text)})
    page = asked.content.decode()
    stored_after_reading = Provider.objects.exists()
    done = client.post(
        IMPORT, {"document": text, "secret-0": VONAGE_SECRET, "import": "Import"}
    )

    assert IMPORT in listed.content.decode()
    assert "Vonage — apiSecret" in page
    assert "SMSBRIDGE_SECRET_VONAGE_APISECRET" in page
    assert not stored_after_reading
    assert done.status_code == 302
    assert done["Location"] == CHANGELIST
    provider = Provider.objects.get(nickname="Vonage")
    assert provider.variables.get(name="apiSecret").value == VONAGE_SECRET
    [note] = [str(m) for m in get_messages(done.wsgi_request)]
    assert note.startswith("Imported 1 provider(s): Vonage.")


def test_the_import_page_lists_every_problem_and_keeps_nothing(
    client, staff_in
) -> None:
    staff_in(ONBOARDING)
    document = json.loads(vonage_file())
    document["providers"][0]["request"]["payload"] = "{"
    text = json.dumps(document)

    response = client.post(
        IMPORT, {"document": text, "secret-0": "", "import": "Import"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 problems — nothing was imported." in page
    assert "<code>providers[0].request.payload</code>" in page
    assert "<code>providers[0].variables[1].value</code>" in page
    assert not Provider.objects.exists()


def test_a_file_that_is_not_json_is_answered_on_the_page(client, staff_in) -> None:
    staff_in(ONBOARDING)

    response = client.post(IMPORT, {"file": upload('{"format": ')})

    assert response.status_code == 200
    assert "not JSON" in response.content.decode()


def test_support_may_not_import(client, staff_in) -> None:
    staff_in(SUPPORT)

    assert client.get(IMPORT).status_code == 403
    assert IMPORT not in client.get(CHANGELIST).content.decode()
