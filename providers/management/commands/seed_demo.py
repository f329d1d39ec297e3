"""Create the demo: an admin login and two providers on the built-in sandbox.

Safe to run any number of times: what exists already is left as it is.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from providers import presets
from providers.forms.setup import FORMS
from providers.models import Provider

SANDBOX_PROVIDERS = (
    ("8x8 sandbox (CleverTap style)", "8x8-clevertap", "transactional"),
    ("8x8 sandbox (MoEngage style)", "8x8-moengage", "promotional"),
)


def form_data(initial: dict) -> QueryDict:
    """A setup screen's POST data from initial values (rows as parallel lists)."""
    data = QueryDict(mutable=True)
    for key, value in initial.items():
        if isinstance(value, list):
            data.setlist(f"{key}-name", [row["name"] for row in value])
            data.setlist(f"{key}-value", [row["value"] for row in value])
            data.setlist(
                f"{key}-secret", ["1" if row["secret"] else "0" for row in value]
            )
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        else:
            data[key] = str(value)
    return data


class Command(BaseCommand):
    help = "Create the demo admin user and the sandbox providers."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="Where the app is served."
        )

    def handle(self, *args, url: str, **options) -> None:
        password = self.ensure_admin()
        if settings.SMS_SANDBOX_API_KEY:
            for nickname, slug, sender_type in SANDBOX_PROVIDERS:
                self.ensure_sandbox_provider(
                    nickname, presets.BY_SLUG[slug], sender_type, url
                )
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

    def ensure_sandbox_provider(self, nickname, preset, sender_type, url) -> None:
        if Provider.objects.filter(nickname__iexact=nickname).exists():
            return
        initial = preset.initial()
        initial["endpoint"] = initial["endpoint"].replace(
            "https://sms.8x8.com", f"{url}/sandbox"
        )
        values = {
            "subAccountId": "demo-account",
            "apiKey": settings.SMS_SANDBOX_API_KEY,
        }
        for row in initial["variables"]:
            row["value"] = values[row["name"]]
        if preset.screen == "moengage":
            # 8x8 posts delivery reports to dlrCallbackUrl when a message names one.
            initial["payload"] = initial["payload"].replace(
                '"text": "Moesms_message"',
                '"text": "Moesms_message",\n  "clientMessageId": "$$MessageID",\n'
                '  "dlrCallbackUrl": "{callback_url}"',
            )
        initial.update(
            nickname=nickname,
            sender_name=nickname,
            sender_id="smsbridge",
            sender_type=sender_type,
            is_default=True,
            is_active=True,
        )
        form = FORMS[preset.screen](form_data(initial), instance=Provider())
        if not form.is_valid():
            raise CommandError(f"Could not create {nickname}: {form.errors.as_text()}")
        form.save()
        self.stdout.write(f"Created provider “{nickname}” on the sandbox.")
