"""Inbound replies: what a reply to one of our numbers does.

Each reply is kept as an InboundMessage with the sender it was sent to and the
last message smsbridge sent its number. If it is one of the sender's keywords
(STOP, START, ...), the number goes on or comes off the opt-out list, and the
sender's auto-reply for that keyword, if it has one, goes out on the worker
through the one outbound pipeline.

Auto-replies never loop: they answer keywords only, and an auto-reply text may
not be a keyword (providers.forms.sender); none goes to one of smsbridge's own
numbers or answers a text that is one of its auto-replies; and one number gets
at most INBOUND_AUTO_REPLIES_PER_DAY of them in 24 hours. Each is sent once,
never retried, and its result kept on the reply.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from providers import phones
from providers.dlr import StatusUpdate
from providers.inbound import DEFAULT_KEYWORDS, KeywordAction, Reply, normalised
from providers.models import Provider, Sender, TestSend
from providers.outbound.pipeline import (
    Category,
    Message,
    Outbound,
    Outcome,
    TemplateError,
)

from . import tasks
from .models import InboundMessage, OptOut
from .models import Message as SentMessage

logger = logging.getLogger(__name__)

ReplyStatus = InboundMessage.ReplyStatus
# An auto-reply waiting this long was never handed to the worker (the broker
# was away): the sweeper sends it.
DUE_GRACE = timedelta(minutes=1)


def receive(
    *, provider: Provider, replies: list[Reply], body: str = ""
) -> list[InboundMessage]:
    """Keep the replies of one callback and act on their keywords; the new
    ones (a reply the provider sent again is left out)."""
    with transaction.atomic():
        kept = [record(provider=provider, reply=reply, body=body) for reply in replies]
    return [inbound for inbound in kept if inbound is not None]


def receive_tracked(
    *, provider_id: int, update: StatusUpdate, target: SentMessage | TestSend | None
) -> InboundMessage | None:
    """A CleverTap "replied" event, which names the message it answers (meta)
    rather than the number it came from."""
    reply = Reply(
        from_number=target.to if target is not None else "",
        to_number=update.to_phone,
        text=update.text,
        occurred_at=update.occurred_at,
    )
    provider = Provider.objects.only("pk").get(pk=provider_id)
    message = target if isinstance(target, SentMessage) else None
    sender = target.sender if target is not None else None
    return record(provider=provider, reply=reply, message=message, sender=sender)


def record(
    *,
    provider: Provider,
    reply: Reply,
    body: str = "",
    message: SentMessage | None = None,
    sender: Sender | None = None,
) -> InboundMessage | None:
    """Keep one reply and do what its keyword asks; None when the provider
    sent this very reply before (the same id)."""
    if reply.provider_message_id and already_kept(provider, reply):
        return None
    number = phones.reported(reply.from_number)
    message = message or last_message_to(provider, number)
    inbound = InboundMessage(
        provider=provider,
        sent_at=reply.occurred_at,
        provider_message_id=reply.provider_message_id[:200],
        from_number=number or reply.from_number[:40],
        to_number=reply.to_number[:40],
        text=reply.text,
        sender=sender or sender_for(provider, reply.to_number, message),
        campaign_id=message.campaign_id if message else None,
        last_message_id=message.message_id if message else "",
        body=body,
    )
    try:
        # A savepoint: should the same reply be kept meanwhile by another
        # process, this one's opt-out change goes with it.
        with transaction.atomic():
            act_on_keyword(inbound, number)
            plan_auto_reply(inbound, number, now=inbound.received_at)
            inbound.save()
    except IntegrityError:
        if not reply.provider_message_id:
            raise
        return None
    transaction.on_commit(lambda: announce(inbound))
    return inbound


def already_kept(provider: Provider, reply: Reply) -> bool:
    kept = InboundMessage.objects.filter(
        provider=provider, provider_message_id=reply.provider_message_id[:200]
    )
    return kept.exists()


def last_message_to(provider: Provider, number: str) -> SentMessage | None:
    """The last message this provider's senders sent to the number."""
    if not number:
        return None
    sent = SentMessage.objects.filter(to=number, sender__provider=provider)
    sent = sent.exclude(sent_at=None).order_by("-sent_at", "-pk")
    return sent.only("message_id", "campaign_id", "sender_id").first()


def sender_for(
    provider: Provider, to_number: str, message: SentMessage | None
) -> Sender | None:
    """The provider's sender whose ID is the number the reply went to; else the
    sender of the last message to this number; else the provider's only one."""
    senders = list(Sender.objects.filter(provider=provider).order_by("pk"))
    wanted = same_number(to_number)
    for sender in senders:
        if wanted and same_number(sender.sender_id) == wanted:
            return sender
    by_message = [s for s in senders if message and s.pk == message.sender_id]
    if by_message:
        return by_message[0]
    return senders[0] if len(senders) == 1 else None


def same_number(value: str) -> str:
    """What two spellings of one number (+65 6000 1234, 6560001234) share."""
    digits = "".join(c for c in value if c.isdigit())
    return digits.lstrip("0") or value.strip().casefold()


# --- keywords -------------------------------------------------------------------------


def act_on_keyword(inbound: InboundMessage, number: str) -> None:
    """Opt the number out or back in, if the text is one of the sender's
    keywords (the default ones when the sender is unknown)."""
    keywords = inbound.sender.keywords() if inbound.sender else DEFAULT_KEYWORDS
    action, inbound.keyword = keywords.match(inbound.text)
    if not action:
        return
    if not number:
        inbound.note = "Not a number smsbridge can read: the opt-out list is as it was."
        return
    inbound.action = action
    if action == KeywordAction.OPT_OUT:
        inbound.note = opt_out(number, source=source_of(inbound))
    else:
        inbound.note = opt_in(number)


