"""`manage.py harvest_scan [--user ID] [--dry-run] [--date YYYY-MM-DD]`: the harvest scan, now."""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from rebalancing.services import harvest


class Command(BaseCommand):
    help = "Scan taxable accounts for tax-loss harvests and write harvest proposals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=int, help="Only this investor (user id).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute and print; write nothing."
        )
        parser.add_argument(
            "--date", type=dt.date.fromisoformat, help="Scan as of this date (default today)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_ids = None
        if options["user"] is not None:
            if not User.objects.filter(pk=options["user"]).exists():
                raise CommandError(f"No user with id {options['user']}.")
            user_ids = [options["user"]]
        result = harvest.scan_for_harvest(
            user_ids=user_ids, on=options["date"], dry_run=options["dry_run"]
        )
        for draft in result.drafts:
            self.stdout.write(
                f"portfolio {draft.portfolio_id}: {len(draft.trades)} trades, tax value "
                f"{-draft.est_tax:,.2f}, cost {draft.est_cost:,.2f}. {draft.reason}"
            )
        for skip in result.skipped:
            self.stdout.write(f"portfolio {skip['portfolio_id']}: {skip['message']}")
        verb = "would create" if options["dry_run"] else "created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.households} households, {result.portfolios} taxable accounts, {result.lots} lots: "
                f"{len(result.drafts)} harvest proposals ({verb} {len(result.drafts) if options['dry_run'] else result.created}, "
                f"kept {result.kept}), {len(result.skipped)} skipped."
            )
        )
