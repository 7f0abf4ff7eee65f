"""Time- and money-weighted returns, fees and after-tax returns over standard periods.

Input: a `history.ValueHistory` (daily value and external flows of accounts or households).

Time-weighted return (TWR), true daily valuation as GIPS requires for external flows: inflows
arrive at the START of the day (they earn that day's return), outflows leave at its END (after
earning it). The return of day t is

    r_t = (V_t + O_t) / (V_{t-1} + I_t) - 1

with V the closing value, I the inflows and O the outflows of the day; sub-period returns are
chain-linked, TWR = prod(1 + r_t) - 1. A day that starts with no capital (V_{t-1} + I_t <=
NO_CAPITAL) has return 0. Before inception there is no return (NaN). Returns are net of fees
(account fees and commissions are losses); `gross_of_fees=True` treats `fee` rows as
withdrawals instead (commissions stay deducted, as GIPS requires for gross returns too).

Money-weighted return (MWR): the internal rate of return (`irr`) of the value at the start of
the period (paid in), the inflows (paid in) and outflows (taken out), each dated on its day,
and the closing value (taken out), in the investor's sign convention. Where no rate exists
(`irr` statuses) it is NaN with the status saying why.

Periods (`Period`, `standard_periods`): a period runs from the close of its start date (the last
calendar day on or before it) to the close of its end date; since inception starts before the
first inflow. A period that starts before the account's inception has no return (NaN), except
since inception. Returns are cumulative for periods of a year or less and annualised beyond,
(1 + R) ** (days_per_year / days) - 1 over the period's calendar days (GIPS forbids
annualising shorter periods); days_per_year is 365.25 as in metrics.py's CAGR.

After-tax return (taxable accounts; the pre-liquidation return of the after-tax provisions of
the AIMR-PPS/GIPS): the tax on each day's realised gains and income at the investor's rates
(`tax_charges`) is charged that day as if paid from the account, r_t = (V_t + O_t - tax_t) /
(V_{t-1} + I_t) - 1, without taking it out of the values that follow. Realised losses give a
negative tax (a credit, assumed used against other gains of the household). With
`liquidation_tax` (the tax due if everything were sold at the end), the last day is reduced by
it as well: the post-liquidation return.

For many accounts, `performance` runs value history and period returns in chunks of accounts,
one vectorised computation per chunk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from portfolios.analytics import irr
from portfolios.analytics.history import DAYS_PER_YEAR, Ledger, ValueHistory, value_history

NO_CAPITAL = 1e-6  # dollars: below this a day starts with nothing at risk (float residue of cents)


# --- returns -----------------------------------------------------------------------------------


def daily_returns(
    history: ValueHistory,
    *,
    gross_of_fees: bool = False,
    tax: np.ndarray | None = None,
    liquidation_tax: np.ndarray | None = None,
) -> np.ndarray:
    """Daily time-weighted returns [T, A] (fractions; NaN before inception), by the timing
    convention of the module docstring. `tax` [T, A]: dollars charged each day (after-tax
    return); `liquidation_tax` [A]: dollars charged on the last day (post-liquidation)."""
    value = history.value
    opening = np.vstack([np.zeros((1, value.shape[1])), value[:-1]])
    opening = np.where(np.isnan(opening) & ~_started_before(history), 0.0, opening)
    capital = opening + history.inflow
    closing = value + history.outflow
    if gross_of_fees:
        closing = closing + history.fees
    if tax is not None:
        closing = closing - tax
    if liquidation_tax is not None:
        closing[-1] = closing[-1] - np.asarray(liquidation_tax, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(capital > NO_CAPITAL, closing / capital - 1.0, 0.0)
    returns = np.where(np.isnan(capital) | np.isnan(closing), np.nan, returns)
    returns[~history.started()] = np.nan
    return returns


def _started_before(history: ValueHistory) -> np.ndarray:
    """[T, A] True where the previous day is on or after inception."""
    return np.arange(len(history.dates))[:, None] > history.inception[None, :]


def tax_charges(
    *,
    short_term_gains: np.ndarray,
    long_term_gains: np.ndarray,
    income: np.ndarray,
    short_term_rate: np.ndarray | float,
    long_term_rate: np.ndarray | float,
    income_rate: np.ndarray | float,
) -> np.ndarray:
    """Tax due per day and account [T, A] in dollars: realised short-term gains x the ordinary
    rate, long-term gains x the long-term rate, income x its rate (rates are fractions, per
    account [A] or one for all; 0 for tax-deferred accounts). Losses give negative tax.
    Gains are the taxable ones (LotSale.gain: a disallowed wash-sale loss is added back)."""
    return (
        np.asarray(short_term_gains) * short_term_rate
        + np.asarray(long_term_gains) * long_term_rate
        + np.asarray(income) * income_rate
    )


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """From the close of `start` (None: since inception) to the close of `end`.

    `annualise`: True, False, or None for "when longer than one calendar year".
    """

    name: str
    start: dt.date | None
    end: dt.date
    annualise: bool | None = False


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def standard_periods(as_of: dt.date) -> tuple[Period, ...]:
    """Month, quarter and year to date, the trailing 1, 3 and 5 years, and since inception,
    all ending at the close of `as_of`. Only 3 and 5 years (and since inception when longer
    than a year) are annualised."""
    month_start = as_of.replace(day=1)
    quarter_start = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    day = dt.timedelta(days=1)
    return (
        Period("mtd", month_start - day, as_of),
        Period("qtd", quarter_start - day, as_of),
        Period("ytd", dt.date(as_of.year - 1, 12, 31), as_of),
        Period("1y", years_before(as_of, 1), as_of),
        Period("3y", years_before(as_of, 3), as_of, annualise=True),
        Period("5y", years_before(as_of, 5), as_of, annualise=True),
        Period("inception", None, as_of, annualise=None),
    )


@dataclass(frozen=True)
class PeriodReturns:
    """Results per period and account, arrays [P, A] (P = len(names)).

    twr / mwr: as presented, cumulative for a year or less, annualised beyond (`annualised`);
    twr_cumulative / mwr_cumulative: over the whole period; mwr_status: irr status codes
    (irr.OK, MULTIPLE, NO_RATE, TOO_SHORT); NaN and irr.TOO_SHORT where the account did not
    exist at the period's start. start / end: valuation dates (NaT when unavailable); days:
    calendar days between them. Dollar sums over the period: start_value, end_value, inflows,
    outflows, income, fees, costs, and gain = end_value - start_value - inflows + outflows
    (the investment gain, net of fees and costs). twr_after_tax (and its cumulative form) and
    tax: only when a `tax` array was given.
    """

    names: tuple[str, ...]
    start: np.ndarray
    end: np.ndarray
    days: np.ndarray
    annualised: np.ndarray
    twr: np.ndarray
    twr_cumulative: np.ndarray
    mwr: np.ndarray
    mwr_cumulative: np.ndarray
    mwr_status: np.ndarray
    start_value: np.ndarray
    end_value: np.ndarray
    inflows: np.ndarray
    outflows: np.ndarray
    income: np.ndarray
    fees: np.ndarray
    costs: np.ndarray
    gain: np.ndarray
    twr_after_tax: np.ndarray | None = None
    twr_after_tax_cumulative: np.ndarray | None = None
    tax: np.ndarray | None = None

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        """One period's row of every field: results["ytd"]["twr"] -> [A]."""
        p = self.names.index(name)
        return {
            f.name: getattr(self, f.name)[p]
            for f in fields(self)
            if f.name != "names" and getattr(self, f.name) is not None
        }


