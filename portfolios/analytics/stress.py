"""Stress tests of today's holdings: historical scenarios replayed and hypothetical shocks.

Holdings are positions [H]: account, security, market value today (currency, >= 0). A
scenario gives every security a return (fraction, -0.3 == -30%); the money change of a
position is value x return (negative: a loss), summed per account and per household
(`household_of` maps accounts to households). Vectorised: one returns matrix [scenarios,
securities] times the holdings matrix [securities, accounts].

Historical scenarios. A scenario is a window [start, end]; a security's return is
close(end) / close(start) - 1 with the last close on or before each date (total-return
closes make it a total return). A security without a close on or before the start (no
history in the window) takes the return of its asset class's proxy (`proxies`: class ->
column of the price frame); the result says which proxy was used. Cash (a security whose class
has no proxy and is named in `cash_classes`) returns 0. A scenario in which some holding has
neither its own history nor a proxy's is reported unavailable, with the reason, rather than
computed on part of the portfolio. The default windows are the S&P 500's peak-to-trough dates
(2022: the bond market's worst stretch, January to October).

Hypothetical shocks. A shock sets a return per asset class (equities -30%, ...) and/or a
parallel change of interest rates (+0.02 == +200bp): a security with a duration D (years)
returns -D x change + 0.5 x convexity x change^2 (convexity 0 unless given), added to its
class's return. Classes not named return 0.

The investor's tolerance (the loss they said in the questionnaire they could bear, a fraction
of the household's value) is compared with each scenario's household loss: `exceeds` where
the loss is deeper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Scenario:
    """A historical window, inclusive dates (ISO strings)."""

    name: str
    start: str
    end: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("Dot-com bust 2000-02", "2000-03-24", "2002-10-09"),
    Scenario("Financial crisis 2008-09", "2007-10-09", "2009-03-09"),
    Scenario("Euro debt crisis 2011", "2011-04-29", "2011-10-03"),
    Scenario("Q4 2018 sell-off", "2018-09-20", "2018-12-24"),
    Scenario("COVID-19 crash 2020", "2020-02-19", "2020-03-23"),
    Scenario("Rates shock 2022", "2022-01-03", "2022-10-12"),
)


@dataclass(frozen=True)
class Shock:
    """A hypothetical move: returns per asset class (fractions) and a parallel rate change
    (fraction, +0.02 == +200bp) applied through each security's duration."""

    name: str
    class_returns: Mapping[str, float] = field(default_factory=dict)
    rate_change: float = 0.0


@dataclass(frozen=True)
class Holdings:
    """Positions [H]: account id, security (price column / key), value today (currency)."""

    account: np.ndarray
    security: np.ndarray
    value: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Holdings:
        """From a table with columns account, security, value."""
        return cls(
            account=frame["account"].to_numpy(),
            security=frame["security"].to_numpy(),
            value=frame["value"].to_numpy(dtype=float),
        )


@dataclass(frozen=True)
class StressResult:
    """scenarios [N] names; securities [S]; returns [N, S] (NaN where unavailable);
    source [N, S] "own", "proxy <column>", "cash" or "" (no data); available [N] and
    reason [N] (why not); accounts [A], households [G]; account_value [A], household_value
    [G] today; account_change and household_change [N, A] / [N, G] money change (negative:
    loss; NaN where unavailable); household_change_fraction [N, G]; exceeds [N, G] the loss is
    deeper than the household's tolerance (False where no tolerance is known)."""

    scenarios: tuple[str, ...]
    securities: tuple[str, ...]
    returns: np.ndarray
    source: np.ndarray
    available: np.ndarray
    reason: np.ndarray
    accounts: np.ndarray
    households: np.ndarray
    account_value: np.ndarray
    household_value: np.ndarray
    account_change: np.ndarray
    household_change: np.ndarray
    household_change_fraction: np.ndarray
    exceeds: np.ndarray

    def table(self) -> pd.DataFrame:
        """One row per (scenario, household): change in money and as a fraction, tolerance flag."""
        n, g = self.household_change.shape
        return pd.DataFrame(
            {
                "scenario": np.repeat(self.scenarios, g),
                "household": np.tile(self.households, n),
                "change": self.household_change.reshape(-1),
                "change_fraction": self.household_change_fraction.reshape(-1),
                "exceeds_tolerance": self.exceeds.reshape(-1),
            }
        )


