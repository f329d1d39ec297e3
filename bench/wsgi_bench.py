"""config.wsgi under bench.settings_bench, for gunicorn in bench_dlr_ingestion."""

from __future__ import annotations

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_bench"

from config.wsgi import application  # noqa: E402

__all__ = ["application"]
