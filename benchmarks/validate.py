"""`make validate`: correctness checks against real market data in ../shared/data.

Each `benchmarks/validate_*.py` module defines `run() -> list[str]` returning failure messages
(empty when everything agrees) and prints what it compared. Exits non-zero on any failure, and
with a clear message when the shared data folder is absent (a newcomer's clone has none).
"""

import importlib
import os
import pkgutil
import sys

from benchmarks import SHARED_DATA


def main(argv: list[str]) -> int:
    if not SHARED_DATA.is_dir():
        print(f"validate: no shared market data at {SHARED_DATA} (set ADVISOR_SHARED_DATA)")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
    import benchmarks

    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("validate_")
    )
    failures: list[str] = []
    for name in names:
        print(f"\n== {name} ==", flush=True)
        problems = importlib.import_module(f"benchmarks.{name}").run()
        failures += [f"{name}: {p}" for p in problems]
    print(f"\n{len(names)} validations, {len(failures)} failures")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
