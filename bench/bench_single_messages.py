"""10,000 messages through a one-message-per-request provider.

The provider is 8x8's messages endpoint, as the MoEngage preset sets it up.

Timed: sending.launch with eager tasks until the last row is SENT; the figure
is messages per second.

Floors, in the same run: SEND_CONCURRENCY threads, each taking the next request
from one shared iterator, post every request the app sent (same body, path and
headers: the app session's User-Agent, Accept, ... under the request's own) on
keep-alive connections to the same fake server. Connections are opened and
threads started outside the clock; the floors do no database work.

- requests: one requests.Session per thread; one Session shared by the threads
  is also timed, and the faster of the two is the floor. Target: at least 0.8x
  its throughput.
- http.client: one http.client.HTTPConnection per thread; its ratio is printed
  for information.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from bench import common

MESSAGES = 10_000
TARGET = 0.8


def in_threads(post: Callable, clients: list, wires: list) -> float:
    """Seconds for one thread per client to post every request, each thread
    taking the next from a shared iterator."""
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(post, clients, wires))  # connect and start the threads
        # A list iterator hands out each request once, even to several threads.
        pending = iter(wires)

        def work(client) -> None:
            for wire in pending:
                post(client, wire)

        started = time.perf_counter()
        for worker in [pool.submit(work, client) for client in clients]:
            worker.result()
        return time.perf_counter() - started


def post_http_client(connection: http.client.HTTPConnection, wire) -> None:
    connection.request(wire.method, wire.path, body=wire.body, headers=wire.headers)
    response = connection.getresponse()
    response.read()
    if response.status >= 400:
        raise RuntimeError(f"the fake provider answered {response.status}")


def floors(wires: list, *, workers: int) -> dict[str, float]:
    """Seconds each floor took for every request, with the app's timeouts."""
    from django.conf import settings

    host = urlsplit(wires[0].url).netloc
    return {
        "requests, a Session per thread": in_threads(
            common.post, [common.bare_session() for _ in range(workers)], wires
        ),
        "requests, one shared Session": in_threads(
            common.post, [common.bare_session()] * workers, wires
        ),
        "http.client": in_threads(
            post_http_client,
            [
                http.client.HTTPConnection(host, timeout=settings.SMS_READ_TIMEOUT)
                for _ in range(workers)
            ],
            wires,
        ),
    }


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
        seconds = floors(
            common.rendered_requests(campaign, group_size=1), workers=workers
        )
    rate = {name: options.messages / s for name, s in seconds.items()}
    floor = max((n for n in rate if n.startswith("requests")), key=rate.get)
    sending = elapsed - to_enqueue
    return common.finish(
        common.Result(
            bench="single_messages",
            title=f"{options.messages:,} messages, one per request, "
            f"SEND_CONCURRENCY={workers}, launch to last row SENT",
            ours=options.messages / elapsed,
            floor=rate[floor],
            unit="messages/s",
            target=TARGET,
            lower_is_better=False,
            details=[
                f"smsbridge: {elapsed:.2f} s in all: {to_enqueue:.2f} s creating "
                f"rows, {sending:.2f} s sending "
                f"({options.messages / sending:,.0f} messages/s while sending)",
                *(
                    f"floor, {name}: {s:.2f} s ({rate[name]:,.0f} messages/s)"
                    for name, s in seconds.items()
                ),
                f"the floor is the faster requests one: {floor}",
            ],
            others={"http.client floor": rate["http.client"]},
        )
    )


if __name__ == "__main__":
    sys.exit(main())