def window_returns(
    prices: pd.DataFrame, scenarios: Sequence[Scenario]
) -> tuple[np.ndarray, np.ndarray]:
    """Return of every column over every scenario [N, C] (NaN where the column has no close on
    or before the start or end) and whether the column had its own history [N, C]."""
    frame = prices.copy()
    frame.index = pd.DatetimeIndex(frame.index)
    frame = frame.sort_index()
    index = frame.index.to_numpy(dtype="datetime64[D]")
    values = frame.to_numpy(dtype=float)
    # last close on or before each date: forward-fill inside each column's life
    filled = pd.DataFrame(values).ffill().to_numpy()
    out = np.full((len(scenarios), values.shape[1]), np.nan)
    for i, scenario in enumerate(scenarios):
        start = np.searchsorted(index, np.datetime64(scenario.start, "D"), side="right") - 1
        end = np.searchsorted(index, np.datetime64(scenario.end, "D"), side="right") - 1
        if start < 0 or end <= start:
            continue
        out[i] = filled[end] / filled[start] - 1.0
    return out, ~np.isnan(out)


def _aggregate(
    holdings: Holdings,
    securities: tuple[str, ...],
    returns: np.ndarray,
    available: np.ndarray,
    household_of: Mapping[object, object] | None,
    tolerance: Mapping[object, float] | None,
) -> tuple[np.ndarray, ...]:
    accounts, account_index = np.unique(holdings.account, return_inverse=True)
    security_index = {s: j for j, s in enumerate(securities)}
    column = np.array([security_index[s] for s in holdings.security], dtype=np.int64)
    matrix = np.zeros((len(securities), len(accounts)))
    np.add.at(matrix, (column, account_index), holdings.value)
    safe = np.where(np.isnan(returns), 0.0, returns)
    account_change = safe @ matrix
    account_change[~available] = np.nan
    household = np.array([(household_of or {}).get(a, a) for a in accounts], dtype=object)
    households, group = np.unique(household.astype(str), return_inverse=True)
    first_of = {h: household[group == k][0] for k, h in enumerate(households)}
    to_household = np.zeros((len(accounts), len(households)))
    to_household[np.arange(len(accounts)), group] = 1.0
    account_value = matrix.sum(axis=0)
    household_value = account_value @ to_household
    household_change = account_change @ to_household
    fraction = np.divide(
        household_change,
        household_value[None, :],
        out=np.full_like(household_change, np.nan),
        where=household_value[None, :] > 0,
    )
    limit = np.array([(tolerance or {}).get(first_of[h], np.nan) for h in households], dtype=float)
    exceeds = ~np.isnan(limit)[None, :] & (np.nan_to_num(-fraction) > np.abs(limit)[None, :])
    return (
        accounts,
        np.array([first_of[h] for h in households], dtype=object),
        account_value,
        household_value,
        account_change,
        household_change,
        fraction,
        exceeds,
    )


