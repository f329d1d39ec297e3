"""A customer's webhook receiver on 127.0.0.1, written from README's "Status
webhooks" section and nothing else: it checks Smsbridge-Signature as the three
steps there say, answers 401 to a delivery that fails them, and otherwise the
next planned status (200 once the plan runs out)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60


def verified(header: str, body: bytes, secret: str, *, now: float) -> bool:
    """README's steps 1 to 3."""
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in parts if name == "t"]
    signatures = [value for name, _, value in parts if name == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return False
    t = stamps[0]
    expected = hmac.new(
        secret.encode(), f"{t}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(now - int(t)) <= TOLERANCE_SECONDS
    return fresh and any(hmac.compare_digest(expected, s) for s in signatures)


@dataclass
class Got:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def signatures(self) -> list[str]:
        header = self.headers["Smsbridge-Signature"]
        return [p[3:] for p in header.split(",") if p.startswith("v1=")]


@dataclass
class Receiver:
    secret: str
    answers: list[int] = field(default_factory=list)  # planned, in turn
    accepted: list[Got] = field(default_factory=list)  # verified, answered 2xx
    verified: list[Got] = field(default_factory=list)  # every verified one
    refused: list[Got] = field(default_factory=list)  # a bad signature: 401
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/smsbridge"

    def answer(self, got: Got) -> int:
        header = got.headers.get("Smsbridge-Signature", "")
        if not verified(header, got.body, self.secret, now=time.time()):
            self.refused.append(got)
            return 401
        self.verified.append(got)
        status = self.answers.pop(0) if self.answers else 200
        if 200 <= status < 300:
            self.accepted.append(got)
        return status

    @property
    def events(self) -> list[dict[str, Any]]:
        return [got.event for got in self.accepted]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        got = Got(headers=dict(self.headers.items()), body=self.rfile.read(length))
        status = self.server.receiver.answer(got)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver


@contextmanager
def receiving(secret: str, answers: list[int] | None = None) -> Iterator[Receiver]:
    """A Receiver listening until the block ends."""
    receiver = Receiver(secret=secret, answers=list(answers or []))
    server = _Server(receiver)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
