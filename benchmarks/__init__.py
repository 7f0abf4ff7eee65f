"""Benchmark harness: `python -m benchmarks` (make bench).

Each `benchmarks/bench_*.py` module defines `run(report: Report) -> None`. A benchmark reports
its measurement beside a baseline measured in the same run, so the ratio is what matters, not
the machine. The harness points Django at a separate database (DATABASE_URL's name + "_bench"),
creates it if missing and migrates it.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ADVISOR_SHARED_DATA", ROOT.parent / "shared" / "data"))


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline_value: float | None = None
    target: str = ""
    note: str = ""

    def line(self) -> str:
        text = f"{self.name}: {self.value:,.3f} {self.unit}"
        if self.baseline_value is not None:
            ratio = self.value / self.baseline_value if self.baseline_value else float("inf")
            text += f"  | baseline {self.baseline_name}: {self.baseline_value:,.3f} {self.unit}  | ratio {ratio:,.2f}x"
        if self.target:
            text += f"  | target: {self.target}"
        if self.note:
            text += f"  ({self.note})"
        return text


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, **kwargs: object) -> Result:
        result = Result(name, value, unit, **kwargs)  # type: ignore[arg-type]
        self.results.append(result)
        print(result.line(), flush=True)
        return result


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """`with timer() as elapsed: ...; elapsed()` gives seconds (wall clock, perf_counter)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


SCAN_TABLES = (
    "accounts_user",
    "portfolios_portfolio",
    "portfolios_taxlot",
    "rebalancing_proposal",
    "rebalancing_proposedtrade",
    "accounts_auditevent",
)


def vacuum(tables: tuple[str, ...] = SCAN_TABLES) -> None:
    """VACUUM ANALYZE the tables a scan reads and writes, before it is timed: a benchmark
    that deletes the previous run's proposals would otherwise time a table full of dead rows,
    and one that has just loaded its data would time autovacuum catching up on a second core
    (on a live system autovacuum keeps up in the background). Outside any transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def best_of(repeat: int, func: Callable[[], object]) -> float:
    """Seconds of the fastest of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best
