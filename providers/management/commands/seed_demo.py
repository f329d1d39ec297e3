"""Create the demo's admin login; safe to run any number of times."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the demo admin user (password from DEMO_ADMIN_PASSWORD or generated)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="Where the app is served."
        )

    def handle(self, *args, url: str, **options) -> None:
        password = self.ensure_admin()
        self.stdout.write(
            self.style.SUCCESS(f"\nsmsbridge is starting at {url}/admin/")
        )
        if password:
            self.stdout.write(f"  login: admin   password: {password}\n")
        else:
            self.stdout.write(
                "  login: admin   (password unchanged since the first run)\n"
            )

    def ensure_admin(self) -> str | None:
        """Return the password when it was set now, None when the user exists."""
        User = get_user_model()
        wanted = os.environ.get("DEMO_ADMIN_PASSWORD")
        user = User.objects.filter(username="admin").first()
        if user and not wanted:
            return None
        password = wanted or secrets.token_urlsafe(12)
        user = user or User(username="admin", email="admin@example.com")
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