def historical(
    holdings: Holdings,
    prices: pd.DataFrame,
    security_class: Mapping[object, str],
    *,
    proxies: Mapping[str, object] | None = None,
    scenarios: Sequence[Scenario] = SCENARIOS,
    cash_classes: Sequence[str] = ("cash",),
    household_of: Mapping[object, object] | None = None,
    tolerance: Mapping[object, float] | None = None,
) -> StressResult:
    """Replay each historical scenario on today's holdings (see the module docstring).

    prices: closes, index dates, one column per security and proxy. security_class: asset
    class of every held security. proxies: class -> proxy column. tolerance: household ->
    bearable loss (fraction of its value, e.g. 0.25).
    """
    securities = tuple(dict.fromkeys(holdings.security.tolist()))
    missing_class = [s for s in securities if s not in security_class]
    if missing_class:
        raise ValueError(f"No asset class for {', '.join(map(str, missing_class))}.")
    proxies = dict(proxies or {})
    columns = list(
        dict.fromkeys(
            [s for s in securities if s in prices.columns]
            + [p for p in proxies.values() if p in prices.columns]
        )
    )
    own, has = (
        window_returns(prices[columns], scenarios)
        if columns
        else (np.zeros((len(scenarios), 0)), np.zeros((len(scenarios), 0), bool))
    )
    position = {c: j for j, c in enumerate(columns)}
    n = len(scenarios)
    returns = np.full((n, len(securities)), np.nan)
    source = np.full((n, len(securities)), "", dtype=object)
    for j, s in enumerate(securities):
        klass = security_class[s]
        if s in position:
            mine = has[:, position[s]]
            returns[mine, j] = own[mine, position[s]]
            source[mine, j] = "own"
        proxy = proxies.get(klass)
        if proxy is not None and proxy in position:
            use = np.isnan(returns[:, j]) & has[:, position[proxy]]
            returns[use, j] = own[use, position[proxy]]
            source[use, j] = f"proxy {proxy}"
        if klass in cash_classes:
            use = np.isnan(returns[:, j])
            returns[use, j] = 0.0
            source[use, j] = "cash"
    available = ~np.isnan(returns).any(axis=1)
    reason = np.array(
        [
            ""
            if ok
            else "no prices in the window for "
            + ", ".join(str(s) for s, r in zip(securities, row, strict=True) if np.isnan(r))
            + " and no proxy for their asset class"
            for ok, row in zip(available, returns, strict=True)
        ],
        dtype=object,
    )
    return _result(
        [sc.name for sc in scenarios],
        securities,
        returns,
        source,
        available,
        reason,
        holdings,
        household_of,
        tolerance,
    )


def hypothetical(
    holdings: Holdings,
    security_class: Mapping[object, str],
    shocks: Sequence[Shock],
    *,
    duration: Mapping[object, float] | None = None,
    convexity: Mapping[object, float] | None = None,
    household_of: Mapping[object, object] | None = None,
    tolerance: Mapping[object, float] | None = None,
) -> StressResult:
    """Apply hypothetical shocks to today's holdings: return = class return + (-D x dy +
    0.5 x C x dy^2) with D, C the security's duration and convexity (years; 0 when not given)."""
    securities = tuple(dict.fromkeys(holdings.security.tolist()))
    missing_class = [s for s in securities if s not in security_class]
    if missing_class:
        raise ValueError(f"No asset class for {', '.join(map(str, missing_class))}.")
    d = np.array([(duration or {}).get(s, 0.0) for s in securities], dtype=float)
    c = np.array([(convexity or {}).get(s, 0.0) for s in securities], dtype=float)
    classes = [security_class[s] for s in securities]
    returns = np.array(
        [
            [shock.class_returns.get(k, 0.0) for k in classes]
            + 0.0 * d
            - d * shock.rate_change
            + 0.5 * c * shock.rate_change**2
            for shock in shocks
        ],
        dtype=float,
    ).reshape(len(shocks), len(securities))
    source = np.full(returns.shape, "shock", dtype=object)
    n = len(shocks)
    return _result(
        [s.name for s in shocks],
        securities,
        returns,
        source,
        np.ones(n, bool),
        np.full(n, "", dtype=object),
        holdings,
        household_of,
        tolerance,
    )


def _result(
    names: list[str],
    securities: tuple[str, ...],
    returns: np.ndarray,
    source: np.ndarray,
    available: np.ndarray,
    reason: np.ndarray,
    holdings: Holdings,
    household_of: Mapping[object, object] | None,
    tolerance: Mapping[object, float] | None,
) -> StressResult:
    (
        accounts,
        households,
        account_value,
        household_value,
        account_change,
        household_change,
        fraction,
        exceeds,
    ) = _aggregate(holdings, securities, returns, available, household_of, tolerance)
    return StressResult(
        scenarios=tuple(names),
        securities=securities,
        returns=returns,
        source=source,
        available=available,
        reason=reason,
        accounts=accounts,
        households=households,
        account_value=account_value,
        household_value=household_value,
        account_change=account_change,
        household_change=household_change,
        household_change_fraction=fraction,
        exceeds=exceeds,
    )
