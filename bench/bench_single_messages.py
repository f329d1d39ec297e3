"""10,000 messages through a one-message-per-request provider (8x8's messages
endpoint, as the MoEngage preset sets it up).

Timed: sending.launch with eager tasks until the last row is SENT; the figure
is messages per second. Floor, in the same run: the same request bodies posted
by a bare requests.Session from a ThreadPoolExecutor with SEND_CONCURRENCY
workers, to the same fake server. Target: at least 0.8x the floor's throughput.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench import common

MESSAGES = 10_000
TARGET = 0.8


def floor_posts(requests_: list, *, workers: int) -> float:
    session = common.bare_session()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Open the pool's connections outside the clock, as the app's are by then.
        list(pool.map(lambda r: common.post(session, r), requests_[:workers]))
        started = time.perf_counter()
        list(pool.map(lambda r: common.post(session, r), requests_))
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--profile", action="store_true", help="cProfile the run")
    options = parser.parse_args(argv)
    common.configure()
    common.setup_django()
    from django.conf import settings

    from campaigns.models import Message

    workers = settings.SEND_CONCURRENCY
    with common.fake_provider() as url:
        _, sender = common.make_provider(
            slug="8x8-moengage", base_url=url, sender_type="transactional"
        )
        campaign = common.make_campaign(sender=sender, size=options.messages)
        with common.profiled(options.profile):
            elapsed, to_enqueue = common.run_campaign(campaign)
        sent = campaign.messages.filter(status=Message.Status.SENT).count()
        if sent != options.messages:
            print(f"only {sent:,} of {options.messages:,} rows are SENT")
            return 2
        floor = floor_posts(
            common.rendered_requests(campaign, group_size=1), workers=workers
        )
    sending = elapsed - to_enqueue
    return common.finish(
        common.Result(
            bench="single_messages",
            title=f"{options.messages:,} messages, one per request, "
            f"SEND_CONCURRENCY={workers}, launch to last row SENT",
            ours=options.messages / elapsed,
            floor=options.messages / floor,
            unit="messages/s",
            target=TARGET,
            lower_is_better=False,
            details=[
                f"smsbridge: {elapsed:.2f} s in all: {to_enqueue:.2f} s creating "
                f"rows, {sending:.2f} s sending "
                f"({options.messages / sending:,.0f} messages/s while sending)",
                f"floor: {floor:.2f} s for the same {options.messages:,} POSTs "
                f"from {workers} threads",
            ],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
