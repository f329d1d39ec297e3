"""providers.audit.rows and masking: what an entry says of rows and secrets."""

from __future__ import annotations

from providers.audit.masking import mask, secret_change
from providers.audit.rows import row_changes
from providers.rows import RowValue

KEY = "sk-live-5f2b9c0e7d41a3e8"


def test_plain_rows_show_from_what_to_what() -> None:
    before = [RowValue("Accept", "text/plain"), RowValue("X-Old", "1")]
    after = [RowValue("Accept", "application/json"), RowValue("X-New", "2")]

    assert row_changes("Header", before, after) == {
        "Header Accept": ["text/plain", "application/json"],
        "Header X-Old": ["1", "None"],
        "Header X-New": ["None", "2"],
    }


def test_a_secret_row_says_changed_and_nothing_of_its_value() -> None:
    before = [RowValue("apiKey", KEY, True), RowValue("same", KEY, True)]
    after = [RowValue("apiKey", KEY + "x", True), RowValue("same", KEY, True)]

    changes = row_changes("Variable", before, after)

    assert changes == {"Variable apiKey": ["••••", "changed"]}
    assert row_changes("Variable", [], [RowValue("apiKey", KEY, True)]) == {
        "Variable apiKey": ["None", "changed"]
    }


def test_unchanged_rows_and_a_new_order_say_nothing() -> None:
    rows = [RowValue("a", "1"), RowValue("b", "2", True)]

    assert row_changes("Header", rows, list(reversed(rows))) == {}


def test_the_mask_keeps_no_character_of_the_value() -> None:
    assert mask(KEY) == "••••"
    assert mask("") == mask("None") == ""
    assert secret_change("", "••••") == ["", "changed"]
    assert secret_change("••••", "••••") == ["••••", "changed"]
    assert secret_change("••••", "") == ["••••", "removed"]
