"""Delete old delivery-report log rows, test sends, webhook deliveries and
finished campaigns' messages (campaigns/retention.py); statistics are kept."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaigns.retention import purge


class Command(BaseCommand):
    help = (
        "Delete delivery-report log rows, test sends, delivered or failed webhook "
        "deliveries and the messages of finished campaigns older than "
        "PURGE_AFTER_DAYS (or --older-than), in batches. Campaign statistics are "
        "kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            default=None,
            help="Age in days (default: the PURGE_AFTER_DAYS setting).",
        )

    def handle(self, *args, older_than: int | None, **options) -> None:
        if older_than is not None and older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        purged = purge(older_than_days=older_than)
        self.stdout.write(
            f"Deleted {purged.delivery_reports:,} delivery-report log rows, "
            f"{purged.test_sends:,} test sends, {purged.messages:,} messages, "
            f"{purged.idempotency_keys:,} expired idempotency keys and "
            f"{purged.webhook_deliveries:,} webhook deliveries."
        )
