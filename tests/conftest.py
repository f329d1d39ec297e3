from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from campaigns.dlr.applying import Applier


@pytest.fixture(autouse=True)
def _pages_without_collectstatic(settings) -> None:
    # Tests run with DEBUG off, where the settings pick the manifest storage and
    # WhiteNoise scans STATIC_ROOT: both need a collectstatic run that pages
    # under test don't. Django's test client asks as "testserver".
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # OAuth tokens cached by one test must not serve the next.
    cache.clear()


@pytest.fixture
def dlr_worker() -> Iterator[Applier]:
    """What the Celery worker does with delivery reports, on a thread: for tests
    whose callbacks arrive at a live server. Stopped before the test's flush."""
    applier = Applier()
    applier.start()
    yield applier
    applier.stop()
