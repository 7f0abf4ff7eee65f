from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import audit


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; name the first broken entry (exit 1 on a break)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        if result.broken is None:
            self.stdout.write(f"OK: {result.checked} entries, chain ends {result.last_hash}")
            return
        where = (
            f"entry #{result.broken.event_id}"
            if result.broken.event_id is not None
            else "the end of the chain"
        )
        raise CommandError(f"BROKEN at {where}: {result.broken.problem}")
