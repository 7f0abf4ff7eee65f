"""`manage.py drift_check [--portfolio ID] [--dry-run]`: the same service as the scan and the
"Check drift now" button, run in this process (no worker needed)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolios.models import Portfolio, Security
from rebalancing.services import drift


class Command(BaseCommand):
    help = "Check portfolios for drift and write rebalance proposals (all active ones by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, help="Only this portfolio id.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute and print; write nothing."
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Portfolios per batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        if options["portfolio"] is not None:
            if not Portfolio.objects.filter(pk=options["portfolio"]).exists():
                raise CommandError(f"No portfolio with id {options['portfolio']}.")
            ids = [options["portfolio"]]
        else:
            ids = list(Portfolio.objects.active().order_by("pk").values_list("pk", flat=True))
        size = options["batch_size"] or settings.ADVISOR_SCAN_BATCH_SIZE
        tickers = dict(Security.objects.values_list("pk", "ticker"))
        counts: dict[str, int] = {}
        for start in range(0, len(ids), size):
            result = drift.check_portfolios(ids[start : start + size], dry_run=options["dry_run"])
            for r in result.results:
                counts[r.status] = counts.get(r.status, 0) + 1
                if r.status in ("proposed", "would_propose", "unchanged", "no_trades", "skipped"):
                    line = f"portfolio {r.portfolio_id}: {r.status}"
                    if r.rule:
                        line += f" ({r.rule}) {r.reason}"
                    if r.draft is not None:
                        line += "".join(
                            f"\n    {t.side} {t.quantity.normalize():f} {tickers.get(t.security_id, t.security_id)} at {t.price.normalize():f}"
                            for t in r.draft.trades
                        )
                    if r.notes and r.status != "proposed":
                        line += f" [{r.notes}]"
                    self.stdout.write(line)
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no portfolios"
        prefix = "Dry run, nothing written. " if options["dry_run"] else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}Checked {len(ids)} portfolios ({summary})."))
