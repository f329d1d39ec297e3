"""The providers app in the admin: one module per model admin, each registering
itself when imported here (Django's admin looks for `providers.admin`)."""

from . import (  # noqa: F401
    audit,
    message_templates,
    providers,
    routes,
    senders,
    test_sends,
)
