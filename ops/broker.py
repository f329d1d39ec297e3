"""Can the web process reach Celery's broker, and how many tasks wait in it.

One check per kind of broker, as CELERY_BROKER_URL names it: Redis is pinged
(within HEALTH_TIMEOUT_SECONDS), the filesystem broker's folders must exist and
be writable, the in-process memory broker always answers, and any other is
connected to through kombu. Errors say what failed, never the URL, which may
hold a password.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.conf import settings

QUEUE = "celery"  # Celery's default queue, the one smsbridge's tasks use
# kombu keeps a Redis queue's messages of priority 3, 6 and 9 in lists of their own.
REDIS_PRIORITY_SEPARATOR = "\x06\x16"


class Unreachable(Exception):
    """The broker cannot be used; the message says why, without the URL."""


def kind() -> str:
    return settings.CELERY_BROKER_URL.split("://", 1)[0].split("+", 1)[0] or "unknown"


def check() -> None:
    """Raise Unreachable unless the broker answers."""
    CHECKS.get(kind(), check_kombu)()


def queued_tasks() -> int | None:
    """Tasks waiting in the broker's queue; None when this broker cannot say."""
    counter = COUNTERS.get(kind())
    return counter() if counter else None


# --- Redis ---------------------------------------------------------------------


@cache
def redis_client(url: str, timeout: float):
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout
    )


def redis_broker():
    return redis_client(settings.CELERY_BROKER_URL, settings.HEALTH_TIMEOUT_SECONDS)


def check_redis() -> None:
    import redis as library

    try:
        redis_broker().ping()
    except library.RedisError as err:
        raise Unreachable(
            f"Redis did not answer within {settings.HEALTH_TIMEOUT_SECONDS:g} s "
            f"({type(err).__name__})"
        ) from err


def redis_queue_length() -> int:
    names = [QUEUE] + [f"{QUEUE}{REDIS_PRIORITY_SEPARATOR}{p}" for p in (3, 6, 9)]
    pipeline = redis_broker().pipeline(transaction=False)
    for name in names:
        pipeline.llen(name)
    return sum(pipeline.execute())


# --- the filesystem broker (one machine) -----------------------------------------


def folders() -> list[Path]:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    names = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    return [Path(options[name]) for name in names if options.get(name)]


def check_filesystem() -> None:
    for folder in folders():
        if not folder.is_dir():
            raise Unreachable(f"the broker folder {folder.name}/ does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise Unreachable(f"the broker folder {folder.name}/ is not writable")


def filesystem_queue_length() -> int:
    # A waiting task is a file "<time>_<id>.<queue>.msg" (kombu's filesystem
    # transport).
    suffix = f".{QUEUE}.msg"
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if entry.name.endswith(suffix))


# --- anything else ------------------------------------------------------------------


def check_memory() -> None:
    """The broker lives in this process (tests): nothing to reach."""


def check_kombu() -> None:
    from config.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1, timeout=settings.HEALTH_TIMEOUT_SECONDS
            )
    except Exception as err:  # noqa: BLE001 - any failure means unreachable
        raise Unreachable(f"the broker did not answer ({type(err).__name__})") from err


CHECKS = {
    "redis": check_redis,
    "rediss": check_redis,
    "filesystem": check_filesystem,
    "memory": check_memory,
}
COUNTERS = {
    "redis": redis_queue_length,
    "rediss": redis_queue_length,
    "filesystem": filesystem_queue_length,
}
