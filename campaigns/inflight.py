"""Sending a claim's requests on a few threads and handing back the answers as
they return, so the caller can write each one down before more go out.

A thread starts a request only while fewer than `unrecorded` requests are out or
answered-but-not-yet-recorded; the caller frees those places by asking for the
next answers, which it does once it has recorded the last ones. So a worker
killed at any instant leaves at most `unrecorded` requests whose fate it did not
write down: the most a crash can make it send a second time.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

G = TypeVar("G")
R = TypeVar("R")
GATHER_SECONDS = 0.002
DONE = object()  # a thread has no more requests to send


@cache
def pool(size: int) -> ThreadPoolExecutor:
    """The sending threads of this process, kept warm between chunks."""
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms-send")


def as_they_return(
    groups: Sequence[G],
    send: Callable[[G], R],
    *,
    threads: int,
    unrecorded: int,
    tick: float,
    stop: threading.Event | None = None,
) -> Iterator[list[tuple[G, R]]]:
    """Yield lists of (group, what send returned) in the order they come back;
    an empty list every `tick` seconds while nothing does. What a send raised is
    raised here, after the other threads have stopped taking work. Once `stop`
    is set no new request starts, and those out are still handed back."""
    places = threading.Semaphore(max(unrecorded, threads))
    returned: queue.SimpleQueue = queue.SimpleQueue()
    stopping = threading.Event()
    # A list iterator hands out each group once, even to several threads.
    pending = iter(groups)

    def work() -> None:
        try:
            while True:
                places.acquire()
                halted = stopping.is_set() or (stop is not None and stop.is_set())
                group = None if halted else next(pending, None)
                if group is None:
                    places.release()
                    return
                returned.put((group, send(group)))
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            returned.put(error)
        finally:
            returned.put(DONE)

    count = min(threads, len(groups))
    for _ in range(count):
        pool(threads).submit(work)
    running = count
    try:
        while running:
            try:
                items = [returned.get(timeout=tick)]
            except queue.Empty:
                yield []
                continue
            if threads > 1:
                # Let a few more answers come in before waking up for them:
                # each wake-up takes the interpreter from the sending threads.
                time.sleep(GATHER_SECONDS)
            while not returned.empty():
                items.append(returned.get_nowait())
            answers = []
            for item in items:
                if item is DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    answers.append(item)
            if answers:
                yield answers
                places.release(len(answers))
    finally:
        # On an error, or a caller that stopped listening: no new requests.
        stopping.set()
        for _ in range(count):
            places.release()
