"""Small hand-built books for the drift/policy/trade engine tests."""

import numpy as np

from rebalancing.engine import drift, trades


def book(
    quantity: list[list[float]],
    prices: list[float],
    target: list[list[float]],
    *,
    cash: list[float] | None = None,
    classes: tuple[str, ...] | None = None,
    security_class: list[int] | None = None,
    fractional: list[bool] | None = None,
    target_security: list[list[int]] | None = None,
) -> drift.Book:
    """Default: security i is the only member (and the vehicle) of class i."""
    n_p, n_s, n_k = len(quantity), len(prices), len(target[0])
    return drift.Book(
        portfolio_ids=np.arange(1, n_p + 1),
        classes=classes or tuple(f"c{k}" for k in range(n_k)),
        security_ids=np.arange(101, 101 + n_s),
        security_class=np.array(security_class if security_class is not None else list(range(n_s))),
        prices=np.array(prices, dtype=float),
        fractional=np.array(fractional if fractional is not None else [True] * n_s),
        quantity=np.array(quantity, dtype=float),
        cash=np.array(cash if cash is not None else [0.0] * n_p, dtype=float),
        target=np.array(target, dtype=float),
        target_security=np.array(
            target_security if target_security is not None else [list(range(n_k))] * n_p
        ),
    )


def lots_for(
    b: drift.Book, *, basis_per_share: float | None = None, start: str = "2020-01-02"
) -> trades.Lots:
    """One lot per held position, bought at `basis_per_share` (default: today's price) on `start`."""
    p, s = np.nonzero(b.quantity > 0)
    q = b.quantity[p, s]
    cps = b.prices[s] if basis_per_share is None else np.full(len(s), basis_per_share)
    return trades.Lots(
        portfolio=p,
        security=s,
        lot_id=np.arange(1, len(p) + 1),
        quantity=q,
        cost_basis=q * cps,
        holding_start=np.full(len(p), np.datetime64(start, "D")),
        household=p + 1,
    )
