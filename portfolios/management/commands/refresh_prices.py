from django.core.management.base import BaseCommand, CommandParser

from portfolios import prices, providers


class Command(BaseCommand):
    help = "Fetch the missing daily closes of every active security from the configured provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider", help="embedded or tiingo (default: ADVISOR_MARKET_DATA_PROVIDER)"
        )

    def handle(self, *args: object, **options: object) -> None:
        provider = providers.get_provider(options.get("provider"))  # type: ignore[arg-type]
        summary = prices.refresh_prices(provider=provider)
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.provider}: {summary.stored} closes stored for {summary.securities} securities."
            )
        )
        for ticker, error in summary.errors.items():
            self.stderr.write(f"{ticker}: {error}")
        for ticker, days in summary.missing_days.items():
            self.stdout.write(f"{ticker}: {days} trading day(s) without a close (provider gaps)")
