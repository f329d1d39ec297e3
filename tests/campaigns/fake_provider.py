"""A fake SMS provider speaking real HTTP on 127.0.0.1, and the rows that use it.

The server answers each request by its sequence number through a plan (accept,
fail, rate-limit, hang, or a seeded mix of those), keeps every request it got,
and counts how many were in flight at once. Accepted requests are answered with
one provider id per record, "p-" + the record's message id, so a test can tell
which id landed on which message.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from campaigns.models import AudienceMember, Campaign
from providers.models import Provider, Sender, TestSend
from providers.outbound.outcomes import Category

BATCH_KEY = "msgs"
ID_KEY = "mid"
SINGLE_PAYLOAD = (
    '{"from": "{sender_id}", "to": "$$To", "text": "$$Body", "mid": "$$MessageID"}'
)
BATCH_PAYLOAD = (
    '{"from": "{sender_id}", "msgs": '
    '[{"to": "$$To", "text": "$$Body", "mid": "$$MessageID"}]}'
)
# Longer than tests/testenv.py's SMS_READ_TIMEOUT (1.5 s), so the sender times out.
HANG_SECONDS = 2.0


@dataclass(frozen=True)
class Answer:
    status: int = 200
    retry_after: str = ""
    hang: float = 0.0  # seconds of silence, then the connection is closed

    @property
    def kind(self) -> str:
        if self.hang:
            return "timeout"
        return "accept" if self.status == 200 else str(self.status)


ACCEPT = Answer()
Plan = Callable[[int], Answer]  # request sequence number (from 1) -> answer


def fail(status: int) -> Answer:
    return Answer(status=status)


def rate_limited(retry_after: float) -> Answer:
    return Answer(status=429, retry_after=f"{retry_after:g}")


def hang(seconds: float = HANG_SECONDS) -> Answer:
    return Answer(hang=seconds)


def always(answer: Answer) -> Plan:
    return lambda seq: answer


def script(*answers: Answer, then: Answer = ACCEPT) -> Plan:
    """The given answers to the first requests, in order, then `then`."""
    return lambda seq: answers[seq - 1] if seq <= len(answers) else then


def flaky(
    *, seed: int, rate: float = 0.3, failures: Sequence[Answer] | None = None
) -> Plan:
    """Each request fails with probability `rate`, decided by its number alone,
    so the same seed fails the same request numbers whatever the thread timing."""
    failures = failures or (fail(500), fail(503), rate_limited(1), hang())

    def plan(seq: int) -> Answer:
        draw = random.Random(f"{seed}:{seq}")  # noqa: S311 - a plan, not a secret
        return draw.choice(failures) if draw.random() < rate else ACCEPT

    return plan


@dataclass(frozen=True)
class Request:
    seq: int
    path: str
    headers: dict[str, str]
    body: bytes
    answer: Answer

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def records(self) -> list[dict[str, Any]]:
        data = self.json
        return data.get(BATCH_KEY, [data])

    @property
    def ids(self) -> list[str]:
        return [record[ID_KEY] for record in self.records]


class FakeProvider(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, plan: Plan | None = None, *, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.plan = plan or always(ACCEPT)
        self.delay = delay  # seconds before each answer, so requests overlap
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"

    @property
    def requests(self) -> list[Request]:
        with self.lock:
            return list(self._requests)

    def posted_ids(self) -> list[str]:
        return [i for request in self.requests for i in request.ids]

    def accepted_ids(self) -> list[str]:
        return [i for r in self.requests if r.answer == ACCEPT for i in r.ids]

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends every hang at once
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle_error(self, request, client_address) -> None:
        # A client that timed out has gone; writing to it fails, as it should.
        pass

    def arrived(self, body: bytes, path: str, headers: dict[str, str]) -> Request:
        with self.lock:
            seq = len(self._requests) + 1
            request = Request(seq, path, headers, body, self.plan(seq))
            self._requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return request

    def left(self) -> None:
        with self.lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = self.server.arrived(
            self.rfile.read(length), self.path, dict(self.headers.items())
        )
        try:
            self.wait(request.answer)
        finally:
            # Before answering: once the answer is out, the same client thread
            # may already be sending its next request.
            self.server.left()
        if request.answer.hang:
            self.close_connection = True
        else:
            self.reply(request)

    def wait(self, answer: Answer) -> None:
        if answer.hang:
            self.server.stopping.wait(answer.hang)
        elif self.server.delay:
            time.sleep(self.server.delay)

    def reply(self, request: Request) -> None:
        answer = request.answer
        if answer == ACCEPT:
            body = accepted_body(request)
        else:
            body = {"error": f"fake failure {answer.status}"}
        data = json.dumps(body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if answer.retry_after:
            self.send_header("Retry-After", answer.retry_after)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def accepted_body(request: Request) -> dict[str, Any]:
    if BATCH_KEY in request.json:
        return {"messages": [{"id": f"p-{i}"} for i in request.ids]}
    return {"id": f"p-{request.ids[0]}"}


# --- rows pointing at the fake --------------------------------------------------------


def numbers(count: int, *, start: int = 0) -> list[str]:
    """Valid Singapore mobile numbers in E.164, as an audience stores them."""
    return [f"+6591{n:06d}" for n in range(start, start + count)]


def connect(
    url: str,
    *,
    batch_size: int | None = None,
    sender_type: str = Sender.SenderType.TRANSACTIONAL,
    rate_limit: int = 0,
    nickname: str = "Fake SMS",
    **sender_fields: Any,
) -> Sender:
    """A provider at `url` (batched when batch_size is given) and its default sender."""
    provider = Provider.objects.create(
        nickname=nickname,
        endpoint=url,
        payload=BATCH_PAYLOAD if batch_size else SINGLE_PAYLOAD,
        batch_enabled=bool(batch_size),
        batch_key=BATCH_KEY if batch_size else "",
        batch_size=batch_size or 1000,
        message_id_path="messages.0.id" if batch_size else "id",
        rate_limit=rate_limit,
    )
    return Sender.objects.create(
        provider=provider,
        name=f"{nickname} {sender_type}",
        sender_id="ACME",
        sender_type=sender_type,
        is_default=True,
        **sender_fields,
    )


def route_sender(url: str, nickname: str) -> Sender:
    """A provider at `url` and a sender of it that is no type's default, as a
    route names its senders."""
    sender = connect(url, nickname=nickname)
    Sender.objects.filter(pk=sender.pk).update(is_default=False)
    sender.refresh_from_db()
    return sender


def campaign_to(
    audience: Sequence[str],
    *,
    sender_type: str = Sender.SenderType.TRANSACTIONAL,
    message: str = "Hi $$name, your code is ready",
    name: str = "Spring sale",
) -> Campaign:
    """A draft one-time campaign whose audience has a name column."""
    campaign = Campaign.objects.create(
        name=name, sender_type=sender_type, message=message
    )
    AudienceMember.objects.bulk_create(
        AudienceMember(campaign=campaign, to=to, fields={"phone": to, "name": f"N{i}"})
        for i, to in enumerate(audience)
    )
    return campaign


def accepted_test_send(
    provider: Provider, message_id: str, provider_message_id: str = ""
) -> TestSend:
    """A test SMS the provider accepted, waiting for its delivery report."""
    return TestSend.objects.create(
        provider=provider,
        to="+6591234567",
        message="Hello",
        message_id=message_id,
        provider_message_id=provider_message_id,
        category=Category.ACCEPTED,
        diagnosis="Accepted.",
    )
