"""Reads that feed analytics and pages. They return plain pandas objects (Decimal -> float).

Each function runs a fixed number of queries however many portfolios or securities it covers.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Max, OuterRef, Subquery

from portfolios.models import (
    IdenticalGroupMember,
    ModelAllocation,
    Portfolio,
    Price,
    Security,
    TargetAllocation,
    TaxLot,
)


def _ids(values: Iterable[int]) -> list[int]:
    return [int(v) for v in values]


def latest_prices(
    security_ids: Iterable[int] | None = None, *, on: dt.date | None = None
) -> pd.DataFrame:
    """The newest close per security (on or before `on`): index security_id, columns close, date."""
    ids = None if security_ids is None else _ids(security_ids)
    prices = Price.objects.all()
    if ids is not None:
        prices = prices.filter(security_id__in=ids)
    if on is not None:
        prices = prices.filter(date__lte=on)
    if connection.vendor == "postgresql":
        rows = (
            prices.order_by("security_id", "-date")
            .distinct("security_id")
            .values_list("security_id", "close", "date")
        )
    else:
        newest = (
            prices.filter(security_id=OuterRef("security_id")).order_by("-date").values("date")[:1]
        )
        rows = prices.filter(date=Subquery(newest)).values_list("security_id", "close", "date")
    frame = pd.DataFrame(list(rows), columns=["security_id", "close", "date"])
    frame["close"] = frame["close"].astype(float)
    return frame.set_index("security_id")


def latest_price_date() -> dt.date | None:
    return Price.objects.aggregate(newest=Max("date"))["newest"]


def price_history(
    security_ids: Iterable[int],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    adjusted: bool = False,
    columns: str = "ticker",
) -> pd.DataFrame:
    """Daily closes as a wide DataFrame: index date, one column per security (ticker or id).

    `adjusted` uses the adjusted close where the provider gave one, else the close.
    """
    ids = _ids(security_ids) or []
    value = "COALESCE(p.adjusted_close, p.close)" if adjusted else "p.close"
    sql = [
        f"SELECT p.date, s.{'ticker' if columns == 'ticker' else 'id'}, {value}::float8 "
        if connection.vendor == "postgresql"
        else f"SELECT p.date, s.{'ticker' if columns == 'ticker' else 'id'}, CAST({value} AS REAL) ",
        f"FROM {Price._meta.db_table} p JOIN portfolios_security s ON s.id = p.security_id ",
        f"WHERE p.security_id IN ({','.join(['%s'] * len(ids))}) " if ids else "WHERE 1=0 ",
    ]
    params: list[Any] = list(ids)
    if start is not None:
        sql.append("AND p.date >= %s ")
        params.append(start)
    if end is not None:
        sql.append("AND p.date <= %s ")
        params.append(end)
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        rows = cursor.fetchall()
    if not rows:
        return pd.DataFrame(dtype=float)
    dates, keys, values = zip(*rows, strict=True)
    long = pd.DataFrame(
        {"date": pd.to_datetime(dates), "key": keys, "value": np.asarray(values, dtype=float)}
    )
    return (
        long.pivot(index="date", columns="key", values="value")
        .sort_index()
        .rename_axis(columns=None)
    )


def lots(portfolio_ids: Iterable[int]) -> pd.DataFrame:
    """Open lots: one row per lot with portfolio_id, security_id, ticker, asset_class, quantity,
    cost_basis (total), acquired_on, holding_start."""
    rows = (
        TaxLot.objects.open()
        .filter(portfolio_id__in=_ids(portfolio_ids))
        .values_list(
            "id",
            "portfolio_id",
            "security_id",
            "security__ticker",
            "security__asset_class__code",
            "quantity",
            "cost_basis",
            "acquired_on",
            "holding_start",
        )
        .order_by("portfolio_id", "security_id", "acquired_on", "id")
    )
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "lot_id",
            "portfolio_id",
            "security_id",
            "ticker",
            "asset_class",
            "quantity",
            "cost_basis",
            "acquired_on",
            "holding_start",
        ],
    )
    for column in ("quantity", "cost_basis"):
        frame[column] = frame[column].astype(float)
    return frame


def holdings(portfolio_ids: Iterable[int], *, on: dt.date | None = None) -> pd.DataFrame:
    """Positions valued at the latest price: one row per (portfolio, security) with quantity,
    cost_basis, price, price_date, market_value, unrealised_gain. Securities without a price get
    NaN prices (the caller decides what that means)."""
    frame = lots(portfolio_ids)
    columns = ["portfolio_id", "security_id", "ticker", "asset_class"]
    if frame.empty:
        return pd.DataFrame(
            columns=[
                *columns,
                "quantity",
                "cost_basis",
                "price",
                "price_date",
                "market_value",
                "unrealised_gain",
            ]
        )
    positions = frame.groupby(columns, as_index=False)[["quantity", "cost_basis"]].sum()
    prices = latest_prices(positions["security_id"].unique(), on=on)
    positions["price"] = positions["security_id"].map(prices["close"])
    positions["price_date"] = positions["security_id"].map(prices["date"])
    positions["market_value"] = positions["quantity"] * positions["price"]
    positions["unrealised_gain"] = positions["market_value"] - positions["cost_basis"]
    return positions


def targets(portfolio_ids: Iterable[int]) -> pd.DataFrame:
    """Target allocation per portfolio: portfolio_id, asset_class, weight, security_id (the
    security bought for the class). The model's allocation applies, else the custom targets."""
    ids = _ids(portfolio_ids)
    model_of = dict(
        Portfolio.objects.filter(pk__in=ids, model__isnull=False).values_list("pk", "model_id")
    )
    model_rows = ModelAllocation.objects.filter(model_id__in=set(model_of.values())).values_list(
        "model_id", "asset_class__code", "weight", "security_id"
    )
    by_model: dict[int, list[tuple[str, float, int]]] = {}
    for model_id, code, weight, security_id in model_rows:
        by_model.setdefault(model_id, []).append((code, float(weight), security_id))
    records = [
        (pid, code, weight, security_id)
        for pid, model_id in model_of.items()
        for code, weight, security_id in by_model.get(model_id, [])
    ]
    custom = (
        TargetAllocation.objects.filter(portfolio_id__in=ids)
        .exclude(portfolio_id__in=model_of)
        .values_list("portfolio_id", "asset_class__code", "weight", "security_id")
    )
    records += [(pid, code, float(weight), sid) for pid, code, weight, sid in custom]
    return pd.DataFrame(records, columns=["portfolio_id", "asset_class", "weight", "security_id"])


