"""What the account pages show, assembled from the selectors in a fixed number of queries.

Values are floats for display (market values are estimates at the latest close); the ledger
and lots stay Decimal in the database.
"""

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from portfolios import selectors
from portfolios.models import AssetClass, Portfolio
from rebalancing.engine import lots as lot_rules


@dataclass
class AccountOverview:
    portfolio: Portfolio
    # pandas records: each value has its column's type
    lots: list[dict[Hashable, Any]] = field(default_factory=list)
    positions: list[dict[Hashable, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    invested: float = 0.0
    cash: float = 0.0
    total: float = 0.0
    cost: float = 0.0
    short_term_gain: float = 0.0
    long_term_gain: float = 0.0
    price_date: dt.date | None = None
    missing_prices: list[str] = field(default_factory=list)

    @property
    def unrealised_gain(self) -> float:
        return self.short_term_gain + self.long_term_gain


def account_overview(portfolio: Portfolio, *, today: dt.date) -> AccountOverview:
    out = AccountOverview(portfolio=portfolio, cash=float(portfolio.cash))
    lots = selectors.lots([portfolio.pk])
    names = dict(AssetClass.objects.values_list("code", "name"))
    if not lots.empty:
        prices = selectors.latest_prices(lots["security_id"].unique())
        lots["price"] = lots["security_id"].map(prices["close"])
        lots["market_value"] = lots["quantity"] * lots["price"]
        lots["gain"] = lots["market_value"] - lots["cost_basis"]
        lots["long_term"] = lot_rules.is_long_term(lots["holding_start"].to_numpy(), today)
        out.missing_prices = sorted(set(lots.loc[lots["price"].isna(), "ticker"]))
        out.price_date = prices["date"].max() if not prices.empty else None
        valued = lots.dropna(subset=["price"])
        out.invested = float(valued["market_value"].sum())
        out.cost = float(valued["cost_basis"].sum())
        out.long_term_gain = float(valued.loc[valued["long_term"], "gain"].sum())
        out.short_term_gain = float(valued.loc[~valued["long_term"], "gain"].sum())
        lots["cost_per_share"] = lots["cost_basis"] / lots["quantity"]
        out.lots = lots.sort_values(["ticker", "acquired_on"]).to_dict("records")
        lots["st_gain"] = lots["gain"].where(~lots["long_term"], 0.0)
        lots["lt_gain"] = lots["gain"].where(lots["long_term"], 0.0)
        positions = lots.groupby(["ticker", "asset_class"], as_index=False).agg(
            quantity=("quantity", "sum"), cost_basis=("cost_basis", "sum"), price=("price", "first"),
            market_value=("market_value", "sum"), st_gain=("st_gain", "sum"), lt_gain=("lt_gain", "sum"),
            lots=("lot_id", "count"),
        )  # fmt: skip
        out.positions = positions.sort_values("market_value", ascending=False).to_dict("records")
    out.total = out.invested + out.cash
    current = pd.Series({p["asset_class"]: 0.0 for p in out.positions}, dtype=float)
    for p in out.positions:
        if pd.notna(p["market_value"]):
            current[p["asset_class"]] += float(p["market_value"])
    if out.cash:
        current["cash"] = current.get("cash", 0.0) + out.cash
    # Asset classes as shares of the invested value, as the drift check weighs them (so the
    # drift shown here is the drift a rebalance acts on); cash as a share of the whole.
    whole = pd.Series(
        [out.total if code == "cash" else out.invested for code in current.index],
        index=current.index,
        dtype=float,
    )
    weights = (current / whole.where(whole > 0)).fillna(0.0)
    target_frame = selectors.targets([portfolio.pk])
    target = (
        target_frame.groupby("asset_class")["weight"].sum()
        if not target_frame.empty
        else pd.Series(dtype=float)
    )
    codes = sorted(
        set(weights.index) | set(target.index),
        key=lambda c: list(names).index(c) if c in names else 99,
    )
    for code in codes:
        w, t = float(weights.get(code, 0.0)), float(target.get(code, 0.0))
        out.classes.append(
            {"code": code, "name": names.get(code, code), "value": float(current.get(code, 0.0)),
             "weight": w, "target": t, "drift": w - t, "has_target": code in target.index,
             "weight_pct": 100 * w, "target_pct": 100 * t, "drift_pts": 100 * (w - t)}
        )  # fmt: skip
    for p in out.positions:
        p["weight"] = (
            float(p["market_value"]) / out.total
            if out.total and pd.notna(p["market_value"])
            else None
        )
        p["weight_pct"] = None if p["weight"] is None else 100 * p["weight"]
        p["asset_class_name"] = names.get(str(p["asset_class"]), p["asset_class"])
    return out


def household_summary(portfolios: list[Portfolio]) -> dict[int, dict[str, float]]:
    """Market value, cost and unrealised gain per portfolio id (two queries)."""
    frame = selectors.holdings([p.pk for p in portfolios])
    result = {p.pk: {"invested": 0.0, "cost": 0.0, "gain": 0.0, "positions": 0} for p in portfolios}
    if frame.empty:
        return result
    for pid, group in frame.groupby("portfolio_id"):
        valued = group.dropna(subset=["price"])
        result[cast(int, pid)] = {
            "invested": float(valued["market_value"].sum()),
            "cost": float(valued["cost_basis"].sum()),
            "gain": float(valued["unrealised_gain"].sum()),
            "positions": len(group),
        }
    return result
