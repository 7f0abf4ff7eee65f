"""Daily value history of accounts from the transaction ledger and daily closes.

Inputs (a selector loads them as arrays, for one account, a household or every account at once):

* `Ledger`: one row per `portfolios.models.Transaction`, as stored: account index (0 .. A-1),
  trade date, kind (the `Transaction.Kind` values, see KINDS), security index (a column of
  `closes`, -1 for none), quantity (shares, positive as stored; 0 when none), amount (the signed
  cash effect, as stored: a buy is negative) and fees (commissions, already inside `amount`).
* `dates` [T]: the calendar (ascending `datetime64[D]`, e.g. the trading days), starting on or
  before the first transaction; a transaction dated between two calendar days (a Saturday
  deposit) counts on the next one.
* `closes` [T, S]: daily closes per security on those dates; NaN where there is none (carried
  forward from the last close; NaN before a security's first close, which makes the value of
  an account holding it NaN). Use the raw close, not the dividend-adjusted one: dividends
  arrive in the ledger as cash, and would otherwise count twice.

Ledger semantics (portfolios/ledger.py): cash is the running sum of `amount` (the ledger's
invariant `portfolio.cash == sum(amount)`); shares move with buy and transfer in (+) and sell
and transfer out (-), when the row has a security and a quantity (an imported position is a
transfer in with amount 0). External flows, what the investor moves in or out, are deposits,
withdrawals and transfers: their cash amount (> 0 in, < 0 out) and securities at market value.
Dividends and interest are income, `fee` rows are account fees and buy/sell fees are
commissions: all three stay inside the return, never flows.

Timing of external flows (the convention performance.py states and uses): inflows arrive at
the START of the day, securities transferred in valued at the previous close; outflows leave
at the END of the day, securities transferred out valued at that day's close.

Output arrays are [T, A] (time first, one column per account, like metrics.py). An account has
no value (NaN) before its first transaction (its inception). Vectorised over accounts: flows
are sums by (day, account) (`np.bincount`) and positions cumulative sums by (day, account,
security), in blocks of bounded memory; never a loop over transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

KINDS = (
    "buy",
    "sell",
    "dividend",
    "interest",
    "fee",
    "deposit",
    "withdrawal",
    "transfer_in",
    "transfer_out",
)
BUY, SELL, DIVIDEND, INTEREST, FEE, DEPOSIT, WITHDRAWAL, TRANSFER_IN, TRANSFER_OUT = range(9)
EXTERNAL = (DEPOSIT, WITHDRAWAL, TRANSFER_IN, TRANSFER_OUT)
INCOME = (DIVIDEND, INTEREST)
# Shares moved per kind: +1 in, -1 out, 0 none.
SHARE_SIGN = np.array([1, -1, 0, 0, 0, 0, 0, 1, -1], dtype=float)

DAYS_PER_YEAR = 365.25  # as metrics.py's calendar CAGR

_BLOCK_CELLS = 4_000_000  # [T, pairs] cells per block of positions (32 MB of float64)


# --- inputs ------------------------------------------------------------------------------------


def kind_codes(kinds: Sequence[str] | np.ndarray) -> np.ndarray:
    """Codes (indexes into KINDS) of `Transaction.Kind` values; integer input passes through."""
    array = np.asarray(kinds)
    if array.dtype.kind in "iu":
        codes = array.astype(np.int8)
        if len(codes) and (codes.min() < 0 or codes.max() >= len(KINDS)):
            raise ValueError("kind codes must index KINDS")
        return codes
    names, inverse = np.unique(array.astype(str), return_inverse=True)
    unknown = sorted(set(names.tolist()) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown transaction kinds: {unknown}")
    return np.array([KINDS.index(n) for n in names], dtype=np.int8)[inverse].reshape(-1)


def _as_days(values: object) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]")


@dataclass(frozen=True)
class Ledger:
    """Transactions of `n_accounts` accounts as parallel arrays [N] (see the module docstring).

    Build it with `Ledger.from_columns`, which converts and checks the columns.
    """

    account: np.ndarray  # int64, 0 .. n_accounts - 1
    date: np.ndarray  # datetime64[D], the trade date
    kind: np.ndarray  # int8, index into KINDS
    security: np.ndarray  # int64, column of `closes`; -1 when none
    quantity: np.ndarray  # float, shares >= 0 as stored (0 when none)
    amount: np.ndarray  # float, signed cash effect as stored (dollars)
    fees: np.ndarray  # float, commissions >= 0 (included in amount)
    n_accounts: int

    @classmethod
    def from_columns(
        cls,
        *,
        account: Sequence[int] | np.ndarray,
        date: Sequence[dt.date] | np.ndarray,
        kind: Sequence[str] | np.ndarray,
        amount: Sequence[float] | np.ndarray,
        security: Sequence[int] | np.ndarray | None = None,
        quantity: Sequence[float | None] | np.ndarray | None = None,
        fees: Sequence[float] | np.ndarray | None = None,
        n_accounts: int | None = None,
    ) -> Ledger:
        """Columns as loaded (Decimal already float); None/NaN quantity and security mean none."""
        account_ = np.asarray(account, dtype=np.int64).reshape(-1)
        n = len(account_)

        def column(values: object, fill: float) -> np.ndarray:
            if values is None:
                return np.full(n, fill)
            array = np.asarray(values, dtype=float).reshape(-1)
            return np.where(np.isnan(array), fill, array)

        security_ = column(security, -1.0).astype(np.int64)
        ledger = cls(
            account=account_,
            date=_as_days(date).reshape(-1),
            kind=kind_codes(kind),
            security=security_,
            quantity=np.abs(column(quantity, 0.0)),
            amount=column(amount, 0.0),
            fees=column(fees, 0.0),
            n_accounts=int(
                n_accounts if n_accounts is not None else (account_.max() + 1 if n else 0)
            ),
        )
        for f in fields(ledger):
            value = getattr(ledger, f.name)
            if isinstance(value, np.ndarray) and len(value) != n:
                raise ValueError(f"ledger column {f.name} has {len(value)} rows, expected {n}")
        if n and (account_.min() < 0 or account_.max() >= ledger.n_accounts):
            raise ValueError("account indexes must be in 0 .. n_accounts - 1")
        return ledger

    def __len__(self) -> int:
        return len(self.account)

    def take(self, rows: np.ndarray, *, account_offset: int = 0, n_accounts: int) -> Ledger:
        """The rows `rows` (indexes or mask), accounts renumbered by - account_offset."""
        return Ledger(
            account=self.account[rows] - account_offset,
            date=self.date[rows],
            kind=self.kind[rows],
            security=self.security[rows],
            quantity=self.quantity[rows],
            amount=self.amount[rows],
            fees=self.fees[rows],
            n_accounts=n_accounts,
        )


def forward_filled(closes: np.ndarray) -> np.ndarray:
    """Closes [T, S] with each NaN replaced by the last close before it (NaN before the first)."""
    c = np.asarray(closes, dtype=float)
    if c.ndim != 2:
        raise ValueError("closes must be [T, S]")
    rows = np.where(np.isfinite(c), np.arange(len(c))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    return c[rows, np.arange(c.shape[1])]


def previous_closes(filled: np.ndarray) -> np.ndarray:
    """[T, S] the close before each day, from forward-filled closes (that day's own close
    where there is none before it): the value of securities arriving at the start of a day."""
    previous = np.vstack([filled[:1], filled[:-1]])
    return np.where(np.isfinite(previous), previous, filled)


def day_index(dates: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Row of `dates` on which each of `when` counts: the first calendar day on or after it."""
    dates, when = _as_days(dates), _as_days(when)
    if len(dates) == 0:
        raise ValueError("the calendar is empty")
    if len(dates) > 1 and not (np.diff(dates.astype(np.int64)) > 0).all():
        raise ValueError("the calendar must be strictly ascending")
    rows = np.searchsorted(dates, when, side="left")
    if len(when) and (when.min() < dates[0] or rows.max() >= len(dates)):
        raise ValueError(
            f"transactions from {when.min()} to {when.max()} fall outside the calendar "
            f"{dates[0]} .. {dates[-1]}: start the calendar at the first transaction and "
            "load none after its end"
        )
    return rows


