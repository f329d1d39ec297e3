"""Refusals by India's DLT platform (Distributed Ledger Technology, where every
commercial sender, principal entity and template must be registered): the
delivery-report codes CleverTap's contract gives them (906-909, 919), or a
provider's reason that names DLT, and what to do about each."""

from __future__ import annotations

import re

# The failure category of campaign messages (outcomes.Category.DLT at sending).
CATEGORY = "dlt"
WHAT_TO_CHECK = {
    "906": "check that the sender ID (header), its PE ID and the template are "
    "registered and approved on the DLT platform",
    "907": "the principal entity (PE ID) is not registered or is blocked: check "
    "the entity ID the sender belongs to",
    "908": "the template is blocked or the text does not match it: send the "
    "registered text with only its {#var#} parts changed, under its template ID",
    "909": "the recipient has not given consent for this template's category",
    "919": "check the sender ID, PE ID and template ID registered on the DLT platform",
}
# "DLT" as a word of its own, also between underscores (REJECTED_DLT_HEADER).
MENTIONS_DLT = re.compile(r"(?<![A-Za-z])DLT(?![A-Za-z])", re.IGNORECASE)


def diagnosis(error_code: str, description: str) -> str:
    """The reason to show for a DLT refusal, or "" if this is none."""
    code = error_code.strip()
    if code in WHAT_TO_CHECK:
        said = f" ({description.strip()})" if description.strip() else ""
        return f"Blocked by DLT, code {code}{said}: {WHAT_TO_CHECK[code]}."
    if MENTIONS_DLT.search(description):
        said = description.strip().rstrip(".")
        return (
            f"Blocked by DLT: {said}. Check the sender ID, PE ID and template ID "
            "registered on the DLT platform."
        )
    return ""
