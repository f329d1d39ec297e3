"""One applier of delivery reports at a time, across threads and processes.

Every web process and the Celery worker may find waiting delivery reports due
at the same moment (campaigns.intake). An exclusive file lock beside the
database lets one of them in and tells the others, without waiting, that the
work is in hand. With nothing to lock (another database, one in memory, or a
transaction already open, as in tests) everyone is let in.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_local = threading.local()


@contextmanager
def writers_turn() -> Iterator[bool]:
    """Hold the writers' lock, or yield False at once if another holds it; with
    nothing to lock (see lock_path), always True."""
    path = lock_path()
    if path is None:
        yield True
        return
    descriptor = lock_file(path)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def lock_path() -> str | None:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        # Inside a transaction already (as in tests), the lock would come too
        # late to help and could wait on a transaction of the same thread.
        return None
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db() or not name:
        return None
    return name + ".writers"


def lock_file(path: str) -> int:
    """One descriptor per thread and path: flock excludes separate opens of a
    file, even within one process, but not two holders of the same one."""
    files = _local.__dict__.setdefault("files", {})
    if path not in files:
        files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return files[path]
