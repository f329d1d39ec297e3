"""Pasting as a user does, for tests of what the page does with a paste."""

from __future__ import annotations

from playwright.sync_api import Locator


def paste(field: Locator, text: str) -> None:
    """Paste as Ctrl+V does: a paste event carrying the text, and the text put in
    the field unless a script took the event."""
    field.focus()
    field.evaluate(
        """(field, text) => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            const paste = new ClipboardEvent(
                "paste", {clipboardData: data, bubbles: true, cancelable: true}
            );
            if (field.dispatchEvent(paste)) field.value += text;
        }""",
        text,
    )
