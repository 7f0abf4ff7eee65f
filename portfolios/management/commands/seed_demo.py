import datetime as dt

from django.core.management.base import BaseCommand, CommandParser

from advisor.core import clock
from portfolios import demo


class Command(BaseCommand):
    help = "Create the demo data (securities, prices, models, demo investor and admin). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)"
        )

    def handle(self, *args: object, today: dt.date | None = None, **options: object) -> None:
        counts = demo.seed_demo(today=today or clock.today())
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: " + ", ".join(f"{v} {k}" for k, v in counts.items())
            )
        )
        self.stdout.write(
            f"Sign in as {demo.DEMO_EMAIL} / {demo.DEMO_PASSWORD} (staff: {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD})"
        )
