"""Test doubles that speak real HTTP: a canned-answer server on 127.0.0.1, and
providers created through the real setup form, pointed at the built-in sandbox.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings

from providers.models import Provider
from providers.sandbox.demo import provider_from_preset


@dataclass(frozen=True)
class Reply:
    """What the local server answers; `hang` seconds of silence come first, or,
    with `stall_body`, after the headers and the first half of the body; with
    `trickle`, the body comes a byte at a time."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0
    stall_body: bool = False
    trickle: float = 0.0  # seconds between the body's bytes


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer(ThreadingHTTPServer):
    """Answers every request with one Reply and records what reached it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.received: list[Received] = []
        self.released = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def handle_error(self, request, client_address) -> None:
        # Clients that stop reading (a capped or timed-out answer) break the pipe;
        # that is the behaviour under test, not a failure worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.received.append(
            Received(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length),
            )
        )
        reply = self.server.reply
        if reply.hang and not reply.stall_body:
            self.server.released.wait(reply.hang)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.trickle:
            for byte in reply.body:
                if self.server.released.wait(reply.trickle):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return
        if reply.stall_body:
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            self.server.released.wait(reply.hang)
            return
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args) -> None:
        pass


@contextmanager
def running(reply: Reply) -> Iterator[LocalServer]:
    server = LocalServer(reply)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sandbox_provider(
    base_url: str,
    *,
    slug: str = "8x8-moengage",
    nickname: str = "8x8 sandbox",
    api_key: str | None = None,
    sender_type: str = "transactional",
) -> Provider:
    """A provider made from a preset through its setup form, as seed_demo does."""
    return provider_from_preset(
        slug,
        base_url=f"{base_url}/sandbox",
        values={
            "subAccountId": "demo-account",
            "apiKey": settings.SMS_SANDBOX_API_KEY if api_key is None else api_key,
        },
        nickname=nickname,
        sender_type=sender_type,
    )
