"""Brinson-Fachler attribution by asset class, daily, linked over periods by GRAP.

Per sub-period (a day), class i with portfolio weight w_i and return r_i, benchmark weight
W_i and return b_i, benchmark total B = sum W_i b_i, portfolio total R = sum w_i r_i:

    allocation_i  = (w_i - W_i) (b_i - B)
    selection_i   = W_i (r_i - b_i)
    interaction_i = (w_i - W_i) (r_i - b_i)

and sum_i (allocation + selection + interaction) = R - B exactly (the weights each sum to 1).
A class whose portfolio return is undefined (not held, or held with no capital at the start
of the day) has no selection effect; its contribution (w_i r_i, e.g. a dividend received after
the class was sold) goes to interaction, so the sum stays exact.

Multi-period linking: GRAP (Groupe de Recherche en Attribution de Performance, 1997; the same
factors as Frongello 2002). The effect of sub-period t is scaled by
prod_{s<t} (1 + R_s) x prod_{s>t} (1 + B_s); the linked effects then sum exactly to the
compounded active return prod(1 + R) - prod(1 + B), with no residual and no special case for
R == B (unlike Carino's logarithmic factors).

The portfolio side comes from the ledger (`sleeves`): one sleeve per asset class plus cash,
with the timing convention of performance.py applied inside the account. Money entering a
sleeve (a buy's cost into its class, a securities transfer in) counts at the start of the day,
money leaving it (a sale's proceeds, a dividend paid out to cash, a transfer out) at its end,
and the cash sleeve takes the other side of every trade. Start capitals K_i and end values E_i
then add up to the account's V_{t-1} + I_t and V_t + O_t, so sum_i w_i r_i, with
w_i = K_i / sum K and r_i = E_i / K_i - 1, is exactly the account's daily return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from portfolios.analytics.history import (
    BUY,
    DIVIDEND,
    EXTERNAL,
    SELL,
    TRANSFER_IN,
    TRANSFER_OUT,
    Ledger,
    day_index,
    forward_filled,
    positions_value,
    previous_closes,
)
from portfolios.analytics.performance import NO_CAPITAL


@dataclass(frozen=True)
class Effects:
    """Allocation, selection and interaction effects [..., C] (fractions of the portfolio)."""

    allocation: np.ndarray
    selection: np.ndarray
    interaction: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """Per class: allocation + selection + interaction."""
        return self.allocation + self.selection + self.interaction

    @property
    def active(self) -> np.ndarray:
        """Summed over classes: the active return they explain."""
        return self.total.sum(axis=-1)


def brinson_fachler(
    portfolio_weight: np.ndarray,
    portfolio_return: np.ndarray,
    benchmark_weight: np.ndarray,
    benchmark_return: np.ndarray,
    *,
    portfolio_contribution: np.ndarray | None = None,
) -> Effects:
    """Brinson-Fachler effects per class for one or many sub-periods: arrays [..., C], the
    last axis the asset classes (module docstring). `portfolio_return` may be NaN where the
    class is undefined in the portfolio; `portfolio_contribution` (w_i r_i, default computed,
    0 where the return is NaN) carries such a class's contribution into interaction."""
    wp = np.asarray(portfolio_weight, dtype=float)
    rp = np.asarray(portfolio_return, dtype=float)
    wb = np.asarray(benchmark_weight, dtype=float)
    rb = np.asarray(benchmark_return, dtype=float)
    defined = np.isfinite(rp)
    contribution = (
        np.where(defined, wp * np.where(defined, rp, 0.0), 0.0)
        if portfolio_contribution is None
        else np.asarray(portfolio_contribution, dtype=float)
    )
    total_b = (wb * rb).sum(axis=-1, keepdims=True)
    allocation = (wp - wb) * (rb - total_b)
    selection = np.where(defined, wb * (np.where(defined, rp, 0.0) - rb), 0.0)
    # Equal to (wp - wb)(rp - rb) where rp is defined; the whole contribution where it is not.
    interaction = contribution - wp * rb - selection
    return Effects(allocation=allocation, selection=selection, interaction=interaction)


