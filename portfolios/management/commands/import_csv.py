from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from portfolios.imports import services as imports
from portfolios.models import Portfolio


class Command(BaseCommand):
    help = (
        "Import a CSV of positions with lots, transaction history or prices (the same service as the "
        "browser wizard; all rows or none). See docs/imports.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", choices=["lots", "transactions", "prices"], required=True)
        parser.add_argument(
            "--layout", default="auto", help="auto (default), canonical, fidelity or schwab"
        )
        parser.add_argument("--portfolio", type=int, help="Portfolio id (lots and transactions)")
        parser.add_argument("--owner", help="Email of the portfolio's owner, as a safety check")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and report; write nothing"
        )

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["path"]
        kind = str(options["kind"])
        portfolio = None
        if kind != "prices":
            if not options["portfolio"]:
                raise CommandError("--portfolio is required for lots and transactions.")
            portfolio = (
                Portfolio.objects.select_related("owner").filter(pk=options["portfolio"]).first()
            )
            if portfolio is None:
                raise CommandError(f"No portfolio {options['portfolio']}.")
            if options["owner"] and portfolio.owner.email.lower() != str(options["owner"]).lower():
                raise CommandError(
                    f"Portfolio {portfolio.pk} does not belong to {options['owner']}."
                )
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        if path.stat().st_size > imports.max_upload_bytes():
            raise CommandError(
                f"{path} is {path.stat().st_size / 1_048_576:.1f} MB; the limit is "
                f"{imports.max_upload_bytes() / 1_048_576:.0f} MB (ADVISOR_IMPORT_MAX_BYTES)."
            )
        data = path.read_bytes()
        layout = str(options["layout"])
        if options["dry_run"]:
            result = imports.parse_upload(data, kind=kind, portfolio=portfolio, layout=layout)
            self._report(result)
            return
        owner = (
            portfolio.owner
            if portfolio
            else User.objects.filter(is_staff=True).order_by("pk").first()
        )
        try:
            result = imports.import_file(
                data, kind=kind, portfolio=portfolio, layout=layout, by=owner, filename=path.name
            )
        except imports.ImportRejected as exc:
            self._report(exc.result)
            raise CommandError("Nothing was imported.") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Imported {result.row_count} rows ({result.layout} layout).")
        )

    def _report(self, result: imports.ParseResult) -> None:
        for message in result.messages(limit=200):
            self.stderr.write(message)
        self.stdout.write(
            f"{len(result.rows)} rows, {len(result.valid_rows)} valid, {result.error_count} with errors "
            f"({result.layout} layout)."
        )