def price_frame(
    security_ids: Iterable[int],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    adjusted: bool = False,
    columns: str = "ticker",
) -> pd.DataFrame:
    """The same frame as `price_history` (index date, one column per security, NaN where a
    security has no close that day), built for long histories: per-security arrays are
    aggregated in PostgreSQL and the matrix is filled with numpy instead of a pandas pivot.
    Other databases use `price_history`."""
    ids = _ids(security_ids) or []
    if connection.vendor != "postgresql" or not ids:
        return price_history(ids, start=start, end=end, adjusted=adjusted, columns=columns)
    value = "COALESCE(adjusted_close, close)" if adjusted else "close"
    where, params = ["security_id = ANY(%s)"], [ids]
    if start is not None:
        where.append("date >= %s")
        params.append(start)  # type: ignore[arg-type]
    if end is not None:
        where.append("date <= %s")
        params.append(end)  # type: ignore[arg-type]
    sql = (
        f"SELECT security_id, array_agg(date - DATE '1970-01-01'), array_agg({value}::float8) "  # noqa: S608 - table and column names only; values are parameters
        f"FROM {Price._meta.db_table} WHERE {' AND '.join(where)} GROUP BY security_id ORDER BY security_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return pd.DataFrame(dtype=float)
    day_arrays = [np.asarray(days, dtype=np.int64) for _, days, _ in rows]
    all_days = np.unique(np.concatenate(day_arrays))
    matrix = np.full((len(all_days), len(rows)), np.nan)
    for j, ((_, _, values), days) in enumerate(zip(rows, day_arrays, strict=True)):
        matrix[np.searchsorted(all_days, days), j] = np.asarray(values, dtype=float)
    security_ids_found = [sid for sid, _, _ in rows]
    if columns == "ticker":
        ticker_of = dict(
            Security.objects.filter(pk__in=security_ids_found).values_list("pk", "ticker")
        )
        labels: list[object] = [ticker_of[sid] for sid in security_ids_found]
    else:
        labels = security_ids_found
    index = pd.DatetimeIndex(all_days.astype("datetime64[D]").astype("datetime64[ns]"), name="date")
    return pd.DataFrame(matrix, index=index, columns=labels).sort_index(axis=1)


@dataclass(frozen=True)
class IdenticalGroups:
    """Securities the wash-sale rule treats as one. `key_of`: security -> group key (-group id)
    for group members; `members`: group key -> its securities. A security in no group is its
    own key."""

    key_of: dict[int, int] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)

    def key(self, security_id: int) -> int:
        return self.key_of.get(security_id, security_id)

    def identical_to(self, security_id: int) -> list[int]:
        """The security and every security substantially identical to it."""
        return list(self.members.get(self.key_of.get(security_id, 0), [security_id]))

    def expand(self, pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        """(household, security) pairs plus, for each, every security identical to it."""
        return {(uid, member) for uid, sid in pairs for member in self.identical_to(sid)}


def identical_groups() -> IdenticalGroups:
    """Every group of substantially identical securities (one query; a few dozen rows)."""
    key_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for sid, gid in IdenticalGroupMember.objects.values_list("security_id", "group_id"):
        key_of[sid] = -gid
        members.setdefault(-gid, []).append(sid)
    return IdenticalGroups(key_of, members)
