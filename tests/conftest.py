from __future__ import annotations

import pytest


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
