"""Stress tests of a household's holdings today (`portfolios.analytics.stress`), read from the
database in a fixed number of queries: the open lots valued at their latest close plus each
account's cash, the closes of the held securities and of one proxy per asset class (its
security with the longest history), and the loss the investor said they could bear.

Hypothetical shocks are set per asset class code. Equity classes fall by the shock's equity
move; a rate shock moves bond classes by -duration x change, with the durations below (typical
of broad funds of each class; the page states them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Min

from accounts import selectors as account_selectors
from accounts.models import User
from portfolios import selectors as portfolio_selectors
from portfolios.analytics import stress
from portfolios.models import AssetClass, Portfolio, Price, Security

CASH = "cash"  # class code (and holding key) of the accounts' cash
EQUITY_CLASSES = ("us-stocks", "intl-developed", "emerging", "reits")
DURATION_YEARS = {"us-bonds": 6.0, "intl-bonds": 7.0, "tips": 5.0}


@dataclass(frozen=True)
class ShockSpec:
    """A hypothetical move: `equities` return of the equity classes, `rates` change of rates
    (fraction, 0.02 == +2 points)."""

    code: str
    name: str
    equities: float = 0.0
    rates: float = 0.0


SHOCKS: tuple[ShockSpec, ...] = (
    ShockSpec("equities-30", "Stocks fall 30%", equities=-0.30),
    ShockSpec("rates+2", "Interest rates rise 2 points", rates=0.02),
    ShockSpec("both", "Stocks fall 20% and rates rise 1 point", equities=-0.20, rates=0.01),
)


OWN_SHOCK = "Your own scenario"


@dataclass(frozen=True)
class ScenarioRow:
    name: str
    kind: str  # "historical" or "shock"
    start: str | None
    end: str | None
    available: bool
    reason: str
    proxies: tuple[str, ...]  # "VXUS for VEA" where a proxy stood in
    account_change: dict[int, float]  # account id -> money change (negative: loss)
    account_fraction: dict[int, float]
    household_change: float
    household_fraction: float
    exceeds: bool


@dataclass(frozen=True)
class HouseholdStress:
    accounts: dict[int, str]  # id -> name
    account_value: dict[int, float]
    household_value: float
    tolerance: account_selectors.LossTolerance | None
    rows: tuple[ScenarioRow, ...]
    equity_classes: tuple[str, ...]  # names of the classes the equity shocks move
    durations: tuple[tuple[str, float], ...]  # (class name, years) the rate shocks use
    held_classes: tuple[tuple[str, str], ...] = ()  # (code, name) of the classes held

    @property
    def tolerance_money(self) -> float | None:
        if self.tolerance is None:
            return None
        return self.tolerance.fraction * self.household_value


def _holdings(portfolios: Sequence[Portfolio]) -> tuple[pd.DataFrame, dict[object, str]]:
    """account, security (ticker or CASH), value; and each ticker's class code."""
    held = portfolio_selectors.holdings([p.pk for p in portfolios])
    held = held[held["market_value"].astype(float) > 0]
    frame = pd.DataFrame(
        {
            "account": held["portfolio_id"].astype(int).to_numpy(),
            "security": held["ticker"].astype(str).to_numpy(),
            "value": held["market_value"].astype(float).to_numpy(),
        }
    )
    cash = pd.DataFrame(
        {
            "account": [p.pk for p in portfolios if p.cash > 0],
            "security": CASH,
            "value": [float(p.cash) for p in portfolios if p.cash > 0],
        }
    )
    # keys typed `object`, as the engine's mappings are (invariant keys)
    classes: dict[object, str] = dict(
        zip(held["ticker"].astype(str), held["asset_class"].astype(str), strict=True)
    )
    classes[CASH] = CASH
    return pd.concat([frame, cash], ignore_index=True), classes


def _proxies(classes: set[str]) -> dict[str, tuple[int, str]]:
    """Per asset class, its security with the earliest close: (security id, ticker)."""
    rows = (
        Price.objects.filter(security__asset_class__code__in=classes)
        .values("security_id", "security__ticker", "security__asset_class__code")
        .annotate(first=Min("date"))
        .order_by("first", "security_id")
    )
    out: dict[str, tuple[int, str]] = {}
    for row in rows:
        out.setdefault(
            row["security__asset_class__code"], (row["security_id"], row["security__ticker"])
        )
    return out