def source_of(inbound: InboundMessage) -> str:
    to = inbound.to_number or (inbound.sender.sender_id if inbound.sender else "")
    return f"reply {inbound.keyword}" + (f" to {to}" if to else "")


def opt_out(number: str, *, source: str) -> str:
    found, created = OptOut.objects.get_or_create(
        to=number, defaults={"source": source[:100]}
    )
    if created:
        return "Added to the opt-out list."
    return f"Already on the opt-out list ({found.source}, {found.created_at:%Y-%m-%d})."


def opt_in(number: str) -> str:
    found = OptOut.objects.filter(to=number).first()
    if found is None:
        return "Was not on the opt-out list."
    found.delete()
    return (
        f"Taken off the opt-out list (added {found.created_at:%Y-%m-%d %H:%M} UTC "
        f"by {found.source})."
    )


# --- auto-replies ---------------------------------------------------------------------


def plan_auto_reply(inbound: InboundMessage, number: str, *, now: datetime) -> None:
    """Decide whether the sender answers this reply, and say why not if not."""
    text = inbound.sender.auto_reply(inbound.action) if inbound.sender else ""
    if not text:
        return
    inbound.reply_text = text
    reason = why_not_answer(inbound, number, now=now)
    if reason:
        inbound.reply_status, inbound.reply_note = ReplyStatus.HELD, reason
    else:
        inbound.reply_status = ReplyStatus.DUE
        inbound.reply_message_id = uuid.uuid4().hex


def why_not_answer(inbound: InboundMessage, number: str, *, now: datetime) -> str:
    if not inbound.sender.provider.is_active:
        return f"{inbound.sender.provider} is archived (inactive)."
    ours = Sender.objects.values_list("sender_id", "opt_out_reply", "opt_in_reply")
    numbers = {same_number(s) for s, _, _ in ours if s}
    if same_number(number) in numbers:
        return "The reply came from one of smsbridge's own numbers."
    texts = {normalised(t) for _, *replies in ours for t in replies if t}
    if normalised(inbound.text) in texts:
        return "The reply is one of smsbridge's own auto-replies."
    limit = settings.INBOUND_AUTO_REPLIES_PER_DAY
    answered = InboundMessage.objects.filter(
        from_number=number,
        received_at__gte=now - timedelta(days=1),
        reply_status__in=[ReplyStatus.DUE, ReplyStatus.SENDING, ReplyStatus.SENT],
    )
    if answered.count() >= limit:
        times = "once" if limit == 1 else f"{limit} times"
        return (
            f"The number was answered {times} in the last 24 hours, as often as "
            "INBOUND_AUTO_REPLIES_PER_DAY allows."
        )
    return ""


def send_auto_reply(*, inbound_id: int, now: datetime | None = None) -> str:
    """Send a due auto-reply once; its status afterwards ("" if it was not due:
    sent already, or being sent by another worker)."""
    due = InboundMessage.objects.filter(pk=inbound_id, reply_status=ReplyStatus.DUE)
    if not due.update(reply_status=ReplyStatus.SENDING):
        return ""
    inbound = InboundMessage.objects.select_related("sender__provider").get(
        pk=inbound_id
    )
    outcome = attempt(inbound)
    accepted = outcome.category == Category.ACCEPTED
    inbound.reply_status = ReplyStatus.SENT if accepted else ReplyStatus.FAILED
    inbound.reply_note = outcome.diagnosis[:500]
    inbound.reply_provider_message_id = outcome.provider_message_id[:200]
    inbound.replied_at = now or timezone.now()
    inbound.save(
        update_fields=[
            "reply_status",
            "reply_note",
            "reply_provider_message_id",
            "replied_at",
        ]
    )
    return inbound.reply_status


def attempt(inbound: InboundMessage) -> Outcome:
    sender = inbound.sender
    if sender is None or not sender.provider.is_active:
        return Outcome.failure(Category.INVALID, "Its sender is gone or archived.")
    message = Message(
        to=inbound.from_number,
        body=inbound.reply_text,
        message_id=inbound.reply_message_id,
    )
    try:
        (outcome,) = Outbound(sender.provider, sender).send([message])
    except TemplateError as err:
        return Outcome.failure(
            Category.INVALID, f"The provider's configuration is invalid: {err.message}"
        )
    return outcome


def send_waiting_replies(*, now: datetime | None = None) -> int:
    """Send the auto-replies the worker never got (the broker was away)."""
    since = (now or timezone.now()) - DUE_GRACE
    due = InboundMessage.objects.filter(
        reply_status=ReplyStatus.DUE, received_at__lt=since
    )
    ids = list(due.order_by("received_at").values_list("pk", flat=True)[:100])
    return sum(1 for pk in ids if send_auto_reply(inbound_id=pk))


# --- announcing -----------------------------------------------------------------------


def announce(inbound: InboundMessage) -> None:
    """Once the reply is committed: its auto-reply to the worker, then the news."""
    if inbound.reply_status == ReplyStatus.DUE:
        tasks.queue_auto_reply(inbound.pk)
    replied(inbound)


def replied(inbound: InboundMessage) -> None:
    """The one place a new inbound reply is announced, once it is committed and
    whatever its keyword did (a provider's retry of a reply already kept is not
    announced again). Forwarding replies to the status webhook belongs here:
    hand `inbound` to the webhook delivery, as a status change is."""
    logger.info(
        "Inbound reply %s through provider %s: %s",
        inbound.pk,
        inbound.provider_id,
        inbound.get_action_display() or "no keyword",
    )
