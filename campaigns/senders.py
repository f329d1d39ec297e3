"""Who sends a campaign's messages: its one sender, or its route's senders,
chosen per number. Launch, events and the campaign form ask the same questions
of both: which sender a number starts with, what every provider's request needs,
and why the campaign cannot send at all.
"""

from __future__ import annotations

from providers.models import Sender
from providers.outbound.rendering import CustomPlaceholders
from providers.routes import Plan, destination

from . import placeholders
from .models import Campaign


class Senders:
    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.plan: Plan | None = campaign.route.plan() if campaign.route_id else None
        self.single: Sender | None = None if self.plan else campaign.resolved_sender()

    @property
    def all(self) -> list[Sender]:
        if self.plan is not None:
            return list(self.plan.senders.values())
        return [self.single] if self.single else []

    @property
    def lead(self) -> Sender | None:
        return self.plan.lead if self.plan is not None else self.single

    @property
    def honours_opt_outs(self) -> bool:
        """A route follows the campaign's sender type; a sender its own."""
        if self.plan is not None:
            return self.campaign.sender_type == Sender.SenderType.PROMOTIONAL
        return bool(self.single and self.single.honours_opt_outs)

    def first(self, to: str) -> tuple[Sender | None, int]:
        """The sender a message to `to` starts with, and its place on the route."""
        if self.plan is None:
            return self.single, 0
        chain = self.plan.chain(to)
        return (chain[0], 0) if chain else (None, 0)

    def unroutable(self, to: str) -> str:
        """Why the route has no provider for `to`."""
        region, code = destination(to)
        return (
            f"The route “{self.plan.route}” has no provider for {to} "
            f"({region or code or 'unknown country'}): add a step for "
            f"{region or code} or a default step (no country)."
        )

    def needs(self) -> CustomPlaceholders:
        """The custom placeholders any of the providers' requests uses."""
        found = [placeholders.needed(sender) for sender in self.all]
        return CustomPlaceholders(
            per_request=frozenset().union(*(n.per_request for n in found)),
            per_message=frozenset().union(*(n.per_message for n in found)),
            template=any(n.template for n in found),
        )

    def problem(self) -> str:
        """Why no message can be sent at all, or ""."""
        campaign = self.campaign
        if self.plan is not None:
            if not self.plan.senders:
                return f"The route “{self.plan.route}” has no providers."
            if not any(s.provider.is_active for s in self.plan.senders.values()):
                return f"Every provider of the route “{self.plan.route}” is archived."
            return ""
        if self.single is None:
            return (
                f"There is no default {campaign.get_sender_type_display().lower()} "
                "sender; choose a sender or mark one as default."
            )
        if not self.single.provider.is_active:
            return f"The provider {self.single.provider} is archived (inactive)."
        return ""

    def template_problem(self) -> str:
        needs = {s.pk: placeholders.needed(s) for s in self.all}
        for sender in self.all:
            problem = placeholders.template_problem(
                self.campaign.template, sender, needs[sender.pk]
            )
            if problem:
                return problem
        return ""
