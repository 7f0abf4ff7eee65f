"""What a backtest of one account needs, read from the database in a fixed number of queries:
its target (one security per asset class, as the drift check holds it), the daily closes of
those securities, the policy that applies today (the one resolver) and the alternatives to
compare it with, the broker's costs and, for a taxable account, the investor's tax rates as
stored today. Decimal becomes float here; the engine never sees a model instance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from django.conf import settings

from advisor.core import clock
from portfolios import selectors as portfolio_selectors
from portfolios.models import AssetClass, Portfolio, Security
from rebalancing.engine import policy, trades
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax as tax_selectors

# Bump when the stored result's shape or the engine's conventions change: old cache entries
# then miss instead of showing numbers computed another way.
RESULT_VERSION = 1
CALENDARS = ("monthly", "quarterly", "annual")
EMPTY_ACCOUNT_START = 100_000.0  # money a backtest of an empty account starts with


class BacktestInputError(ValueError):
    """The backtest cannot be run as asked; the message is for the investor."""


@dataclass(frozen=True)
class Request:
    """What the investor asked for: the window (None: all the data) and the alternatives."""

    start: dt.date | None = None
    end: dt.date | None = None
    bands: tuple[float, ...] = (0.03, 0.10)  # absolute band widths, fractions
    calendars: tuple[str, ...] = CALENDARS


@dataclass(frozen=True)
class Variant:
    """One column of the comparison: `kind` is own | buy_and_hold | calendar | band; `value`
    the calendar frequency or the band width (fraction)."""

    kind: str
    value: str | float | None = None


@dataclass(frozen=True)
class BacktestInputs:
    prices: pd.DataFrame  # index dates, one column per target ticker
    target: pd.Series  # ticker -> weight (fraction)
    asset_class: pd.Series  # ticker -> class code
    class_names: dict[str, str]
    variants: tuple[Variant, ...]
    policies: policy.Policies
    start: dt.date | None
    end: dt.date | None
    initial: float
    costs: trades.CostModel
    taxable: bool
    short_term_rate: float
    long_term_rate: float

    def key(self) -> str:
        """The cache key: a hash of everything the result depends on."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.prices.to_numpy(dtype=float)).tobytes())
        digest.update(self.prices.index.to_numpy(dtype="datetime64[D]").tobytes())
        described = {
            "version": RESULT_VERSION,
            "columns": list(self.prices.columns),
            "target": {k: round(float(v), 10) for k, v in self.target.items()},
            "classes": {k: str(v) for k, v in self.asset_class.items()},
            "variants": [[v.kind, v.value] for v in self.variants],
            "policies": {
                name: [str(x) for x in getattr(self.policies, name)]
                for name in self.policies.__dataclass_fields__
            },
            "window": [str(self.start), str(self.end)],
            "initial": self.initial,
            "costs": [self.costs.commission, self.costs.slippage_bps],
            "tax": [self.taxable, self.short_term_rate, self.long_term_rate],
        }
        digest.update(json.dumps(described, sort_keys=True).encode())
        return digest.hexdigest()


def _target(portfolio: Portfolio) -> tuple[pd.Series, pd.Series, dict[str, str], dict[str, int]]:
    rows = portfolio_selectors.targets([portfolio.pk])
    rows = rows[rows["weight"] > 0]
    if rows.empty:
        raise BacktestInputError(
            "This account has no target allocation yet: choose a model portfolio or set its "
            "targets, then backtest it."
        )
    ticker_of = dict(
        Security.objects.filter(pk__in=rows["security_id"].tolist()).values_list("pk", "ticker")
    )
    tickers = [ticker_of[int(s)] for s in rows["security_id"]]
    target = pd.Series(rows["weight"].to_numpy(dtype=float), index=tickers)
    classes = pd.Series(rows["asset_class"].to_numpy(dtype=object), index=tickers)
    names = dict(AssetClass.objects.filter(code__in=classes.tolist()).values_list("code", "name"))
    return target, classes, names, {t: int(s) for s, t in ticker_of.items()}


def variants_for(request: Request) -> tuple[Variant, ...]:
    """The account's own policy, buy-and-hold, the calendars and the bands asked for."""
    return (
        Variant("own"),
        Variant("buy_and_hold"),
        *(Variant("calendar", c) for c in CALENDARS if c in request.calendars),
        *(Variant("band", float(b)) for b in sorted(set(request.bands))),
    )


def variant_policies(own: policy.Policies, variants: tuple[Variant, ...]) -> policy.Policies:
    """One engine policy per variant. Alternatives change only the rule that fires (calendar,
    band, none); the rest (minimum trade, cash buffer, cash-flow rule, short-term gains, tax
    cap) stays the account's own, so the comparison is of the rule alone."""
    n = len(variants)
    base = replace(own, **{f: np.repeat(getattr(own, f)[:1], n) for f in own.__dataclass_fields__})
    frequency = base.frequency.copy()
    absolute, relative = base.absolute_band.copy(), base.relative_band.copy()
    cash_flow = base.cash_flow.copy()
    for i, variant in enumerate(variants):
        if variant.kind == "own":
            continue
        frequency[i] = variant.value if variant.kind == "calendar" else "none"
        absolute[i] = float(variant.value) if variant.kind == "band" else np.nan  # type: ignore[arg-type]
        relative[i] = np.nan
        if variant.kind == "buy_and_hold":
            cash_flow[i] = False
    return replace(
        base,
        frequency=frequency,
        absolute_band=absolute,
        relative_band=relative,
        cash_flow=cash_flow,
        full=np.where([v.kind == "own" for v in variants], base.full, True),
    )


def _rates(portfolio: Portfolio) -> tuple[float, float]:
    """The investor's rates on short/long-term gains (federal + state), as every estimate."""
    year = tax_selectors.households([portfolio.owner_id], year=clock.today().year)
    return float(year["short_rate"].iloc[0]), float(year["long_rate"].iloc[0])


def _initial(portfolio: Portfolio) -> float:
    """Today's value of the account (lots at their latest close, plus cash), rounded to the
    dollar; an empty account starts from EMPTY_ACCOUNT_START."""
    held = portfolio_selectors.holdings([portfolio.pk])
    value = float(portfolio.cash) + float(held["market_value"].astype(float).sum(skipna=True))
    return float(round(value)) if value >= 1.0 else EMPTY_ACCOUNT_START


def load_backtest_inputs(portfolio: Portfolio, request: Request) -> BacktestInputs:
    """Everything one backtest of `portfolio` needs (about eight queries). Raises
    BacktestInputError when the account has no target."""
    target, classes, names, security_ids = _target(portfolio)
    tickers = list(target.index)
    # The whole history: the engine cuts the window and names what is missing in it.
    prices = portfolio_selectors.price_frame([security_ids[t] for t in tickers], adjusted=True)
    variants = variants_for(request)
    own = policy_selectors.engine_policies([policy_selectors.policy_for(portfolio)])
    short_rate, long_rate = _rates(portfolio)
    return BacktestInputs(
        prices=prices,
        target=target,
        asset_class=classes,
        class_names=names,
        variants=variants,
        policies=variant_policies(own, variants),
        start=request.start,
        end=request.end,
        initial=_initial(portfolio),
        costs=trades.CostModel(
            commission=float(settings.ADVISOR_PAPER_COMMISSION),
            slippage_bps=float(settings.ADVISOR_PAPER_SLIPPAGE_BPS),
        ),
        taxable=portfolio.is_taxable,
        short_term_rate=short_rate,
        long_term_rate=long_rate,
    )
