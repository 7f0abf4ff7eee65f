"""Run every benchmarks/bench_*.py (or those named on the command line)."""

import importlib
import os
import pkgutil
import sys

import environ


def _use_bench_database() -> None:
    url = os.environ.get("ADVISOR_BENCH_DATABASE_URL")
    if not url:
        base = environ.Env.db_url_config(
            os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/advisor")
        )
        url = f"postgres://{base.get('USER') or 'postgres'}@{base.get('HOST') or '127.0.0.1'}:{base.get('PORT') or 5432}/{base['NAME']}_bench"
    config = environ.Env.db_url_config(url)
    import psycopg

    with psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")


def main(argv: list[str]) -> int:
    _use_bench_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0)

    import benchmarks

    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    report = benchmarks.Report()
    for name in names:
        print(f"\n== {name} ==", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        module.run(report)
    print(f"\n{len(report.results)} results")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
