"""Per-provider send rate, held across every worker.

Each caller reserves the time its messages may go at, then sleeps until then.
With a Redis broker the reservation is made in Redis, so every worker on every
machine shares one schedule; otherwise it is shared by the threads of this
process only.
"""

from __future__ import annotations

import threading
import time
from functools import cache

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


class RedisSchedule:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(RESERVE)

    def reserve(self, key: int, cost: float) -> float:
        start, now = self.script(keys=[f"smsbridge:rate:{key}"], args=[cost])
        return max(0.0, float(start) - float(now))


@cache
def schedule(url: str) -> LocalSchedule | RedisSchedule:
    if url.startswith(("redis://", "rediss://")):
        return RedisSchedule(url)
    return LocalSchedule()


def acquire(*, provider_id: int, count: int, per_second: int) -> float:
    """Wait until `count` more messages may go; return the seconds waited."""
    if per_second <= 0 or count <= 0:
        return 0.0
    wait = schedule(settings.CELERY_BROKER_URL).reserve(provider_id, count / per_second)
    if wait > 0:
        time.sleep(wait)
    return wait
