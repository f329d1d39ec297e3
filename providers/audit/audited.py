"""The providers app's audited models (campaigns/audit.py has its own)."""

from __future__ import annotations

from .tracking import track

# Every credential a provider holds at the top level. The callback token is one:
# the callback URL is what a provider presents to be believed.
PROVIDER_SECRETS = (
    "basic_password",
    "oauth_client_secret",
    "dlr_credentials",
    "callback_token",
    "previous_callback_token",
)


def track_providers() -> None:
    from ..message_templates import MessageTemplate
    from ..models import Provider, Sender
    from ..routes import Route, RouteStep

    # updated_at says only what the entry's own time says.
    track(
        Provider,
        secret=PROVIDER_SECRETS,
        exclude=("updated_at",),
        flags={"is_active": ("Archived", "Restored")},
    )
    track(Sender)
    track(MessageTemplate)
    track(Route, exclude=("updated_at",))
    track(RouteStep)
