"""What a test needs to see which connections smsbridge makes: a bare listener on
127.0.0.1 that counts the connections it was offered, a record of every connect
the process attempts, and a stand-in name server for test names."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


class Listener:
    """A listening socket that never answers; `accepted()` counts the
    connections that reached it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.count = 0

    def accepted(self) -> int:
        while True:
            try:
                connection, _ = self.sock.accept()
            except BlockingIOError:
                return self.count
            connection.close()
            self.count += 1


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.sock.close()


# Audit hooks cannot be removed, so one is installed for the whole run and only
# records while a test asks it to.
_attempts: list[tuple[str, int]] | None = None
_stop_with: type[OSError] = ConnectionRefusedError
_hook_installed = False


def _on_audit(event: str, args: tuple) -> None:
    if event != "socket.connect" or _attempts is None:
        return
    address = args[1]
    if not (isinstance(address, tuple) and len(address) >= 2):
        return
    host, port = str(address[0]), int(address[1])
    _attempts.append((host, port))
    if host not in ("127.0.0.1", "::1"):
        # No test packet leaves this machine: the connect fails as asked.
        raise _stop_with(f"the test stopped a connection to {host}")


@contextmanager
def connects_recorded(
    stop_with: type[OSError] = ConnectionRefusedError,
) -> Iterator[list[tuple[str, int]]]:
    """Every (address, port) this process tries to connect to, in order; any
    that is not loopback is stopped with `stop_with` before a packet is sent."""
    global _attempts, _stop_with, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_on_audit)
        _hook_installed = True
    _attempts, _stop_with = [], stop_with
    try:
        yield _attempts
    finally:
        _attempts = None


class NameServer:
    """Names set in `answers` resolve to the addresses given, in order; every
    other name goes to the system resolver. `asked` lists each name looked up."""

    def __init__(self, system: Callable[..., list]) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []
        self.system = system

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        self.asked.append(host)
        if host not in self.answers:
            return self.system(host, port, family, type, proto, flags)
        return [_answer(address, port) for address in self.answers[host]]


def name_server(monkeypatch: pytest.MonkeyPatch) -> NameServer:
    """A NameServer answering every lookup until the test ends."""
    server = NameServer(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", server.getaddrinfo)
    return server


def _answer(address: str, port: int | None) -> tuple:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
