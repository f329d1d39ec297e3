"""Create the demo: an admin login, two providers on the built-in sandbox and a
route through both.

Safe to run any number of times: what exists already is left as it is.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from providers import presets
from providers.models import Provider, Sender
from providers.routes import Route, RouteStep
from providers.sandbox.demo import provider_from_preset

SANDBOX_PROVIDERS = (
    ("8x8 sandbox (CleverTap style)", "8x8-clevertap", "transactional"),
    ("8x8 sandbox (MoEngage style)", "8x8-moengage", "promotional"),
)


DEMO_ROUTE = "Sandbox: MoEngage style, then CleverTap style"


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
                self.ensure_sandbox_provider(nickname, slug, sender_type, url)
            self.ensure_demo_route()
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

    def ensure_demo_route(self) -> None:
        """Both sandbox providers in turn, to try Test this route with."""
        if Route.objects.filter(name__iexact=DEMO_ROUTE).exists():
            return
        senders = [
            Sender.objects.filter(provider__nickname__iexact=nickname).first()
            for nickname, _, _ in reversed(SANDBOX_PROVIDERS)
        ]
        if not all(senders):
            return
        route = Route.objects.create(name=DEMO_ROUTE)
        for position, sender in enumerate(senders):
            RouteStep.objects.create(route=route, sender=sender, position=position)
        self.stdout.write(f"Created the route “{DEMO_ROUTE}”.")

    def ensure_sandbox_provider(self, nickname, slug, sender_type, url) -> None:
        if Provider.objects.filter(nickname__iexact=nickname).exists():
            return
        changes = {}
        payload = presets.BY_SLUG[slug].initial()["payload"]
        if presets.BY_SLUG[slug].screen == "moengage":
            # 8x8 posts delivery reports to dlrCallbackUrl when a message names one.
            changes["payload"] = payload.replace(
                '"text": "Moesms_message"',
                '"text": "Moesms_message",\n  "clientMessageId": "$$MessageID",\n'
                '  "dlrCallbackUrl": "{callback_url}"',
            )
        try:
            provider_from_preset(
                slug,
                base_url=f"{url}/sandbox",
                values={
                    "subAccountId": "demo-account",
                    "apiKey": settings.SMS_SANDBOX_API_KEY,
                },
                nickname=nickname,
                sender_type=sender_type,
                **changes,
            )
        except ValueError as err:
            raise CommandError(f"Could not create {err}") from err
        self.stdout.write(f"Created provider “{nickname}” on the sandbox.")
