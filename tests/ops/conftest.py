from __future__ import annotations

from pathlib import Path

import pytest

from ops import broker

FOLDERS = {
    "data_folder_in": "queue",
    "data_folder_out": "queue",
    "processed_folder": "processed",
    "control_folder": "control",
}


@pytest.fixture
def filesystem_broker(settings, tmp_path) -> Path:
    """The one-machine broker, its folders under the test's own directory."""
    folder = tmp_path / "broker"
    options = {name: str(folder / sub) for name, sub in FOLDERS.items()}
    for path in options.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    return folder


@pytest.fixture(autouse=True)
def _fresh_redis_clients():
    # A client is kept per broker URL; a test's stopped server must not serve the next.
    broker.redis_client.cache_clear()
    yield
    broker.redis_client.cache_clear()


@pytest.fixture
def provider(db):
    """A provider that delivery reports and test sends belong to."""
    from providers.models import Provider

    return Provider.objects.create(nickname="8x8 SMS", endpoint="https://8.8.8.8/x")
