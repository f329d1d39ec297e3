"""The provider setup screens in a real browser: chooser, presets, the placeholder
palette, key/value rows, the live request preview and its one-click fixes, saving
and reopening."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from providers.models import Provider
from tests.providers.formdata import GUIDE_PAYLOAD, GUIDE_PAYLOAD_FIXED

from .clipboard import paste

pytestmark = [
    pytest.mark.e2e,
    # WhiteNoise warns that `collectstatic` has not run; the live server serves the
    # source static files itself.
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]

ADD_URL = "/admin/providers/provider/add/"
SUB_ACCOUNT = "acme_sub01"
# Twelve characters or more, so the mask shows the last four.
API_KEY = "e2e-api-key-0000WXYZ"
MASKED_API_KEY = "••••WXYZ"
STORED_HINT = "stored — leave blank to keep"
WAITING = "Fill in the endpoint and payload to see the request."
TYPED_KEY = "e2e-typed-key-0000QRST"


def place_cursor(field: Locator, position: int) -> None:
    """Focus a text field with the caret at `position`, as a click there would."""
    field.evaluate(
        "(el, at) => { el.focus(); el.setSelectionRange(at, at); }", position
    )


def preview(page: Page) -> tuple[Locator, Locator]:
    return (
        page.locator("[data-preview-request]"),
        page.locator("[data-preview-errors]"),
    )


def test_admin_static_files_are_served(admin_page: Page) -> None:
    for path in ("/static/admin/css/base.css", "/static/providers/setup.js"):
        response = admin_page.request.get(path)
        assert response.ok, f"{path}: {response.status}"


def test_clevertap_preset_is_completed_previewed_and_saved(
    admin_page: Page, screenshot
) -> None:
    page = admin_page
    page.goto(ADD_URL)
    page.get_by_role("link", name="8x8 via CleverTap (partner batch endpoint)").click()

    endpoint = page.locator("#id_endpoint")
    payload = page.locator("#id_payload")
    expect(endpoint).to_have_value(re.compile(r"/partners/clevertap/batch$"))
    expect(payload).to_have_value(re.compile(r'"msgs"'))
    expect(page.locator("#id_batch_enabled")).to_be_checked()
    # setup.js ran: it moves the palette next to the payload.
    expect(page.locator(".field-payload #placeholder-palette")).to_be_visible()

    request, errors = preview(page)
    # Nothing typed yet: nothing is wrong, the preview says what to fill in.
    expect(request).to_have_text(WAITING)
    expect(errors).to_be_hidden()
    expect(page.locator(".errorlist")).to_have_count(0)

    page.get_by_label("Nickname").fill("8x8 e2e")
    expect(errors).to_contain_text("Variable 2 (apiKey): enter a value.")
    expect(request).to_have_text("Fix the problems above to see the request.")
    values = page.locator("input[name=variables-value]")
    values.nth(0).fill(SUB_ACCOUNT)
    values.nth(1).fill(API_KEY)
    page.get_by_label("Sender ID / Virtual Number").fill("ACME")

    expect(request).to_contain_text(
        f"POST https://sms.8x8.com/api/v1/subaccounts/{SUB_ACCOUNT}"
        "/partners/clevertap/batch"
    )
    expect(request).to_contain_text('"destination":"+6591234567"')
    expect(request).to_contain_text(f"Authorization: Bearer {MASKED_API_KEY}")
    expect(request).not_to_contain_text(API_KEY)
    expect(errors).to_be_hidden()

    # The palette inserts at the caret: here, inside the "text" string.
    original = payload.input_value()
    caret = original.index('"$$Body"') + len('"$$Body')
    place_cursor(payload, caret)
    page.locator('[data-insert="$$CampaignID"]').click()
    expect(payload).to_have_value(original[:caret] + "$$CampaignID" + original[caret:])
    expect(request).to_contain_text(
        '"text":"This is a test message powered by smsbridgesample-campaign"'
    )

    headers = page.locator("[data-kv-rows=headers]")
    headers.get_by_role("button", name="Add row").click()
    new_header = headers.locator("tr.kv-row").last
    expect(new_header.locator("input[name=headers-name]")).to_be_focused()
    new_header.locator("input[name=headers-name]").fill("X-Trace")
    new_header.locator("input[name=headers-value]").fill("abc")
    expect(request).to_contain_text("X-Trace: abc")

    completed = payload.input_value()
    payload.fill(completed.replace('"msgs": [', '"msgs": [,', 1))
    expect(errors).to_contain_text(re.compile(r"line \d+, column \d+"))
    expect(request).to_have_text("Fix the problems above to see the request.")
    payload.fill(completed)
    expect(errors).to_be_hidden()
    expect(request).to_contain_text("X-Trace: abc")

    page.get_by_role("button", name="Save and continue editing").click()

    expect(page).to_have_url(re.compile(r"/admin/providers/provider/\d+/change/"))
    expect(page.locator(".messagelist .success")).to_contain_text("8x8 e2e")
    provider = Provider.objects.get(nickname="8x8 e2e")
    expect(page.locator("#callback-url")).to_have_text(provider.callback_url)
    expect(page.locator("[data-copy='#callback-url']")).to_have_text("Copy")
    api_key_input = page.locator("input[name=variables-value]").nth(1)
    expect(api_key_input).to_have_value("")
    expect(api_key_input).to_have_attribute(
        "placeholder", f"{MASKED_API_KEY} {STORED_HINT}"
    )
    assert API_KEY not in page.content()
    assert provider.variables.get(name="apiKey").value == API_KEY
    screenshot(page, "saved")

    page.goto("/admin/providers/provider/")
    expect(page.locator("#result_list")).to_contain_text("8x8 e2e")


def test_copy_button_puts_the_callback_url_on_the_clipboard(
    admin_page: Page, context: BrowserContext
) -> None:
    provider = Provider.objects.create(
        nickname="Copy me",
        endpoint="https://sms.example/send",
        payload='{"to": "$$To", "text": "$$Body"}',
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin_page.goto(f"/admin/providers/provider/{provider.pk}/change/")

    # The callback URL's button; the inbound URL has one of its own.
    copy = admin_page.locator("button.copy-button[data-copy='#callback-url']")
    expect(copy).to_have_text("Copy")
    copy.click()

    expect(copy).to_have_text("Copied")
    assert (
        admin_page.evaluate("navigator.clipboard.readText()") == provider.callback_url
    )


def test_moengage_screen_filled_by_hand_reopens_in_moengage_screen(
    admin_page: Page, screenshot
) -> None:
    page = admin_page
    page.goto(ADD_URL)
    page.get_by_role("link", name="Custom connector (MoEngage style)").click()
    expect(page.locator(".screen-label")).to_have_text(
        "Custom connector (MoEngage style)"
    )

    page.get_by_label("Service provider name").fill("8x8 MoEngage e2e")
    page.get_by_label("Sender name").fill("8x8 SMS")
    page.get_by_label("Transactional").check()
    page.get_by_label("Sender ID / Virtual Number").fill("ACME")
    page.get_by_label("API URL").fill(
        "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"
    )

    variables = page.locator("[data-kv-rows=variables]")
    variables.get_by_role("button", name="Add row").click()
    variables.locator("input[name=variables-name]").nth(0).fill("subAccountId")
    variables.locator("input[name=variables-value]").nth(0).fill(SUB_ACCOUNT)
    variables.locator("input[name=variables-name]").nth(1).fill("apiKey")
    variables.locator("input[name=variables-value]").nth(1).fill(API_KEY)
    variables.locator("select[name=variables-secret]").nth(1).select_option("1")
    # Named variables join the palette as they are typed.
    expect(
        page.locator('[data-palette-variables] [data-insert="{apiKey}"]')
    ).to_be_visible()

    headers = page.locator("[data-kv-rows=headers]")
    headers.get_by_role("button", name="Add row").click()
    headers.locator("input[name=headers-name]").nth(0).fill("Content-Type")
    headers.locator("input[name=headers-value]").nth(0).fill("application/json")
    headers.locator("input[name=headers-name]").nth(1).fill("Authorization")
    headers.locator("input[name=headers-value]").nth(1).fill("Bearer {apiKey}")

    page.get_by_label("JSON").check()
    body = page.locator("#id_payload")
    typed = '{"source": "{sender_id}", "destination": "", "text": "Moesms_message"}'
    body.fill(typed)
    caret = typed.index('"destination": "') + len('"destination": "')
    place_cursor(body, caret)
    page.locator('[data-insert="Moesms_destination"]').click()
    expect(body).to_have_value(typed[:caret] + "Moesms_destination" + typed[caret:])

    request, errors = preview(page)
    expect(request).to_contain_text(
        f"POST https://sms.8x8.com/api/v1/subaccounts/{SUB_ACCOUNT}/messages"
    )
    expect(request).to_contain_text(f"Authorization: Bearer {MASKED_API_KEY}")
    expect(request).to_contain_text('"destination":"+6591234567"')
    expect(request).not_to_contain_text(API_KEY)
    expect(errors).to_be_hidden()

    page.get_by_role("button", name="Save", exact=True).click()

    # "Save" leads on to the next step (the Send Test SMS page); reopen from the list.
    expect(page.locator(".messagelist .success")).to_contain_text("saved")
    saved = Provider.objects.get(nickname="8x8 MoEngage e2e")
    assert saved.setup_screen == Provider.SetupScreen.MOENGAGE
    page.goto("/admin/providers/provider/")
    page.get_by_role("link", name="8x8 MoEngage e2e").click()

    expect(page.locator(".screen-label")).to_have_text(
        "Custom connector (MoEngage style)"
    )
    expect(page.get_by_label("Service provider name")).to_have_value("8x8 MoEngage e2e")
    expect(page.get_by_label("Sender name")).to_have_value("8x8 SMS")
    expect(page.get_by_label("Transactional")).to_be_checked()
    api_key_input = page.locator("input[name=variables-value]").nth(1)
    expect(api_key_input).to_have_value("")
    expect(api_key_input).to_have_attribute(
        "placeholder", f"{MASKED_API_KEY} {STORED_HINT}"
    )
    expect(request).to_contain_text(f"Authorization: Bearer {MASKED_API_KEY}")
    assert API_KEY not in page.content()
    screenshot(page, "reopened")


def test_a_key_typed_in_a_header_moves_to_a_secret_variable_in_one_click(
    admin_page: Page, screenshot
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(ADD_URL + "?screen=clevertap")
    page.get_by_label("Nickname").fill("8x8 typed key")
    page.get_by_label("HTTP Endpoint").fill(
        "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"
    )
    variables = page.locator("[data-kv-rows=variables]")
    variables.locator("input[name=variables-name]").first.fill("subAccountId")
    variables.locator("input[name=variables-value]").first.fill(SUB_ACCOUNT)
    headers = page.locator("[data-kv-rows=headers]")
    headers.locator("input[name=headers-name]").first.fill("Authorization")
    headers.locator("input[name=headers-value]").first.fill(f"Bearer {TYPED_KEY}")
    page.get_by_label("JSON").check()
    page.locator("#id_payload").fill(
        '{"source": "{sender_id}", "destination": "$$To", "text": "$$Body"}'
    )
    page.get_by_label("Sender ID / Virtual Number").fill("ACME")

    request, errors = preview(page)
    expect(errors).to_contain_text("Move it to a secret variable")
    # The preview is a column beside the payload, not below the whole form.
    payload_box = page.locator("#id_payload").bounding_box()
    preview_box = page.locator("#request-preview").bounding_box()
    assert preview_box["x"] >= payload_box["x"] + payload_box["width"]
    assert abs(preview_box["y"] - payload_box["y"]) < 200

    page.get_by_role("button", name="Save", exact=True).click()

    # Refused, and the key is not written back into the page.
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator("[data-held-note]")).to_contain_text(
        "Your secret values are kept"
    )
    assert TYPED_KEY not in page.content()
    screenshot(page, "refused")
    page.locator(".field-headers").get_by_role(
        "button", name="Move it to a secret variable"
    ).click()

    expect(headers.locator("input[name=headers-value]").first).to_have_value(
        "Bearer {apiKey}"
    )
    new_variable = variables.locator("tr.kv-row").last
    expect(new_variable.locator("input[name=variables-name]")).to_have_value("apiKey")
    expect(new_variable.locator("select[name=variables-secret]")).to_have_value("1")
    expect(request).to_contain_text("Authorization: Bearer ••••QRST")

    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist .success")).to_contain_text("saved")
    provider = Provider.objects.get(nickname="8x8 typed key")
    assert provider.variables.get(name="apiKey").value == TYPED_KEY
    assert provider.variables.get(name="apiKey").secret
    assert provider.headers.get(name="Authorization").value == "Bearer {apiKey}"


def test_a_pasted_guide_takes_smsbridges_placeholders_in_one_click_from_the_preview(
    admin_page: Page, screenshot
) -> None:
    page = admin_page
    page.goto(ADD_URL + "?screen=clevertap")
    page.get_by_label("Nickname").fill("8x8 pasted guide")
    page.get_by_label("HTTP Endpoint").fill(
        "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/partners/clevertap/batch"
    )
    headers = page.locator("[data-kv-rows=headers]")
    headers.locator("input[name=headers-name]").first.fill("Authorization")
    headers.locator("input[name=headers-value]").first.fill("Bearer <API_KEY>")
    page.get_by_label("JSON").check()
    page.locator("#id_payload").fill(GUIDE_PAYLOAD)

    request, errors = preview(page)
    expect(errors).to_contain_text("JSON does not allow // comments")
    errors.get_by_role("button", name="Use smsbridge's placeholders").click()

    expect(page.locator("#id_payload")).to_have_value(GUIDE_PAYLOAD_FIXED)
    expect(headers.locator("input[name=headers-value]").first).to_have_value(
        "Bearer {apiKey}"
    )
    variables = page.locator("[data-kv-rows=variables]")
    names = variables.locator("input[name=variables-name]")
    expect(names).to_have_count(2)
    expect(names.nth(0)).to_have_value("subAccountId")
    expect(names.nth(1)).to_have_value("apiKey")
    expect(variables.locator("select[name=variables-secret]").nth(1)).to_have_value("1")
    values = variables.locator("input[name=variables-value]")
    expect(values.nth(0)).to_be_focused()
    expect(errors).to_contain_text("Variable 1 (subAccountId): enter a value.")
    screenshot(page, "fixed")

    values.nth(0).fill(SUB_ACCOUNT)
    values.nth(1).fill(API_KEY)
    page.get_by_label("Sender ID / Virtual Number").fill("ACME")
    expect(request).to_contain_text(f"Authorization: Bearer {MASKED_API_KEY}")
    expect(request).to_contain_text('"source":"ACME"')
    expect(errors).to_be_hidden()


def test_an_endpoint_variable_not_yet_defined_is_added_in_one_click(
    admin_page: Page,
) -> None:
    page = admin_page
    page.goto(ADD_URL + "?screen=clevertap")
    page.get_by_label("Nickname").fill("8x8 endpoint variable")
    page.get_by_label("HTTP Endpoint").fill(
        "https://sms.8x8.com/api/v1/subaccounts/{subAccountId}/messages"
    )
    page.get_by_label("JSON").check()
    page.locator("#id_payload").fill(
        '{"source": "{sender_id}", "destination": "$$To", "text": "$$Body"}'
    )
    page.get_by_label("Sender ID / Virtual Number").fill("ACME")

    request, errors = preview(page)
    expect(errors).to_contain_text("{subAccountId} is not defined")
    errors.get_by_role("button", name="Add variable subAccountId").click()

    variables = page.locator("[data-kv-rows=variables]")
    expect(variables.locator("input[name=variables-name]").first).to_have_value(
        "subAccountId"
    )
    value = variables.locator("input[name=variables-value]").first
    expect(value).to_be_focused()
    value.fill(SUB_ACCOUNT)
    expect(request).to_contain_text(
        f"POST https://sms.8x8.com/api/v1/subaccounts/{SUB_ACCOUNT}/messages"
    )


# --- a guide's table pasted into the rows ------------------------------------------


def rows_of(page: Page, field: str) -> list[tuple[str, str]]:
    rows = page.locator(f"[data-kv-rows={field}] tr.kv-row")
    return [
        (row.locator(".kv-name").input_value(), row.locator(".kv-value").input_value())
        for row in rows.all()
    ]


@pytest.mark.parametrize(
    ("screen", "field", "text", "rows"),
    [
        pytest.param(
            "clevertap",
            "headers",
            "Authorization\tBearer {apiKey}\r\nContent-Type\tapplication/json\r\n",
            [
                ("Authorization", "Bearer {apiKey}"),
                ("Content-Type", "application/json"),
            ],
            id="headers-copied-from-a-table",
        ),
        pytest.param(
            "moengage",
            "url_parameters",
            "username: acme\n\ncallback: https://example.com/dlr?a=1\n",
            [("username", "acme"), ("callback", "https://example.com/dlr?a=1")],
            id="parameters-as-key-colon-value",
        ),
        pytest.param(
            "clevertap",
            "variables",
            "Name\tValue\nsubAccountId\tacme_sub01\napiKey\t",
            [("subAccountId", "acme_sub01"), ("apiKey", "")],
            id="variables-with-the-tables-heading",
        ),
    ],
)
def test_a_table_pasted_into_a_key_fills_one_row_per_line(
    admin_page: Page, screen: str, field: str, text: str, rows: list
) -> None:
    page = admin_page
    page.goto(f"{ADD_URL}?screen={screen}")

    paste(page.locator(f"[data-kv-rows={field}] .kv-name").first, text)

    assert rows_of(page, field) == rows
    expect(page.locator(f"[data-kv-rows={field}] .kv-value").last).to_be_focused()


def test_a_table_pasted_below_filled_rows_keeps_them_in_order(
    admin_page: Page,
) -> None:
    page = admin_page
    page.goto(f"{ADD_URL}?preset=8x8-clevertap")
    headers = page.locator("[data-kv-rows=headers]")
    headers.get_by_role("button", name="Add row").click()

    paste(headers.locator(".kv-name").nth(2), "Accept: */*\nX-Trace: on")

    assert rows_of(page, "headers") == [
        ("Authorization", "Bearer {apiKey}"),
        ("Content-Type", "application/json"),
        ("Accept", "*/*"),
        ("X-Trace", "on"),
    ]
    paste(headers.locator(".kv-name").nth(0), "X-One: 1\nX-Two: 2")
    assert [name for name, _ in rows_of(page, "headers")] == [
        "X-One",
        "X-Two",
        "Content-Type",
        "Accept",
        "X-Trace",
    ]


def test_a_single_line_pastes_into_the_key_as_usual(admin_page: Page) -> None:
    page = admin_page
    page.goto(f"{ADD_URL}?screen=clevertap")

    paste(page.locator("[data-kv-rows=headers] .kv-name").first, "Authorization\n")

    # The browser's own paste: one row, the line break dropped from the input.
    assert rows_of(page, "headers") == [("Authorization", "")]


# --- Batch proposes its key ----------------------------------------------------------

NESTED_ARRAYS = (
    '{"messages": [{"destinations": [{"to": "$$To"}], "text": "$$Body", '
    '"from": "{sender_id}"}]}'
)


@pytest.mark.parametrize(
    ("payload", "typed", "key"),
    [
        pytest.param(NESTED_ARRAYS, "", "messages", id="the-top-level-array"),
        pytest.param(
            '{"a": [{"to": "$$To"}], "b": ["$$Body"]}', "", "", id="two-arrays"
        ),
        pytest.param(NESTED_ARRAYS, "msgs", "msgs", id="a-key-already-typed"),
    ],
)
def test_ticking_batch_proposes_the_payloads_one_top_level_array(
    admin_page: Page, payload: str, typed: str, key: str
) -> None:
    page = admin_page
    page.goto(f"{ADD_URL}?screen=clevertap")
    page.locator("#id_payload").fill(payload)
    page.get_by_label("Key name").evaluate("(field, v) => { field.value = v; }", typed)

    page.get_by_label("Batch", exact=True).check()

    expect(page.get_by_label("Key name")).to_have_value(key)


def test_a_payload_pasted_after_ticking_batch_proposes_its_key(
    admin_page: Page,
) -> None:
    page = admin_page
    page.goto(f"{ADD_URL}?screen=clevertap")
    page.get_by_label("Batch", exact=True).check()
    payload = page.locator("#id_payload")

    payload.fill(NESTED_ARRAYS)
    payload.blur()

    expect(page.get_by_label("Key name")).to_have_value("messages")


def test_auth_2_shows_its_fields_and_previews_a_masked_bearer(
    admin_page: Page,
) -> None:
    page = admin_page
    page.goto(ADD_URL)
    page.get_by_role("link", name="Generic provider (CleverTap style)").click()
    client_url = page.get_by_label("Client URL")
    expect(client_url).to_be_hidden()

    page.get_by_label("Authentication").select_option("oauth")

    expect(client_url).to_be_visible()
    page.get_by_label("Nickname").fill("OAuth e2e")
    page.get_by_label("HTTP Endpoint").fill("https://sms.example.com/v1/messages")
    client_url.fill("https://auth.example.com/oauth/token")
    page.get_by_label("Client ID").fill("acme")
    page.get_by_label("Secret key").fill(TYPED_KEY)
    page.get_by_label("JSON").check()
    page.locator("#id_payload").fill('{"to": "$$To", "text": "$$Body"}')

    request, errors = preview(page)
    expect(request).to_contain_text("Authorization: Bearer ••••")
    expect(request).not_to_contain_text(TYPED_KEY)
    expect(errors).to_be_hidden()

    page.get_by_role("button", name="Save and continue editing").click()

    provider = Provider.objects.get(nickname="OAuth e2e")
    assert provider.oauth_client_secret == TYPED_KEY
    expect(page.get_by_label("Secret key")).to_have_attribute(
        "placeholder", re.compile("Stored")
    )
    assert TYPED_KEY not in page.content()
