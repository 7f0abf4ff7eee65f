"""Drift over many portfolios: values, weights of invested value, drift vs target."""

import subprocess
import sys

import numpy as np
import pytest

from rebalancing.engine import drift
from tests.engine.books import book


def test_weights_and_drift_of_two_portfolios_hand_computed():
    # P1: 70 x 100 = 7000 equity, 60 x 50 = 3000 bonds, 500 cash -> 70/30 of 10000 invested.
    # P2: 60 x 100 = 6000, 80 x 50 = 4000 -> exactly 60/40.
    b = book([[70, 60], [60, 80]], [100, 50], [[0.6, 0.4], [0.6, 0.4]], cash=[500, 0])
    d = drift.compute(b)
    np.testing.assert_allclose(d.class_values, [[7000, 3000], [6000, 4000]])
    np.testing.assert_allclose(d.invested, [10000, 10000])
    np.testing.assert_allclose(d.total, [10500, 10000])
    np.testing.assert_allclose(d.weights, [[0.7, 0.3], [0.6, 0.4]])
    np.testing.assert_allclose(d.drift, [[0.1, -0.1], [0.0, 0.0]], atol=1e-12)


def test_securities_of_one_class_add_up():
    # VTI and ITOT both US equity: 20 x 100 + 10 x 100 = 3000 of 4000 invested.
    b = book(
        [[20, 10, 20]],
        [100, 100, 50],
        [[0.6, 0.4]],
        security_class=[0, 0, 1],
        target_security=[[0, 2]],
    )
    d = drift.compute(b)
    np.testing.assert_allclose(d.class_values, [[3000, 1000]])
    np.testing.assert_allclose(d.weights, [[0.75, 0.25]])
    np.testing.assert_allclose(d.security_weights, [[0.5, 0.25, 0.25]])


@pytest.mark.parametrize(
    ("quantity", "cash", "weights"),
    [([[0, 0]], [1000], [[0, 0]]), ([[0, 0]], [0], [[0, 0]])],
    ids=["only-cash", "empty"],
)
def test_portfolio_without_investments_has_zero_weights(quantity, cash, weights):
    d = drift.compute(book(quantity, [10, 10], [[0.5, 0.5]], cash=cash))
    np.testing.assert_allclose(d.weights, weights)
    np.testing.assert_allclose(d.drift, [[-0.5, -0.5]])


def test_targets_are_normalised_and_empty_rows_stay_empty():
    np.testing.assert_allclose(
        drift.normalise_targets(np.array([[0.3, 0.3], [0, 0]])), [[0.5, 0.5], [0, 0]]
    )


def test_engine_packages_never_import_django():
    code = (
        "import sys; import rebalancing.engine.drift, rebalancing.engine.policy, rebalancing.engine.trades; "
        "assert 'django' not in sys.modules, [m for m in sys.modules if m.startswith('django')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
