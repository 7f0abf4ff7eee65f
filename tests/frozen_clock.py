"""Run a Python module on the test's clock: `python tests/frozen_clock.py celery -A advisor worker`.

Subprocesses a test starts (Celery workers) must agree with the test process on what day it is:
time_machine moves this process's clock to ADVISOR_TEST_NOW (ticking from there), then runs
the module as `python -m` would. Forked pool children inherit the moved clock.
"""

import datetime as dt
import os
import runpy
import sys

import time_machine


def main() -> None:
    module, *args = sys.argv[1:]
    now = os.environ.get("ADVISOR_TEST_NOW")
    if now:
        time_machine.travel(dt.datetime.fromisoformat(now), tick=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
