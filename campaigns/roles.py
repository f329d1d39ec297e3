"""What the staff roles may do with campaigns (the groups are defined in providers)."""

from __future__ import annotations

from providers.roles import MARKETING, ONBOARDING, SUPPORT

CAMPAIGN_ROLES: dict[str, list[str]] = {
    MARKETING: [
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.view_campaign",
        "campaigns.launch_campaign",
        "campaigns.view_message",
        "campaigns.add_optout",
        "campaigns.change_optout",
        "campaigns.delete_optout",
        "campaigns.view_optout",
    ],
    SUPPORT: [
        "campaigns.view_campaign",
        "campaigns.view_message",
        "campaigns.view_deliveryreport",
        "campaigns.view_optout",
    ],
    ONBOARDING: [
        "campaigns.view_deliveryreport",
        "campaigns.add_apitoken",
        "campaigns.change_apitoken",
        "campaigns.view_apitoken",
    ],
}

# Inbound replies: everyone who reads campaigns or sets providers up reads them;
# only a superuser deletes them, as they are the log of opt-outs and opt-ins.
ADDED_WITH_INBOUND: dict[str, list[str]] = {
    MARKETING: ["campaigns.view_inboundmessage"],
    SUPPORT: ["campaigns.view_inboundmessage"],
    ONBOARDING: ["campaigns.view_inboundmessage"],
}
