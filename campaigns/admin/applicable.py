"""Which of Launch, Cancel and Retry failed apply to a campaign, and why not.

The change page offers a button only when its action applies, and the action
menu of the campaign list only when it applies to some campaign listed; an
action posted anyway is refused with the reason, and changes nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .. import actions, sending
from ..models import Campaign, Message, MessageCount

Status = Campaign.Status
ACTIONS = ("launch", "cancel", "retry")
LAUNCHABLE = (Status.DRAFT, Status.SCHEDULED)
CANCELLABLE = (Status.SCHEDULED, Status.SENDING)


def refusal(campaign: Campaign, action: str) -> str | None:
    """Why `action` does not apply to `campaign` now, or None when it does."""
    if action == "launch":
        try:
            sending.check_launchable(campaign)
        except sending.LaunchError as err:
            return str(err)
        return None
    if action == "cancel" and campaign.status not in CANCELLABLE:
        return (
            f"“{campaign}” is {campaign.get_status_display().lower()}; only a "
            "scheduled or sending campaign can be cancelled."
        )
    if action == "retry" and not actions.retryable_categories(campaign):
        return (
            f"“{campaign}” has no failed message to send again (messages that "
            "reached the provider, opted-out numbers and unconfirmed sends are "
            "never sent twice)."
        )
    return None


def offered(campaigns: QuerySet[Campaign]) -> set[str]:
    """The actions that apply to at least one of `campaigns`."""
    found = set()
    if campaigns.filter(status__in=LAUNCHABLE).exists():
        found.add("launch")
    if campaigns.filter(status__in=CANCELLABLE).exists():
        found.add("cancel")
    if retryable_failures(campaigns):
        found.add("retry")
    return found


def retryable_failures(campaigns: QuerySet[Campaign]) -> bool:
    """Whether some of `campaigns` have failed messages worth another try, by
    their counters: asking the messages could read millions of final failures."""
    return (
        MessageCount.objects.filter(
            campaign__in=campaigns.values("pk").order_by(),
            status=Message.Status.FAILED,
            count__gt=0,
        )
        .exclude(failure_category__in=actions.NEVER_RETRIED)
        .exists()
    )
