"""Send a test SMS from the command line; exit status 0 on success, 1 on failure."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from providers.forms.placeholder_values import PlaceholderValuesField
from providers.models import Provider
from providers.phones import to_e164
from providers.send_test_sms import send_test_sms


class Command(BaseCommand):
    help = (
        "Send a test SMS through a provider and print what was sent and what came back."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "nickname", help="The provider's nickname (any letter case)."
        )
        parser.add_argument(
            "number", help="The mobile number, in international format (+65...)."
        )
        parser.add_argument(
            "--message", help="The text; by default a short test message."
        )
        parser.add_argument(
            "--country", default="SG", help="Country for a number without +."
        )
        parser.add_argument(
            "--placeholder",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A value for a custom placeholder of the request, e.g. hid=1234 "
            "for $$hid; repeat for each.",
        )

    def handle(
        self,
        *args,
        nickname: str,
        number: str,
        message: str | None,
        country: str,
        placeholder: list[str],
        **options,
    ):
        provider = Provider.objects.filter(nickname__iexact=nickname).first()
        if provider is None:
            raise CommandError(f"No provider is named “{nickname}”.")
        try:
            to = to_e164(number, country.upper())
        except ValidationError as err:
            raise CommandError(" ".join(err.messages)) from err
        try:
            values = PlaceholderValuesField().clean("\n".join(placeholder))
        except ValidationError as err:
            raise CommandError(" ".join(err.messages)) from err
        text = message or f"This is a test message powered by {provider.nickname}"
        test = send_test_sms(
            provider=provider, sender=None, to=to, text=text, placeholders=values
        )
        self.report(test)
        if not test.succeeded:
            raise SystemExit(1)

    def report(self, test) -> None:
        verdict = (
            self.style.SUCCESS("Success")
            if test.succeeded
            else self.style.ERROR("Failure")
        )
        self.stdout.write(f"{verdict}: {test.diagnosis}")
        facts = [
            ("HTTP status", test.status_code or "—"),
            (
                "Latency",
                f"{test.latency_ms} ms" if test.latency_ms is not None else "—",
            ),
            ("Provider message id", test.provider_message_id or "—"),
            ("Message id", test.message_id),
        ]
        for label, value in facts:
            self.stdout.write(f"  {label}: {value}")
        if test.request_method:
            self.stdout.write("\nRequest as sent (secrets masked):")
            self.stdout.write(f"  {test.request_method} {test.request_url}")
            for name, value in test.request_headers:
                self.stdout.write(f"  {name}: {value}")
            self.stdout.write(f"\n  {test.request_body}")
        if test.response_excerpt:
            self.stdout.write(f"\nResponse:\n  {test.response_excerpt}")
