"""Per-provider send rate, held across every worker.

Each caller reserves the time its messages may go at, then sleeps until then.
Where the reservation is kept depends on the Celery broker:

- Redis (redis://, rediss://): in Redis, so every worker on every machine that
  uses that broker shares one schedule.
- memory://: in this process. That broker's queue lives in one process, so no
  other process can be sending for it; keeping the schedule in memory leaves
  tests and benchmarks free of files.
- anything else (the filesystem broker of `make run`): in one small file per
  provider under SEND_RATE_DIR, locked while it is read and rewritten, so every
  process on this machine shares one schedule. Workers on other machines do not
  see it: several machines need Redis.

Reservations on a file use the wall clock, the one clock processes share. When
it is set back, the schedule is moved back with it (see FileSchedule.reserve);
when it jumps forward, time already booked is forgotten and up to that much may
go at twice the rate.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from functools import cache
from pathlib import Path

from django.conf import settings

# Reserve [start, start + cost) on the provider's schedule and return start.
RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, free)
local ends = start + tonumber(ARGV[1])
-- Remember the schedule until its end, plus a minute.
redis.call('SET', KEYS[1], tostring(ends), 'PX', math.ceil((ends - now) * 1000) + 60000)
return {tostring(start), tostring(now)}
"""


class LocalSchedule:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: dict[int, float] = {}

    def reserve(self, key: int, cost: float) -> float:
        """Seconds to wait before sending."""
        with self.lock:
            now = time.monotonic()
            start = max(now, self.free.get(key, 0.0))
            self.free[key] = start + cost
            return start - now


class FileSchedule:
    """One file per provider holding "<end of its schedule> <clock when written>"."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def reserve(self, key: int, cost: float) -> float:
        """Seconds to wait before sending."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # Opened anew each time: flock excludes every other open of the file, so
        # the threads of this process wait for each other as other processes do.
        fd = os.open(self.folder / str(key), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = time.time()
            free, written = read_schedule(fd)
            # Read under the lock, the clock only goes back when it is set back:
            # move the schedule back as far, or senders would stall that long.
            free -= max(0.0, written - now)
            start = max(now, free)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{start + cost:.6f} {now:.6f}".encode(), 0)
            return start - now
        finally:
            os.close(fd)  # and with it the lock


def read_schedule(fd: int) -> tuple[float, float]:
    try:
        free, written = os.pread(fd, 64, 0).split()
        return float(free), float(written)
    except ValueError:
        # New, or cut short by a crash: nothing booked that can be trusted.
        return 0.0, 0.0


class RedisSchedule:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(RESERVE)

    def reserve(self, key: int, cost: float) -> float:
        start, now = self.script(keys=[f"smsbridge:rate:{key}"], args=[cost])
        return max(0.0, float(start) - float(now))


@cache
def schedule(url: str) -> LocalSchedule | FileSchedule | RedisSchedule:
    if url.startswith(("redis://", "rediss://")):
        return RedisSchedule(url)
    if url.startswith("memory://"):
        return LocalSchedule()
    return FileSchedule(Path(settings.SEND_RATE_DIR))


def acquire(*, provider_id: int, count: int, per_second: int) -> float:
    """Wait until `count` more messages may go; return the seconds waited."""
    if per_second <= 0 or count <= 0:
        return 0.0
    wait = schedule(settings.CELERY_BROKER_URL).reserve(provider_id, count / per_second)
    if wait > 0:
        time.sleep(wait)
    return wait
