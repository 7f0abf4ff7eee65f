"""The pure computation layers never import Django."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pure_packages_do_not_import_django() -> None:
    code = (
        "import sys\n"
        "import portfolios.analytics, portfolios.analytics.assumptions, portfolios.analytics.monte_carlo\n"
        "import portfolios.analytics.glide_path, portfolios.analytics.returns\n"
        "import accounts.scoring\n"
        "import rebalancing.engine\n"
        "import pkgutil, importlib\n"
        "for pkg in (portfolios.analytics, rebalancing.engine):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
