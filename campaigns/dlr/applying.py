"""The worker applies the delivery reports the callback URL stored.

A commit costs more than all the rest of one report, so reports are applied a
few hundred to a transaction, in the order they came: one read of the messages
they name, one UPDATE per kind of row, one of the log rows. The Celery worker
runs keep_applying() on a thread of its own (config/celery.py), looking every
DLR_APPLY_EVERY_SECONDS. On PostgreSQL several workers share the reports
waiting, each batch taken FOR UPDATE SKIP LOCKED so none waits on another; on
SQLite one transaction writes at a time. Either way what each report did is
written by an UPDATE of reports still waiting, whose row count must match the
batch, so no report is ever applied twice; a crash before the commit leaves the
batch waiting.
"""

from __future__ import annotations

import logging
import threading
from itertools import groupby

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from ..models import DeliveryReport
from .tracking import apply_callbacks, write_rows

logger = logging.getLogger(__name__)

REPORTS_PER_TRANSACTION = 500
WAITING = DeliveryReport.State.WAITING
LOGGED_FIELDS = ["state", "processed", "unmatched_ids", "result"]
# What each report did, written as tracking.WRITE_DELIVERY explains; only to a
# report still waiting.
WRITE_LOGGED = (
    "UPDATE campaigns_deliveryreport SET state = %s, processed = %s, "
    "unmatched_ids = %s, result = %s WHERE id = %s AND state = 'waiting'"
)


class TakenElsewhere(Exception):
    """Another applier took some of a batch first; this one is rolled back."""


def apply_waiting(*, per_transaction: int = REPORTS_PER_TRANSACTION) -> int:
    """Apply every report waiting now; how many this call applied."""
    applied = 0
    while taken := apply_batch(per_transaction):
        applied += taken
    return applied


def apply_batch(limit: int) -> int:
    try:
        with transaction.atomic():
            reports = list(waiting()[:limit])
            if reports:
                apply_or_set_aside(reports)
            return len(reports)
    except TakenElsewhere:
        return 0  # the other applier has them; the next round looks again


def apply_or_set_aside(reports: list[DeliveryReport]) -> None:
    """Apply a batch; should one report break it, apply the others one by one
    and mark that one refused with the error, so it holds back nothing, now or
    at any later round."""
    try:
        with transaction.atomic():
            apply_reports(reports)
    except (DatabaseError, TakenElsewhere):
        raise  # the database is busy or away, or another applier won: it waits
    except Exception:
        for report in reports:
            apply_alone(report)


def apply_alone(report: DeliveryReport) -> None:
    try:
        with transaction.atomic():
            apply_reports([report])
    except (DatabaseError, TakenElsewhere):
        raise
    except Exception as err:
        logger.exception("Delivery report %s could not be applied", report.receipt)
        report.state = DeliveryReport.State.REFUSED
        report.processed, report.unmatched_ids = 0, []
        report.result = f"Could not be applied: {err!r}"[:500]
        log([report])


def waiting():
    reports = DeliveryReport.objects.filter(state=WAITING).order_by("pk")
    reports = reports.only("provider_id", "received_at", "receipt", "updates")
    if connection.features.has_select_for_update_skip_locked:
        reports = reports.select_for_update(skip_locked=True)
    return reports


def apply_reports(reports: list[DeliveryReport]) -> None:
    """Apply a batch and log what each report did, in the caller's transaction."""
    by_provider = sorted(reports, key=lambda r: r.provider_id)  # stable: in order
    for provider_id, group in groupby(by_provider, key=lambda r: r.provider_id):
        group = list(group)
        callbacks = [(r.status_updates(), r.received_at) for r in group]
        for report, tracked in zip(
            group, apply_callbacks(provider_id, callbacks), strict=True
        ):
            report.state = DeliveryReport.State.APPLIED
            report.processed = tracked.applied
            report.unmatched_ids = tracked.unmatched
            report.result = tracked.summary()
    log(reports)


def log(reports: list[DeliveryReport]) -> None:
    """Write what each report did; none may have been taken meanwhile."""
    if write_rows(WRITE_LOGGED, reports, LOGGED_FIELDS) != len(reports):
        raise TakenElsewhere


def keep_applying(stop: threading.Event) -> None:
    """Apply what waits every DLR_APPLY_EVERY_SECONDS until `stop` is set."""
    try:
        while not stop.wait(settings.DLR_APPLY_EVERY_SECONDS):
            try:
                apply_waiting()
            except Exception:
                # The reports stay waiting, and the thread must live on for the
                # next round to try again.
                logger.exception("Applying delivery reports failed; will retry")
                close_old_connections()
    finally:
        connection.close()


class Applier(threading.Thread):
    """keep_applying() on a daemon thread, until stop()."""

    def __init__(self) -> None:
        super().__init__(name="smsbridge-dlr-applier", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        keep_applying(self.stopping)

    def stop(self) -> None:
        self.stopping.set()
        self.join()
