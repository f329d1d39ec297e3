"""SENTRY_DSN sends errors to Sentry (config/sentry.py), here to a collector on
127.0.0.1, without the local variables, bodies or users' details Sentry would
otherwise take."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .campaigns.conftest import BASE_DIR, PRELUDE

CANARY = "canary-sentry-9c1e-api-key"
CRASH = f"""
import sentry_sdk

def send_with(api_key):
    raise RuntimeError("the provider could not be reached")

try:
    send_with({CANARY!r})
except RuntimeError:
    sentry_sdk.capture_exception()
sentry_sdk.flush(timeout=10)
"""


class Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, body.decode(errors="replace")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_error_reaches_sentry_without_local_variables() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/42"
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", PRELUDE + CRASH],
            cwd=BASE_DIR,
            env={**os.environ, "SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "staging"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 0
    [(path, envelope)] = server.received
    assert path == "/api/42/envelope/"
    assert "the provider could not be reached" in envelope
    assert '"environment":"staging"' in envelope
    assert "send_with" in envelope  # the frame is there, its variables are not
    assert CANARY not in envelope


def test_without_a_dsn_nothing_is_set_up() -> None:
    code = PRELUDE + "import sentry_sdk\nprint(sentry_sdk.get_client().is_active())"
    env = {key: value for key, value in os.environ.items() if key != "SENTRY_DSN"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert done.stdout.strip() == "False"
