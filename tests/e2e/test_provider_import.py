"""Importing a provider file in a real browser: the file chosen, the secret it
names typed, the provider created, and its History page saying who imported
it, the secret only as "changed"."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from providers import presets
from providers.models import Provider
from providers.transfer.exporting import export_text
from tests.providers.transfer.test_round_trip import from_preset

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

SECRET = "vonage-secret-e2e-51c9d2a0"


def test_an_admin_imports_a_provider_file(admin_page: Page, tmp_path, screenshot):
    provider = from_preset(presets.BY_SLUG["vonage"])
    file = tmp_path / "providers.json"
    file.write_text(export_text([provider]))
    provider.delete()
    page = admin_page

    page.goto("/admin/providers/provider/")
    page.get_by_role("link", name="Import providers").click()
    page.locator("#id_file").set_input_files(file)
    page.get_by_role("button", name="Read the file").click()
    page.get_by_label("Vonage — apiSecret").fill(SECRET)
    screenshot(page, "secrets")
    page.get_by_role("button", name="Import").click()

    expect(page.locator(".messagelist")).to_contain_text("Imported 1 provider(s)")
    imported = Provider.objects.get(nickname="Vonage")
    assert imported.variables.get(name="apiSecret").value == SECRET
    page.goto(f"/admin/providers/provider/{imported.pk}/history/")
    entry = page.locator(".audit-entry").last
    expect(entry).to_contain_text("Imported from a file")
    expect(entry).to_contain_text("Variable apiSecret")
    expect(entry).to_contain_text("changed")
    assert SECRET not in page.content()
    screenshot(page, "history")
