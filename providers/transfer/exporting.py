"""Writing the provider file."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..models import Provider
from .fileformat import document


class UnknownNicknames(LookupError):
    pass


def chosen(nicknames: Iterable[str]):
    """The providers named (any letter case), or every one for none named."""
    names = list(nicknames)
    providers = Provider.objects.prefetch_related(
        "headers", "url_parameters", "variables", "senders"
    ).order_by("nickname")
    if not names:
        return list(providers)
    found = {p.nickname.lower(): p for p in providers}
    unknown = [name for name in names if name.lower() not in found]
    if unknown:
        raise UnknownNicknames(", ".join(f"“{name}”" for name in unknown))
    return [found[name.lower()] for name in names]


def export_text(providers) -> str:
    return json.dumps(document(providers), indent=2, ensure_ascii=False) + "\n"