def link_grap(
    effects: Effects,
    portfolio_return: np.ndarray,
    benchmark_return: np.ndarray,
) -> Effects:
    """Link sub-period effects [T, ..., C] over axis 0 by GRAP (module docstring), given the
    sub-period totals R [T, ...] and B [T, ...]. The result [..., C] sums over classes to
    prod(1 + R) - prod(1 + B)."""
    rp = np.asarray(portfolio_return, dtype=float)
    rb = np.asarray(benchmark_return, dtype=float)
    ones = np.ones((1, *rp.shape[1:]))
    before = np.cumprod(np.concatenate([ones, 1.0 + rp[:-1]]), axis=0)
    after = np.cumprod(np.concatenate([ones, 1.0 + rb[::-1][:-1]]), axis=0)[::-1]
    factor = (before * after)[..., None]
    return Effects(
        allocation=(effects.allocation * factor).sum(axis=0),
        selection=(effects.selection * factor).sum(axis=0),
        interaction=(effects.interaction * factor).sum(axis=0),
    )


@dataclass(frozen=True)
class Sleeves:
    """Per day, account and sleeve [T, A, C + 1] (the asset classes, then cash), dollars:
    start_capital K (V_{t-1} plus what entered at the start of the day) and end_value E
    (V_t plus what left at its end)."""

    start_capital: np.ndarray
    end_value: np.ndarray

    def weights(self) -> np.ndarray:
        """w = K / sum(K) [T, A, C + 1]; 0 on days the account has no capital."""
        total = self.start_capital.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > NO_CAPITAL, self.start_capital / total, 0.0)

    def returns(self) -> np.ndarray:
        """r = E / K - 1 [T, A, C + 1]; NaN where the sleeve starts with no capital."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.start_capital > NO_CAPITAL, self.end_value / self.start_capital - 1, np.nan
            )

    def contributions(self) -> np.ndarray:
        """w r = (E - K) / sum(K) [T, A, C + 1]: sums over sleeves to the account's return."""
        total = self.start_capital.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > NO_CAPITAL, (self.end_value - self.start_capital) / total, 0.0)


def sleeves(
    ledger: Ledger,
    dates: np.ndarray,
    closes: np.ndarray,
    security_class: np.ndarray,
    n_classes: int,
) -> Sleeves:
    """Class and cash sleeves of every account of `ledger` (module docstring); the inputs are
    those of performance.value_history plus `security_class` [S] (0 .. n_classes - 1).
    Memory is [T, A, C + 1]: meant for one account or a household's few."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    filled = forward_filled(closes)
    n_days, n_accounts = len(dates), ledger.n_accounts
    n_sleeves = n_classes + 1
    rows = day_index(dates, ledger.date)
    security_class = np.asarray(security_class, dtype=np.int64)
    has_security = ledger.security >= 0
    sleeve = np.where(
        has_security, security_class[np.where(has_security, ledger.security, 0)], n_classes
    )
    cell = (rows * n_accounts + ledger.account) * n_sleeves + sleeve
    cash_cell = (rows * n_accounts + ledger.account) * n_sleeves + n_classes
    size = n_days * n_accounts * n_sleeves

    def daily(where: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
        return np.bincount(at[where], weights=weights[where], minlength=size).reshape(
            n_days, n_accounts, n_sleeves
        )

    kind, amount = ledger.kind, ledger.amount
    market = positions_value(ledger, rows, filled, group=security_class, n_groups=n_classes)
    cash = np.cumsum(
        np.bincount(
            rows * n_accounts + ledger.account, weights=amount, minlength=n_days * n_accounts
        ).reshape(n_days, n_accounts),
        axis=0,
    )
    value = np.concatenate([market, cash[:, :, None]], axis=2)
    opening = np.concatenate([np.zeros((1, n_accounts, n_sleeves)), value[:-1]])

    quantity = ledger.quantity
    security = np.where(has_security, ledger.security, 0)
    moved = has_security & (quantity > 0)
    buys = has_security & (kind == BUY)
    sells = has_security & (kind == SELL)
    dividends = has_security & (kind == DIVIDEND)
    cost, proceeds = -amount, amount
    external = np.isin(kind, EXTERNAL)
    start = (
        daily(buys, cost, cell)
        - daily(buys, cost, cash_cell)
        + daily(
            moved & (kind == TRANSFER_IN), previous_closes(filled)[rows, security] * quantity, cell
        )
        + daily(external & (amount > 0), amount, cash_cell)
    )
    end = (
        daily(sells, proceeds, cell)
        - daily(sells, proceeds, cash_cell)
        + daily(dividends, amount, cell)
        - daily(dividends, amount, cash_cell)
        + daily(moved & (kind == TRANSFER_OUT), filled[rows, security] * quantity, cell)
        + daily(external & (amount < 0), -amount, cash_cell)
    )
    return Sleeves(start_capital=opening + start, end_value=value + end)
