"""Write providers' configurations as a JSON file, without any secret."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from providers.transfer.exporting import UnknownNicknames, chosen, export_text


class Command(BaseCommand):
    help = (
        "Print the configuration of the providers named (all of them when none is "
        "named) as a provider file for import_providers. Secrets are left out: "
        'each is written as {"secret": true}.'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "nicknames", nargs="*", metavar="NICKNAME", help="Any letter case."
        )
        parser.add_argument(
            "--output", "-o", help="Write to this file instead of standard output."
        )

    def handle(self, *args, nicknames: list[str], output: str | None, **options):
        try:
            text = export_text(chosen(nicknames))
        except UnknownNicknames as err:
            raise CommandError(f"No provider is named {err}.") from None
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
            self.stderr.write(f"Wrote {output}.")
        else:
            self.stdout.write(text, ending="")
