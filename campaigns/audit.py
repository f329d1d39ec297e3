"""The campaigns app's audited models (providers/audit/ does the recording)."""

from __future__ import annotations

from providers.audit import track


def track_campaigns() -> None:
    from .models import ApiToken, Campaign

    track(Campaign)
    # The hash is all a token's secret that is stored; last use is not a change.
    track(
        ApiToken,
        exclude=("token_hash", "last_used_at"),
        flags={"is_active": ("Token deactivated", "Token reactivated")},
    )
