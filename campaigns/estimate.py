"""What launching a campaign will send: recipients, segments and cost units.

Shown on the launch confirmation page, so the admin sees the size of a send
before it happens. smsbridge knows no prices, so the cost is in units of one
segment each, which is how providers bill.
"""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from itertools import islice

from providers import encoding

from .models import Campaign
from .personalise import fields_in
from .senders import Senders
from .sending import message_texts, opted_out

# Personalised messages are counted one by one up to this many recipients; a
# larger audience is estimated from them, so the page answers in bounded time.
COUNTED_RECIPIENTS = 20_000


@dataclass(frozen=True)
class Estimate:
    recipients: int | None  # None: an event-triggered campaign sends per event
    opted_out: int
    segments: Counter[int]  # segments per message -> messages counted
    total_segments: int | None
    exact: bool

    @property
    def segments_per_message(self) -> str:
        """ "1", or "1–2" when personalisation makes some messages longer."""
        low, high = min(self.segments, default=0), max(self.segments, default=0)
        return str(low) if low == high else f"{low}–{high}"

    @property
    def cost_units(self) -> int | None:
        return self.total_segments


def estimate(campaign: Campaign) -> Estimate:
    """What `campaign` would send if launched now; its sender must resolve."""
    if campaign.kind == Campaign.Kind.EVENT:
        per_message = encoding.segment_count(campaign.message)
        return Estimate(None, 0, Counter({per_message: 1}), None, exact=True)
    skip = opted_out(campaign, Senders(campaign))
    recipients = campaign.audience.count() - len(skip)
    if not (fields_in(campaign.message) or "$$To" in campaign.message):
        per_message = encoding.segment_count(campaign.message)
        total = per_message * recipients
        return Estimate(recipients, len(skip), Counter({per_message: 1}), total, True)
    counted = counted_segments(campaign, skip)
    measured = sum(size * n for size, n in counted.items())
    messages = sum(counted.values())
    exact = messages >= recipients
    total = measured if exact else round(measured * recipients / messages)
    return Estimate(recipients, len(skip), counted, total, exact)


def counted_segments(campaign: Campaign, skip: set[str]) -> Counter[int]:
    with closing(message_texts(campaign)) as texts:
        sent = (text for to, text, _ in texts if to not in skip)
        return Counter(
            encoding.segment_count(text) for text in islice(sent, COUNTED_RECIPIENTS)
        )