def daily_totals(
    dates: np.ndarray,
    account: np.ndarray,
    when: np.ndarray,
    amount: np.ndarray,
    n_accounts: int,
) -> np.ndarray:
    """Sum of `amount` per (calendar day, account) [T, A] (e.g. realised gains from LotSale
    rows: account index, trade date, gain); amounts dated between calendar days count on the next."""
    rows = day_index(dates, when)
    cell = rows * n_accounts + np.asarray(account, dtype=np.int64)
    total = np.bincount(
        cell, weights=np.asarray(amount, dtype=float), minlength=len(dates) * n_accounts
    )
    return total.reshape(len(dates), n_accounts)


# --- value history -----------------------------------------------------------------------------


def holdings_value(
    ledger: Ledger,
    dates: np.ndarray,
    closes: np.ndarray,
    *,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """Closing market value of the shares held, per day and account: [T, A], or [T, A, G] by
    security group when `group` [S] (e.g. the asset class of each security, 0 .. n_groups - 1)
    is given. Dollars; NaN where a held security has no close yet.

    Positions are cumulative sums of signed quantities per (account, security), computed in
    blocks of pairs so that memory stays bounded for any number of accounts.
    """
    rows = day_index(dates, ledger.date)
    return positions_value(ledger, rows, forward_filled(closes), group=group, n_groups=n_groups)


def positions_value(
    ledger: Ledger,
    rows: np.ndarray,
    filled: np.ndarray,
    *,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """holdings_value with the calendar rows of the transactions (`day_index`) and the
    forward-filled closes already computed (`forward_filled`): callers that need them too."""
    n_days, n_securities = filled.shape
    n_accounts = ledger.n_accounts
    cells = n_accounts * (n_groups if group is not None else 1)
    out = np.zeros((n_days, cells))
    moves = (ledger.security >= 0) & (ledger.quantity > 0) & (SHARE_SIGN[ledger.kind] != 0)
    if moves.any():
        security = ledger.security[moves]
        if security.max() >= n_securities:
            raise ValueError("a transaction's security index is outside the closes matrix")
        day = rows[moves]
        signed = SHARE_SIGN[ledger.kind[moves]] * ledger.quantity[moves]
        account = ledger.account[moves]
        cell = account if group is None else account * n_groups + np.asarray(group)[security]
        pairs, pair_of_row = np.unique(cell * n_securities + security, return_inverse=True)
        order = np.argsort(pair_of_row, kind="stable")
        sorted_pairs = pair_of_row[order]
        pair_cell, pair_security = pairs // n_securities, pairs % n_securities
        missing = np.isnan(filled)
        priced = np.where(missing, 0.0, filled)
        block = max(1, _BLOCK_CELLS // n_days)
        for start in range(0, len(pairs), block):
            stop = min(len(pairs), start + block)
            lo, hi = np.searchsorted(sorted_pairs, [start, stop])
            take = order[lo:hi]
            width = stop - start
            delta = np.bincount(
                day[take] * width + (pair_of_row[take] - start),
                weights=signed[take],
                minlength=n_days * width,
            ).reshape(n_days, width)
            value = np.cumsum(delta, axis=0, out=delta)  # positions, then their value in place
            columns = pair_security[start:stop]
            no_close = missing[:, columns]
            # A position held without a close is worth NaN (float residue of a sold one is not).
            no_close &= np.abs(value) > 1e-9
            np.multiply(value, priced[:, columns], out=value)
            value[no_close] = np.nan
            block_cells = pair_cell[start:stop]
            first = np.flatnonzero(np.r_[True, block_cells[1:] != block_cells[:-1]])
            out[:, block_cells[first]] += np.add.reduceat(value, first, axis=1)
    return out if group is None else out.reshape(n_days, n_accounts, n_groups)


@dataclass(frozen=True)
class ValueHistory:
    """Daily history of A accounts (or households) on `dates` [T]; arrays [T, A], dollars.

    value: closing value, cash plus shares at the close; NaN before inception.
    cash: running cash balance (sum of amounts).
    inflow / outflow: external flows of the day, both >= 0: inflows at the start of the day
        (deposits, cash and securities transferred in, the latter at the previous close),
        outflows at its end (withdrawals, transfers out, securities at the close).
    income: dividends and interest; fees: account fees paid (`fee` rows, positive);
    costs: commissions paid on buys and sells (positive). Income, fees and costs are inside
        the return, not flows.
    inception [A]: row of the first transaction (T when none).
    fund_expenses: estimated fund expense-ratio costs (inside fund prices), when asked for.
    """

    dates: np.ndarray
    value: np.ndarray
    cash: np.ndarray
    inflow: np.ndarray
    outflow: np.ndarray
    income: np.ndarray
    fees: np.ndarray
    costs: np.ndarray
    inception: np.ndarray
    fund_expenses: np.ndarray | None = None

    @property
    def n_accounts(self) -> int:
        return int(self.value.shape[1])

    def started(self) -> np.ndarray:
        """[T, A] True from each account's inception on."""
        return np.arange(len(self.dates))[:, None] >= self.inception[None, :]


def value_history(
    ledger: Ledger,
    dates: np.ndarray,
    closes: np.ndarray,
    *,
    expense_ratios: np.ndarray | None = None,
) -> ValueHistory:
    """Daily value and flows of every account of `ledger` (see the module docstring).

    `expense_ratios` [S] (annual fractions, e.g. 0.0003): also estimate the fund expenses
    borne inside fund prices, value x ratio x (days since the previous calendar day) / 365.25.
    """
    dates = _as_days(dates)
    filled = forward_filled(closes)
    if filled.shape[0] != len(dates):
        raise ValueError("closes must have one row per calendar date")
    n_days, n_accounts = len(dates), ledger.n_accounts
    rows = day_index(dates, ledger.date)
    cell = rows * n_accounts + ledger.account

    def daily(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(
            cell[mask], weights=weights[mask], minlength=n_days * n_accounts
        ).reshape(n_days, n_accounts)

    everything = np.ones(len(ledger), dtype=bool)
    kind, amount = ledger.kind, ledger.amount
    cash = np.cumsum(daily(amount, everything), axis=0)
    external = np.isin(kind, EXTERNAL)
    inflow = daily(np.maximum(amount, 0.0), external)
    outflow = daily(np.maximum(-amount, 0.0), external)
    moved = (ledger.security >= 0) & (ledger.quantity > 0)
    if moved.any():
        security = np.where(moved, ledger.security, 0)
        at_start = previous_closes(filled)[rows, security] * ledger.quantity
        at_close = filled[rows, security] * ledger.quantity
        inflow += daily(at_start, moved & (kind == TRANSFER_IN))
        outflow += daily(at_close, moved & (kind == TRANSFER_OUT))
    income = daily(amount, np.isin(kind, INCOME))
    fees = daily(-amount, kind == FEE)
    costs = daily(ledger.fees, np.isin(kind, (BUY, SELL)))

    value = cash + positions_value(ledger, rows, filled)
    inception = np.full(n_accounts, n_days, dtype=np.int64)
    np.minimum.at(inception, ledger.account, rows)
    before = np.arange(n_days)[:, None] < inception[None, :]
    value[before] = np.nan

    expenses = None
    if expense_ratios is not None:
        daily_rate = filled * np.asarray(expense_ratios, dtype=float)[None, :]
        gap = np.diff(dates.astype(np.int64), prepend=dates[0].astype(np.int64) - 1)
        expenses = positions_value(ledger, rows, daily_rate) * (gap / DAYS_PER_YEAR)[:, None]
    return ValueHistory(
        dates=dates,
        value=value,
        cash=cash,
        inflow=inflow,
        outflow=outflow,
        income=income,
        fees=fees,
        costs=costs,
        inception=inception,
        fund_expenses=expenses,
    )


def combine(history: ValueHistory, group: np.ndarray, n_groups: int) -> ValueHistory:
    """Households from accounts: `group` [A] gives each account's household (0 .. n_groups-1).

    Values, cash, income, fees and costs are sums; a household's inception is its first
    account's. External flows are netted per day: money moved between two accounts of the
    household the same day (a withdrawal here, a deposit there) cancels, and only the net
    inflow (at the start of the day) or net outflow (at its end) remains.
    """
    group = np.asarray(group, dtype=np.int64)
    if len(group) != history.n_accounts:
        raise ValueError("one group per account")
    started = history.started()

    def total(array: np.ndarray) -> np.ndarray:
        out = np.zeros((array.shape[0], n_groups))
        np.add.at(out.T, group, array.T)
        return out

    value = total(np.where(started, history.value, 0.0))
    inception = np.full(n_groups, len(history.dates), dtype=np.int64)
    np.minimum.at(inception, group, history.inception)
    value[np.arange(len(history.dates))[:, None] < inception[None, :]] = np.nan
    net = total(history.inflow) - total(history.outflow)
    return ValueHistory(
        dates=history.dates,
        value=value,
        cash=total(history.cash),
        inflow=np.maximum(net, 0.0),
        outflow=np.maximum(-net, 0.0),
        income=total(history.income),
        fees=total(history.fees),
        costs=total(history.costs),
        inception=inception,
        fund_expenses=None if history.fund_expenses is None else total(history.fund_expenses),
    )
