"""Allocation drift over many portfolios at once.

A `Book` holds P portfolios over a shared universe of S securities grouped into K asset
classes. Money is float64 in the account currency; quantities in shares; weights are fractions
of the INVESTED value (cash excluded: cash has its own buffer rule), so 0.25 == 25%.
Drift = current weight - target weight (positive: overweight), in fractions (0.07 == 7 points).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Book:
    """Holdings and targets of P portfolios, as dense arrays.

    portfolio_ids [P]      database ids (labels only)
    classes [K]            asset-class codes
    security_ids [S]       database ids (labels only)
    security_class [S]     index into `classes`
    prices [S]             latest close per share (> 0)
    fractional [S]         True where fractional shares may be traded
    quantity [P, S]        shares held (>= 0)
    cash [P]               cash balance (>= 0)
    target [P, K]          target weights; each row sums to 1 (or is all 0: no target)
    target_security [P, K] index into securities bought for the class, -1 where none
    """

    portfolio_ids: np.ndarray
    classes: tuple[str, ...]
    security_ids: np.ndarray
    security_class: np.ndarray
    prices: np.ndarray
    fractional: np.ndarray
    quantity: np.ndarray
    cash: np.ndarray
    target: np.ndarray
    target_security: np.ndarray

    @property
    def class_matrix(self) -> np.ndarray:
        """[S, K] one-hot: security s belongs to class k."""
        onehot = np.zeros((len(self.security_ids), len(self.classes)))
        if len(self.security_ids):
            onehot[np.arange(len(self.security_ids)), self.security_class] = 1.0
        return onehot


@dataclass(frozen=True)
class Drift:
    """Drift of every portfolio of a book.

    security_values [P, S] market value per security; class_values [P, K];
    invested [P] = sum of class values; total [P] = invested + cash;
    weights [P, K] class weights of the invested value (0 where nothing is invested);
    security_weights [P, S]; drift [P, K] = weights - target.
    """

    security_values: np.ndarray
    class_values: np.ndarray
    invested: np.ndarray
    total: np.ndarray
    weights: np.ndarray
    security_weights: np.ndarray
    drift: np.ndarray


def normalise_targets(target: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1; rows summing to 0 stay 0 (portfolio without a target)."""
    target = np.asarray(target, dtype=float)
    sums = target.sum(axis=1, keepdims=True)
    return np.divide(target, sums, out=np.zeros_like(target), where=sums > 0)


def weights_of(values: np.ndarray) -> np.ndarray:
    """Row-wise fractions of the row total; 0 for an all-zero row. values [P, N] -> [P, N]."""
    values = np.asarray(values, dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    return np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)


def compute(book: Book) -> Drift:
    """Market values, weights and drift for every portfolio (one matrix product, no loops)."""
    security_values = book.quantity * book.prices[None, :]
    class_values = security_values @ book.class_matrix
    invested = class_values.sum(axis=1)
    weights = weights_of(class_values)
    return Drift(
        security_values=security_values,
        class_values=class_values,
        invested=invested,
        total=invested + book.cash,
        weights=weights,
        security_weights=weights_of(security_values),
        drift=weights - book.target,
    )
