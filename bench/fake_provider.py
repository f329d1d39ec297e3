"""A fast fake SMS provider on 127.0.0.1, run as its own process.

`python -m bench.fake_provider` prints `ready <port>` and answers every request
on keep-alive HTTP/1.1 connections until --max-seconds have passed. A path
containing "/batch" gets a batch answer (with --ids, one umid per record);
any other path gets 8x8's single-message answer with a fresh umid.

It runs outside the benchmark's process so that its work never takes the GIL
from the code being measured, and each answer is one write with TCP_NODELAY
set, so Nagle's algorithm and delayed ACKs cannot add 40 ms to a request.

For the failover benchmark, two options (off by default, so the other
benchmarks' fake does no more work than before):

- --fail-after N: the provider goes down after N requests, answering every
  later one 503 Service Unavailable (no Retry-After), as a provider behind a
  load balancer does when its back end is gone. The request is answered, so
  smsbridge knows the message was not taken and may move it to another provider.
- --record: remember the destination numbers of every request, accepted and
  refused apart; GET /_bench/received answers them as JSON lists (a number
  twice in "accepted" is a message the provider took twice).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import socket
import sys

HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: {length}\r\n"
    "\r\n"
)
COUNTER = itertools.count(1)
_DOWN = b'{"message":"Service is unavailable."}'
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: %d\r\n"
    b"\r\n" % len(_DOWN)
) + _DOWN
RECEIVED_PATH = b"/_bench/received"
DESTINATION = re.compile(rb'"destination":\s*"([^"]*)"')


class Failing:
    """What --fail-after and --record set: when to go down, and what came in."""

    fail_after: int | None = None
    record = False
    served = itertools.count(1)
    received: dict[str, list[str]] = {"accepted": [], "refused": []}


def respond(path: bytes, body: bytes, *, ids: bool) -> bytes:
    """The answer to one request: `answer`'s, unless the provider is down."""
    if path == RECEIVED_PATH:
        payload = json.dumps(Failing.received).encode()
        return HEAD.format(length=len(payload)).encode() + payload
    if Failing.fail_after is None and not Failing.record:
        return answer(path, body, ids=ids)
    down = Failing.fail_after is not None and next(Failing.served) > Failing.fail_after
    if Failing.record:
        numbers = [n.decode() for n in DESTINATION.findall(body)]
        Failing.received["refused" if down else "accepted"] += numbers
    return UNAVAILABLE if down else answer(path, body, ids=ids)


def answer(path: bytes, body: bytes, *, ids: bool) -> bytes:
    if b"/batch" in path:
        records = body.count(b'"destination":')
        batch = next(COUNTER)
        data = {"batchId": f"batch-{batch:08d}", "acceptedCount": records}
        if ids:
            data["messages"] = [
                {"umid": f"b{batch:06d}-{index:04d}"} for index in range(records)
            ]
    else:
        data = {
            "umid": f"umid-{next(COUNTER):010d}",
            "status": {"code": "QUEUED", "description": "SMS is accepted and queued"},
        }
    payload = json.dumps(data, separators=(",", ":")).encode()
    return HEAD.format(length=len(payload)).encode() + payload


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class Exchange(asyncio.Protocol):
    """One keep-alive connection: read a request, answer it in one write."""

    def __init__(self, *, ids: bool) -> None:
        self.ids = ids
        self.buffer = bytearray()
        self.head = b""
        self.needed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        if not self.head:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            self.head = bytes(self.buffer[:end])
            self.needed = content_length(self.head)
            del self.buffer[: end + 4]
        if len(self.buffer) < self.needed:
            return False
        body = bytes(self.buffer[: self.needed])
        del self.buffer[: self.needed]
        path = self.head.split(b" ", 2)[1]
        self.head = b""
        self.transport.write(respond(path, body, ids=self.ids))
        return True


async def serve(*, port: int, max_seconds: float, ids: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Exchange(ids=ids), "127.0.0.1", port, backlog=512
    )
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await asyncio.sleep(max_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--ids", action="store_true", help="umids per batch record")
    parser.add_argument("--fail-after", type=int, help="then answer 503 to all")
    parser.add_argument("--record", action="store_true", help="GET /_bench/received")
    options = parser.parse_args(argv)
    Failing.fail_after, Failing.record = options.fail_after, options.record
    asyncio.run(
        serve(port=options.port, max_seconds=options.max_seconds, ids=options.ids)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