def _row(result: stress.StressResult, i: int, kind: str, **extra: object) -> ScenarioRow:
    accounts = [int(a) for a in result.accounts]
    values = result.account_value
    change = result.account_change[i]
    return ScenarioRow(
        name=result.scenarios[i],
        kind=kind,
        available=bool(result.available[i]),
        reason=str(result.reason[i]),
        account_change={a: float(c) for a, c in zip(accounts, change, strict=True)},
        account_fraction={
            a: float(c / v) if v > 0 else 0.0
            for a, c, v in zip(accounts, change, values, strict=True)
        },
        household_change=float(result.household_change[i, 0]),
        household_fraction=float(result.household_change_fraction[i, 0]),
        exceeds=bool(result.exceeds[i, 0]),
        **extra,  # type: ignore[arg-type]
    )


def household_stress(
    user: User, *, own_shock: dict[str, float] | None = None
) -> HouseholdStress | None:
    """Every scenario and shock on the household's holdings today (None when it holds nothing);
    `own_shock` (asset class code -> return, fraction) adds the investor's own scenario."""
    portfolios = list(Portfolio.objects.for_user(user).active().order_by("pk"))
    frame, classes = _holdings(portfolios)
    if frame.empty:
        return None
    holdings = stress.Holdings.from_frame(frame)
    proxies = _proxies(set(classes.values()) - {CASH})
    ids = dict(
        Security.objects.filter(ticker__in=[t for t in classes if t != CASH]).values_list(
            "ticker", "pk"
        )
    )
    wanted = set(ids.values()) | {pk for pk, _ in proxies.values()}
    prices = portfolio_selectors.price_frame(sorted(wanted), adjusted=True)
    tolerance = account_selectors.loss_tolerance(user)
    # Mapping keys are invariant: the engine's are `object` (ids or labels).
    limits: dict[object, float] | None = {user.pk: tolerance.fraction} if tolerance else None
    household: dict[object, object] = {p.pk: user.pk for p in portfolios}
    historical = stress.historical(
        holdings, prices, classes, proxies={k: t for k, (_, t) in proxies.items()},
        cash_classes=(CASH,), household_of=household, tolerance=limits,
    )  # fmt: skip
    specs = [
        stress.Shock(s.name, dict.fromkeys(EQUITY_CLASSES, s.equities), s.rates) for s in SHOCKS
    ]
    if own_shock:
        specs.append(stress.Shock(OWN_SHOCK, own_shock))
    shocks = stress.hypothetical(
        holdings, classes, specs,
        duration={t: DURATION_YEARS.get(k, 0.0) for t, k in classes.items()},
        household_of=household, tolerance=limits,
    )  # fmt: skip
    rows = [
        _row(historical, i, "historical", start=sc.start, end=sc.end,
             proxies=_proxy_notes(historical, i))
        for i, sc in enumerate(stress.SCENARIOS)
    ] + [_row(shocks, i, "shock", start=None, end=None, proxies=()) for i in range(len(specs))]  # fmt: skip
    names = dict(AssetClass.objects.values_list("code", "name"))
    return HouseholdStress(
        accounts={p.pk: p.name for p in portfolios},
        account_value={int(a): float(v) for a, v in zip(historical.accounts, historical.account_value, strict=True)},
        household_value=float(historical.household_value[0]),
        tolerance=tolerance,
        rows=tuple(rows),
        equity_classes=tuple(names[c] for c in EQUITY_CLASSES if c in names),
        durations=tuple((names[c], d) for c, d in DURATION_YEARS.items() if c in names),
        held_classes=tuple((c, names.get(c, c)) for c in dict.fromkeys(classes.values()) if c != CASH),
    )  # fmt: skip


def _proxy_notes(result: stress.StressResult, i: int) -> tuple[str, ...]:
    return tuple(
        f"{str(source).removeprefix('proxy ')} for {security}"
        for security, source in zip(result.securities, result.source[i], strict=True)
        if str(source).startswith("proxy ") and str(source).removeprefix("proxy ") != security
    )


def worst(rows: Sequence[ScenarioRow]) -> ScenarioRow | None:
    """The available scenario with the deepest household loss."""
    usable = [r for r in rows if r.available and not np.isnan(r.household_change)]
    return min(usable, key=lambda r: r.household_change, default=None)
