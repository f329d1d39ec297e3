"""The project's settings plus one bench-only URL (see bench/urls_bench.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
