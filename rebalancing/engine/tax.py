"""US capital-gains netting (Schedule D) and the tax a set of sales adds to the year.

The one home of the netting rule: the drift check, the harvest scan, the proposal page and the
tax-aware backtest all call `schedule_d` (directly or through `year_tax` / `estimate_tax`).
Vectorised: every argument is a scalar or an array [N] (one row per household, portfolio or
backtest variant); results are arrays [N]. Money in currency, gains > 0 and losses < 0 for
realised results; carryovers and the loss limit are positive amounts. Rates are fractions
(0.24 == 24%).

The rule (IRS Schedule D and its Capital Loss Carryover Worksheet):
1. Net short-term = short-term gains and losses of the year - short-term loss carried in;
   net long-term likewise with the long-term carryover.
2. If one is a gain and the other a loss, the loss offsets the gain (a short-term loss can
   cancel long-term gains, taxed at the lower long-term rate, so it is worth only that rate).
3. What remains positive is taxed: short-term at the ordinary (short-term) rate, long-term at
   the long-term rate.
4. A net loss of both together is deducted from ordinary income up to the limit ($3,000,
   $1,500 married filing separately), valued at the short-term (ordinary) rate. The short-term
   part of the loss is used first.
5. The rest is carried to next year with its character (short or long).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Deduction of a net capital loss against ordinary income per year (26 U.S.C. 1211(b)).
LOSS_LIMIT = 3000.0
LOSS_LIMIT_MARRIED_SEPARATELY = 1500.0

ArrayLike = float | np.ndarray


def loss_limit(married_filing_separately: bool | np.ndarray) -> np.ndarray:
    """The yearly deduction against ordinary income: 1,500 when married filing separately,
    3,000 for every other filing status."""
    return np.where(
        np.asarray(married_filing_separately, dtype=bool), LOSS_LIMIT_MARRIED_SEPARATELY, LOSS_LIMIT
    )


@dataclass(frozen=True)
class Netting:
    """One tax year netted, per row [N].

    net_short_term / net_long_term: the year's results after the carryovers (step 1, signed);
    taxed_short_term / taxed_long_term (>= 0): what is taxed at each rate after the offset;
    ordinary_deduction (>= 0): net loss deducted from ordinary income;
    carry_short_term / carry_long_term (>= 0): losses carried to next year;
    tax: taxed_short_term x short rate + taxed_long_term x long rate
         - ordinary_deduction x short rate (negative: the year saves tax)."""

    net_short_term: np.ndarray
    net_long_term: np.ndarray
    taxed_short_term: np.ndarray
    taxed_long_term: np.ndarray
    ordinary_deduction: np.ndarray
    carry_short_term: np.ndarray
    carry_long_term: np.ndarray
    tax: np.ndarray


def schedule_d(
    short_term: ArrayLike,
    long_term: ArrayLike,
    *,
    short_rate: ArrayLike,
    long_rate: ArrayLike,
    carry_short: ArrayLike = 0.0,
    carry_long: ArrayLike = 0.0,
    limit: ArrayLike = LOSS_LIMIT,
) -> Netting:
    """Net one tax year (module docstring, steps 1-5). `short_term` / `long_term`: the year's
    realised results (signed); `carry_short` / `carry_long`: losses carried in (>= 0);
    `limit`: the deduction against ordinary income (`loss_limit`; 0 leaves it out)."""
    st = np.asarray(short_term, dtype=float) - np.asarray(carry_short, dtype=float)
    lt = np.asarray(long_term, dtype=float) - np.asarray(carry_long, dtype=float)
    st, lt = np.broadcast_arrays(st, lt)
    net = st + lt
    taxed_st = np.where(st > 0, np.where(lt < 0, np.maximum(net, 0.0), st), 0.0)
    taxed_lt = np.where(lt > 0, np.where(st < 0, np.maximum(net, 0.0), lt), 0.0)
    loss = np.maximum(-net, 0.0)
    loss_st = np.where(st < 0, np.minimum(-st, loss), 0.0)
    deduction = np.minimum(loss, np.maximum(np.asarray(limit, dtype=float), 0.0))
    carry_st = np.maximum(loss_st - deduction, 0.0)
    carry_lt = loss - loss_st - np.maximum(deduction - loss_st, 0.0)
    short_rate = np.asarray(short_rate, dtype=float)
    tax = taxed_st * short_rate + taxed_lt * np.asarray(long_rate, dtype=float)
    return Netting(
        net_short_term=st,
        net_long_term=lt,
        taxed_short_term=taxed_st,
        taxed_long_term=taxed_lt,
        ordinary_deduction=deduction,
        carry_short_term=carry_st,
        carry_long_term=np.maximum(carry_lt, 0.0),
        tax=tax - deduction * short_rate,
    )


@dataclass(frozen=True)
class Estimate:
    """The tax a set of sales adds to its year, per row [N]: `tax` = with.tax - before.tax
    (negative: the sales save tax). `before`: the year as realised so far; `after`: with the
    sales added."""

    tax: np.ndarray
    before: Netting
    after: Netting


def estimate_tax(
    short_term: ArrayLike,
    long_term: ArrayLike,
    *,
    short_rate: ArrayLike,
    long_rate: ArrayLike,
    realised_short_term: ArrayLike = 0.0,
    realised_long_term: ArrayLike = 0.0,
    carry_short: ArrayLike = 0.0,
    carry_long: ArrayLike = 0.0,
    limit: ArrayLike = LOSS_LIMIT,
) -> Estimate:
    """The tax that sales realising `short_term` / `long_term` (signed) add to a tax year in
    which `realised_short_term` / `realised_long_term` were already realised, with the losses
    carried into the year (`carry_short` / `carry_long` >= 0) and the deduction `limit`.

    Example (hand-worked): a short-term loss of 2,444.80 and a long-term gain of 7,863.32 at
    24% / 15% with nothing else that year: the loss offsets the long-term gain, 5,418.52 is
    taxed at 15% = 812.78 (not 7,863.32 x 15% - 2,444.80 x 24% = 592.75)."""
    before = schedule_d(
        realised_short_term, realised_long_term, short_rate=short_rate, long_rate=long_rate,
        carry_short=carry_short, carry_long=carry_long, limit=limit,
    )  # fmt: skip
    after = schedule_d(
        np.asarray(realised_short_term, dtype=float) + np.asarray(short_term, dtype=float),
        np.asarray(realised_long_term, dtype=float) + np.asarray(long_term, dtype=float),
        short_rate=short_rate, long_rate=long_rate, carry_short=carry_short,
        carry_long=carry_long, limit=limit,
    )  # fmt: skip
    return Estimate(tax=after.tax - before.tax, before=before, after=after)


def year_tax(
    short_term: np.ndarray,
    long_term: np.ndarray,
    carry_short: np.ndarray,
    carry_long: np.ndarray,
    short_rate: ArrayLike,
    long_rate: ArrayLike,
    limit: ArrayLike = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tax, short-term carry out, long-term carry out) of one year per row: `schedule_d` in
    the shape the backtest steps with. The default `limit` of 0 leaves the deduction against
    ordinary income out (a backtest does not know the investor's other income)."""
    n = schedule_d(
        short_term, long_term, short_rate=short_rate, long_rate=long_rate,
        carry_short=carry_short, carry_long=carry_long, limit=limit,
    )  # fmt: skip
    return n.tax, n.carry_short_term, n.carry_long_term
