"""The campaigns app in the admin: one module per area, each registering its
model admins when imported here (Django's admin looks for `campaigns.admin`)."""

from . import campaigns, opt_outs, replies, tokens  # noqa: F401
