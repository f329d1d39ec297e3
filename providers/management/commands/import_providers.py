"""Create providers from a provider file, through their setup screens' checks."""

from __future__ import annotations

import sys
from getpass import getpass

from django.core.management.base import BaseCommand, CommandError

from providers.transfer.importing import (
    ImportRefused,
    import_document,
    named_secrets,
    parse,
)
from providers.transfer.secrets import Secrets, env_name, parse_given


class Command(BaseCommand):
    help = (
        "Import the providers of a file written by export_providers. Each is "
        "checked as its setup screen checks it; any problem is printed with its "
        "place in the file, and then nothing is imported. Secrets come from "
        '--secret "NICKNAME/NAME=value", then SMSBRIDGE_SECRET_<NICKNAME>_<NAME>, '
        "then --secret NAME=value; on a terminal, the others are asked for."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The provider file; - for standard input.")
        parser.add_argument(
            "--secret",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A secret the file names; NICKNAME/NAME=VALUE for one provider.",
        )
        parser.add_argument(
            "--no-input",
            action="store_true",
            help="Never ask for a secret, even on a terminal.",
        )

    def handle(self, *args, file: str, secret: list[str], no_input: bool, **options):
        try:
            given = parse_given(secret)
            document = parse(self.read(file))
            secrets = Secrets(given)
            if not no_input and sys.stdin.isatty() and file != "-":
                self.ask(document, secrets)
            providers = import_document(document, secrets=secrets)
        except ValueError as err:
            raise CommandError(str(err)) from None
        except ImportRefused as refused:
            for problem in refused.problems:
                self.stderr.write(str(problem))
            raise CommandError(str(refused)) from None
        names = ", ".join(p.nickname for p in providers)
        self.stdout.write(f"Imported {len(providers)} provider(s): {names}.")
        self.stdout.write(
            "Each has a new callback URL: give it to the provider (Send Test SMS "
            "shows it)."
        )

    def read(self, file: str) -> bytes:
        if file == "-":
            return sys.stdin.buffer.read()
        try:
            with open(file, "rb") as handle:
                return handle.read()
        except OSError as err:
            raise CommandError(f"Cannot read {file}: {err.strerror}.") from None

    def ask(self, document: dict, secrets: Secrets) -> None:
        for nickname, name in named_secrets(document):
            if not secrets.find(nickname, name):
                prompt = f"{nickname} / {name} (or set {env_name(nickname, name)}): "
                secrets.given[f"{nickname}/{name}"] = getpass(prompt)
