"""The import ladder (pyproject.toml [tool.importlinter], docs/architecture.md) holds, and each
contract fails when a module breaks it: the checker runs on a copy of the tree with one bad
import added (imports inside functions count)."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("advisor", "accounts", "portfolios", "rebalancing")
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run(
        [LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", copy)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return copy


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_line", "contract"),
    [
        (  # an app importing one above it, inside a function
            "accounts/selectors.py",
            "def _up():\n    from portfolios import selectors  # noqa\n",
            "The apps form a ladder",
        ),
        (
            "portfolios/ledger.py",
            "from rebalancing import models  # noqa\n",
            "The apps form a ladder",
        ),
        ("advisor/core/chunks.py", "import accounts.audit  # noqa\n", "The apps form a ladder"),
        ("rebalancing/engine/drift.py", "import django.db  # noqa\n", "never import Django"),
        ("portfolios/analytics/returns.py", "import django  # noqa\n", "never import Django"),
        (  # approval imports notifications; the way back closes a circle
            "rebalancing/services/notifications.py",
            "from rebalancing.services import approval  # noqa\n",
            "No module circles",
        ),
    ],
)
def test_a_bad_import_breaks_its_contract(
    tree: Path, module: str, bad_line: str, contract: str
) -> None:
    path = tree / module
    original = path.read_text()
    path.write_text(original + "\n" + bad_line)
    try:
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and contract in result.stdout.replace("\n", " ")


MAX_FUNCTION_LINES = 80


def _step_modules() -> list[Path]:
    """Every module of a services, selectors or views package (or single module) in the apps."""
    found = []
    for app in ("accounts", "advisor", "portfolios", "rebalancing"):
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if any(p in ("services", "selectors", "views") for p in parts[:-1]) or parts[-1] in (
                "services.py",
                "selectors.py",
                "views.py",
            ):
                found.append(path)
    return found


def test_no_function_in_services_selectors_or_views_is_over_80_lines() -> None:
    """Long steps hide their parts: each is split into well-named functions instead."""
    modules = _step_modules()
    assert any("rebalancing/services/harvest.py" in str(p) for p in modules)
    too_long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in modules
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not too_long, too_long
