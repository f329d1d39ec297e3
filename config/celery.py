from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smsbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def apply_delivery_reports(**kwargs) -> None:
    """The worker applies the delivery reports that web processes accepted."""
    from campaigns.intake import worker_applier

    worker_applier.ensure_running()
