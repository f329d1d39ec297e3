"""A 100,000-recipient campaign through a batch provider, 1,000 records a request.

Timed: sending.launch (with eager tasks, as one worker would) and any chunk left,
until the last row is SENT. Floor, in the same run: the same request bodies
posted by a bare requests.Session loop to the same fake server, plus one
bulk_create of 100,000 Message rows. Target: at most 2x the floor.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import common

RECIPIENTS = 100_000
TARGET = 2.0


def floor_posts(requests_: list) -> float:
    session = common.bare_session()
    common.post(session, requests_[0])  # open the connection outside the clock
    started = time.perf_counter()
    for request in requests_:
        common.post(session, request)
    return time.perf_counter() - started


def floor_insert(campaign) -> float:
    """One bulk_create of as many rows, for another campaign (ids are unique)."""
    import uuid

    from campaigns.models import Campaign, Message

    other = Campaign.objects.create(
        name="bench floor", sender=campaign.sender, message=campaign.message
    )
    rows = [
        Message(
            campaign=other,
            sender=campaign.sender,
            message_id=uuid.uuid4().hex,
            to=to,
            body=body,
        )
        for to, body in campaign.messages.values_list("to", "body")
    ]
    started = time.perf_counter()
    Message.objects.bulk_create(rows)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=RECIPIENTS)
    parser.add_argument(
        "--provider-ids",
        action="store_true",
        help="the fake answers one umid per record and the provider reads them "
        "(message id path messages.0.umid), so every row also gets its provider id",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the run")
    options = parser.parse_args(argv)
    common.configure()
    common.setup_django()
    from campaigns.models import Message

    with common.fake_provider(ids=options.provider_ids) as url:
        provider, sender = common.make_provider(
            slug="8x8-clevertap", base_url=url, sender_type="promotional"
        )
        if options.provider_ids:
            provider.message_id_path = "messages.0.umid"
            provider.save(update_fields=["message_id_path"])
        campaign = common.make_campaign(sender=sender, size=options.recipients)
        with common.profiled(options.profile):
            elapsed, to_enqueue = common.run_campaign(campaign)
        sent = campaign.messages.filter(status=Message.Status.SENT).count()
        if sent != options.recipients:
            print(f"only {sent:,} of {options.recipients:,} rows are SENT")
            return 2
        if (
            options.provider_ids
            and campaign.messages.filter(provider_message_id="").exists()
        ):
            print("some rows did not get the provider's umid")
            return 2
        requests_ = common.rendered_requests(campaign, group_size=provider.batch_size)
        posts = floor_posts(requests_)
        insert = floor_insert(campaign)
    size = sum(len(r.body) for r in requests_) / len(requests_)
    return common.finish(
        common.Result(
            bench="batch_campaign",
            title=f"{options.recipients:,} recipients, {provider.batch_size:,} per "
            "request, launch to last row SENT",
            ours=elapsed,
            floor=posts + insert,
            unit="s",
            target=TARGET,
            lower_is_better=True,
            details=[
                "with a provider umid per record (--provider-ids)"
                if options.provider_ids
                else "the preset as shipped: no provider id read from the answer",
                f"{len(requests_)} requests of {size / 1024:,.0f} KiB on average",
                f"smsbridge: {to_enqueue:.2f} s creating rows, "
                f"{elapsed - to_enqueue:.2f} s sending "
                f"({options.recipients / elapsed:,.0f} messages/s overall)",
                f"floor: {posts:.2f} s of bare POSTs + {insert:.2f} s for one "
                "bulk_create",
            ],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