def _annualised(cumulative: np.ndarray, days: np.ndarray, days_per_year: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.power(1.0 + cumulative, days_per_year / days) - 1.0


def period_returns(
    history: ValueHistory,
    periods: Sequence[Period],
    *,
    gross_of_fees: bool = False,
    tax: np.ndarray | None = None,
    liquidation_tax: np.ndarray | None = None,
    days_per_year: float = DAYS_PER_YEAR,
) -> PeriodReturns:
    """TWR, MWR and dollar sums of every account of `history` over each period (module
    docstring). `tax` [T, A] (dollars, see tax_charges) adds the after-tax TWR;
    `liquidation_tax` [A] makes it post-liquidation. One call for any number of accounts."""
    dates = history.dates
    n_accounts = history.value.shape[1]
    returns = daily_returns(history, gross_of_fees=gross_of_fees)
    growth = np.where(history.started(), 1.0 + returns, 1.0)  # NaN after inception stays NaN
    after_tax = None
    if tax is not None:
        taxed = daily_returns(history, tax=tax, liquidation_tax=liquidation_tax)
        after_tax = np.where(history.started(), 1.0 + taxed, 1.0)
    outflow = history.outflow + (history.fees if gross_of_fees else 0.0)
    value = history.value
    day_numbers = dates.astype(np.int64)
    accounts = np.arange(n_accounts)

    shape = (len(periods), n_accounts)
    out = {name: np.full(shape, np.nan) for name in _FLOAT_FIELDS}
    start_day = np.full(shape, np.datetime64("NaT"), dtype="datetime64[D]")
    end_day = np.full(shape, np.datetime64("NaT"), dtype="datetime64[D]")
    annualised = np.zeros(shape, dtype=bool)
    tax_total = np.full(shape, np.nan) if tax is not None else None
    twr_after = np.full(shape, np.nan) if tax is not None else None

    # Money-weighted flows, gathered for every (period, account) and solved in one call.
    in_rows, in_accounts = np.nonzero(history.inflow)
    out_rows, out_accounts = np.nonzero(outflow)
    flow_rows = np.concatenate([in_rows, out_rows])
    flow_accounts = np.concatenate([in_accounts, out_accounts])
    flow_amounts = np.concatenate(
        [-history.inflow[in_rows, in_accounts], outflow[out_rows, out_accounts]]
    )
    mwr_amounts, mwr_days, mwr_groups = [], [], []
    mwr_start = np.zeros(shape)
    mwr_span = np.zeros(shape)

    for p, period in enumerate(periods):
        e = int(np.searchsorted(dates, np.datetime64(period.end, "D"), side="right")) - 1
        if e < 0:
            continue
        if period.start is None:
            first = history.inception  # [A]
            available = first <= e
            opening = np.zeros(n_accounts)
            window = slice(0, e + 1)
            start_numbers = np.where(available, day_numbers[np.minimum(first, e)], 0)
            in_window = flow_rows <= e
        else:
            s0 = int(np.searchsorted(dates, np.datetime64(period.start, "D"), side="right")) - 1
            available = (s0 >= 0) & (s0 < e) & (history.inception <= s0)
            opening = value[s0] if s0 >= 0 else np.zeros(n_accounts)
            window = slice(s0 + 1, e + 1)
            start_numbers = np.full(n_accounts, day_numbers[max(s0, 0)])
            in_window = (flow_rows > s0) & (flow_rows <= e)
        available = available & np.isfinite(value[e])
        if not available.any():
            continue
        days = np.where(available, day_numbers[e] - start_numbers, 0).astype(float)
        start_day[p] = np.where(available, start_numbers.astype("datetime64[D]"), start_day[p])
        end_day[p] = np.where(available, dates[e], end_day[p])
        cumulative = np.prod(growth[window], axis=0) - 1.0
        if period.annualise is None:
            one_year_back = np.datetime64(years_before(dates[e].item(), 1), "D").astype(np.int64)
            annual = start_numbers < one_year_back
        else:
            annual = np.full(n_accounts, bool(period.annualise))
        annualised[p] = available & annual
        row = {
            "days": days,
            "twr_cumulative": cumulative,
            "twr": np.where(annual, _annualised(cumulative, days, days_per_year), cumulative),
            "start_value": opening,
            "end_value": value[e],
            "inflows": history.inflow[window].sum(axis=0),
            "outflows": outflow[window].sum(axis=0),
            "income": history.income[window].sum(axis=0),
            "fees": history.fees[window].sum(axis=0),
            "costs": history.costs[window].sum(axis=0),
        }
        row["gain"] = row["end_value"] - opening - row["inflows"] + row["outflows"]
        for name, values in row.items():
            out[name][p] = np.where(available, values, np.nan)
        if after_tax is not None and tax is not None and twr_after is not None:
            cumulative_tax = np.prod(after_tax[window], axis=0) - 1.0
            out["twr_after_tax_cumulative"][p] = np.where(available, cumulative_tax, np.nan)
            twr_after[p] = np.where(
                available,
                np.where(annual, _annualised(cumulative_tax, days, days_per_year), cumulative_tax),
                np.nan,
            )
            assert tax_total is not None
            tax_total[p] = np.where(available, np.asarray(tax)[window].sum(axis=0), np.nan)

        # MWR flows of this period: opening value paid in at the start, flows, closing value.
        group = p * n_accounts + accounts
        keep = in_window & available[flow_accounts]
        has_opening = available & (period.start is not None)
        mwr_amounts += [
            -opening[has_opening],
            flow_amounts[keep],
            value[e][available],
        ]
        mwr_days += [
            start_numbers[has_opening],
            day_numbers[flow_rows[keep]],
            np.full(int(available.sum()), day_numbers[e]),
        ]
        mwr_groups += [group[has_opening], p * n_accounts + flow_accounts[keep], group[available]]
        mwr_start[p] = start_numbers
        mwr_span[p] = np.where(available, days, 0.0)

    status = np.full(shape, irr.TOO_SHORT, dtype=np.int8)
    if mwr_groups:
        group_all = np.concatenate(mwr_groups)
        if len(group_all):
            day_all = np.concatenate(mwr_days).astype(float)
            span = mwr_span.reshape(-1)
            safe = np.where(span > 0, span, 1.0)
            tau = (day_all - mwr_start.reshape(-1)[group_all]) / safe[group_all]
            roots = irr.solve_log_growth(
                np.concatenate(mwr_amounts), tau, group_all, len(periods) * n_accounts
            )
            growth_mwr = roots.growth.reshape(shape)
            solved = np.isfinite(growth_mwr) & (mwr_span > 0)
            status = np.where(mwr_span > 0, roots.status.reshape(shape), irr.TOO_SHORT)
            per_year = days_per_year / safe.reshape(shape)
            with np.errstate(over="ignore", invalid="ignore"):
                cumulative_mwr = np.where(solved, np.expm1(growth_mwr), np.nan)
                annual_mwr = np.where(solved, np.expm1(growth_mwr * per_year), np.nan)
            out["mwr_cumulative"] = cumulative_mwr
            out["mwr"] = np.where(annualised, annual_mwr, cumulative_mwr)
            status = status.astype(np.int8)

    return PeriodReturns(
        names=tuple(p.name for p in periods),
        start=start_day,
        end=end_day,
        annualised=annualised,
        mwr_status=status,
        twr_after_tax=twr_after,
        twr_after_tax_cumulative=out["twr_after_tax_cumulative"] if tax is not None else None,
        tax=tax_total,
        **{name: out[name] for name in _FLOAT_FIELDS if name != "twr_after_tax_cumulative"},
    )


_FLOAT_FIELDS = (
    "days",
    "twr",
    "twr_cumulative",
    "mwr",
    "mwr_cumulative",
    "start_value",
    "end_value",
    "inflows",
    "outflows",
    "income",
    "fees",
    "costs",
    "gain",
    "twr_after_tax_cumulative",
)


def performance(
    ledger: Ledger,
    dates: np.ndarray,
    closes: np.ndarray,
    periods: Sequence[Period],
    *,
    gross_of_fees: bool = False,
    days_per_year: float = DAYS_PER_YEAR,
    accounts_per_chunk: int = 2_000,
) -> PeriodReturns:
    """Period returns of every account of `ledger` in one call, for any number of accounts:
    value_history and period_returns over chunks of `accounts_per_chunk` accounts (memory
    stays bounded; each chunk is one vectorised computation), concatenated."""
    order = np.argsort(ledger.account, kind="stable")
    sorted_accounts = ledger.account[order]
    parts = []
    for first in range(0, max(ledger.n_accounts, 1), accounts_per_chunk):
        last = min(ledger.n_accounts, first + accounts_per_chunk)
        lo, hi = np.searchsorted(sorted_accounts, [first, last])
        chunk = ledger.take(order[lo:hi], account_offset=first, n_accounts=last - first)
        history = value_history(chunk, dates, closes)
        parts.append(
            period_returns(
                history, periods, gross_of_fees=gross_of_fees, days_per_year=days_per_year
            )
        )
    if len(parts) == 1:
        return parts[0]
    merged = {
        f.name: (
            parts[0].names
            if f.name == "names"
            else None
            if getattr(parts[0], f.name) is None
            else np.concatenate([getattr(part, f.name) for part in parts], axis=1)
        )
        for f in fields(PeriodReturns)
    }
    return PeriodReturns(**merged)
