"""Set-based loaders for the drift check: everything one batch of portfolios needs, in a fixed
number of queries however many portfolios the batch holds (about 12; see `load_drift_batch`).
Decimal columns become float64 here; the engine never sees a model instance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from portfolios import selectors as portfolio_selectors
from portfolios.models import AssetClass, Portfolio, Security, TaxLot
from rebalancing import selectors_harvest
from rebalancing.engine import drift, policy, trades
from rebalancing.models import Proposal, RebalancePolicy
from rebalancing.services import proposals as proposal_services

WASH_WINDOW_DAYS = 30
VOLATILITY_HISTORY_DAYS = 4 * 366


@dataclass
class DriftBatch:
    """One batch, ready for the engine. Arrays are aligned with `book.portfolio_ids`."""

    book: drift.Book
    policies: policy.Policies
    lots: trades.Lots
    owners: np.ndarray
    tickers: tuple[str, ...]
    class_names: dict[str, str]
    price_dates: np.ndarray  # [S] datetime64[D] date of each security's latest price
    prices_as_of: np.ndarray  # [P] oldest price date among the portfolio's securities (NaT: none)
    missing_price: np.ndarray  # [P] bool: a held or target security has no price
    blocked_sells: set[tuple[int, int]] = field(default_factory=set)
    no_buy: set[tuple[int, int]] = field(default_factory=set)
    vol_scale: np.ndarray | None = None
    cash_text: dict[int, Decimal] = field(default_factory=dict)
    lot_rows: pd.DataFrame | None = None  # lot_id, portfolio_id, quantity_text; sorted

    def fingerprint(self, portfolio_id: int) -> str:
        """Holdings fingerprint from the rows this batch read (the same hash as
        `proposals.holdings_fingerprint`, without another query)."""
        lots: list[tuple[int, str]] = []
        if self.lot_rows is not None and len(self.lot_rows):
            pids = self.lot_rows["portfolio_id"].to_numpy()
            lo, hi = np.searchsorted(pids, [portfolio_id, portfolio_id + 1])
            chunk = self.lot_rows.iloc[lo:hi]
            lots = list(zip(chunk["lot_id"].tolist(), chunk["quantity_text"].tolist(), strict=True))
        return proposal_services.fingerprint_of(self.cash_text[portfolio_id], lots)

    auto_approve_below: np.ndarray | None = None


def _float(column: str) -> str:
    return f"{column}::float8" if connection.vendor == "postgresql" else f"CAST({column} AS REAL)"


def _portfolios(ids: Sequence[int]) -> list[tuple[int, int, Decimal, int | None]]:
    return list(
        Portfolio.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "owner_id", "cash", "model_id")
    )


def _lots(ids: Sequence[int]) -> pd.DataFrame:
    """Open lots as floats, one raw query (the ORM's Decimal conversion is the slow part)."""
    table = TaxLot._meta.db_table
    placeholders = ",".join(["%s"] * len(ids))
    sql = (
        f"SELECT id, portfolio_id, security_id, {_float('quantity')}, {_float('cost_basis')}, holding_start, "
        f"CAST(quantity AS TEXT) FROM {table} WHERE quantity > 0 AND portfolio_id IN ({placeholders}) "
        "ORDER BY portfolio_id, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(ids))
        rows = cursor.fetchall()
    frame = pd.DataFrame(
        rows,
        columns=[
            "lot_id",
            "portfolio_id",
            "security_id",
            "quantity",
            "cost_basis",
            "holding_start",
            "quantity_text",
        ],
    )
    frame["holding_start"] = pd.to_datetime(frame["holding_start"]).to_numpy(dtype="datetime64[D]")
    return frame


def _policies(portfolios: list[tuple[int, int, Decimal, int | None]]) -> list[RebalancePolicy]:
    """The policy that applies to each portfolio: its own, its model's, or the defaults."""
    ids = [p[0] for p in portfolios]
    models = {p[3] for p in portfolios if p[3] is not None}
    rows = RebalancePolicy.objects.filter(Q(portfolio_id__in=ids) | Q(model_id__in=models))
    own = {r.portfolio_id: r for r in rows if r.portfolio_id is not None}
    by_model = {r.model_id: r for r in rows if r.model_id is not None}
    default = RebalancePolicy()
    return [own.get(pk) or by_model.get(model) or default for pk, _, _, model in portfolios]


def _policy_arrays(rows: list[RebalancePolicy], last_calendar: np.ndarray) -> policy.Policies:
    def arr(values: Iterable[object], dtype: object = float) -> np.ndarray:
        return np.array(list(values), dtype=dtype)

    return policy.Policies(
        frequency=arr((r.calendar_frequency for r in rows), object),
        calendar_day=arr((r.calendar_day for r in rows), int),
        absolute_band=arr(
            float(r.absolute_band) if r.absolute_band is not None else np.nan for r in rows
        ),
        relative_band=arr(
            float(r.relative_band) if r.relative_band is not None else np.nan for r in rows
        ),
        cash_flow=arr((r.cash_flow_enabled for r in rows), bool),
        volatility_adjusted=arr((r.volatility_adjusted for r in rows), bool),
        full=arr((r.rebalance_to == RebalancePolicy.Target.FULL for r in rows), bool),
        min_trade=arr(float(r.min_trade_amount) for r in rows),
        cash_buffer=arr(float(r.cash_buffer) for r in rows),
        allow_short_term_gains=arr((r.allow_short_term_gains for r in rows), bool),
        max_tax_cost=arr(
            float(r.max_tax_cost) if r.max_tax_cost is not None else np.nan for r in rows
        ),
        last_calendar=last_calendar,
    )


def _last_calendar(ids: Sequence[int]) -> dict[int, dt.date]:
    """Local date the newest decided calendar-rule rebalance proposal was made, per portfolio."""
    # A pending calendar proposal is refreshed by each check until the investor decides, so
    # only decided (or executed) ones satisfy the schedule.
    rows = (
        Proposal.objects.filter(portfolio_id__in=ids, kind=Proposal.Kind.REBALANCE, rule="calendar")
        .exclude(
            status__in=[
                Proposal.Status.PENDING,
                Proposal.Status.SUPERSEDED,
                Proposal.Status.EXPIRED,
            ]
        )
        .values("portfolio_id")
        .annotate(newest=Max("created_at"))
        .values_list("portfolio_id", "newest")
    )
    return {pid: timezone.localdate(newest) for pid, newest in rows}


def _recent_purchases(owner_ids: Iterable[int], today: dt.date) -> set[tuple[int, int]]:
    """(household, security) with a lot acquired in the past 30 days in any of its accounts:
    selling a lot of that security at a loss now would be a wash sale."""
    since = today - dt.timedelta(days=WASH_WINDOW_DAYS)
    rows = (
        TaxLot.objects.filter(
            portfolio__owner_id__in=list(owner_ids), acquired_on__gte=since, acquired_on__lte=today
        )
        .order_by()
        .values_list("portfolio__owner_id", "security_id")
        .distinct()
    )
    return set(rows)


def load_drift_batch(portfolio_ids: Iterable[int], *, today: dt.date) -> DriftBatch:
    """Load one batch: portfolios, lots, targets, securities, latest prices, policies, the last
    calendar proposal, wash-sale pairs (sell side and buy side) and, when a policy
    asks for it, the price history for volatility-adjusted bands. A fixed number of queries."""
    ids = sorted({int(i) for i in portfolio_ids})
    portfolios = _portfolios(ids)
    ids = [p[0] for p in portfolios]
    lots = _lots(ids) if ids else _lots([0])
    targets = (
        portfolio_selectors.targets(ids)
        if ids
        else pd.DataFrame(columns=["portfolio_id", "asset_class", "weight", "security_id"])
    )
    security_ids = sorted(set(lots["security_id"].tolist()) | set(targets["security_id"].tolist()))
    securities = list(
        Security.objects.filter(pk__in=security_ids)
        .order_by("pk")
        .values_list("pk", "ticker", "asset_class__code", "allows_fractional")
    )
    prices = (
        portfolio_selectors.latest_prices(security_ids, on=today)
        if security_ids
        else pd.DataFrame(columns=["close", "date"])
    )
    codes = sorted({s[2] for s in securities} | set(targets["asset_class"].tolist()))
    class_names = dict(AssetClass.objects.filter(code__in=codes).values_list("code", "name"))

    n_p, n_s, n_k = len(ids), len(securities), len(codes)
    p_index = {pk: i for i, pk in enumerate(ids)}
    s_index = {s[0]: i for i, s in enumerate(securities)}
    k_index = {code: i for i, code in enumerate(codes)}
    security_arr = np.array([s[0] for s in securities], dtype=np.int64)
    price_arr = prices["close"].reindex(security_arr).to_numpy(dtype=float) if n_s else np.zeros(0)
    price_dates = (
        pd.to_datetime(prices["date"].reindex(security_arr)).to_numpy(dtype="datetime64[D]")
        if n_s
        else np.zeros(0, dtype="datetime64[D]")
    )

    lp = lots["portfolio_id"].map(p_index).to_numpy(dtype=int)
    ls = lots["security_id"].map(s_index).to_numpy(dtype=int)
    quantity = np.zeros((n_p, n_s))
    np.add.at(quantity, (lp, ls), lots["quantity"].to_numpy(dtype=float))

    target = np.zeros((n_p, n_k))
    target_security = np.full((n_p, n_k), -1)
    if len(targets):
        tp = targets["portfolio_id"].map(p_index).to_numpy(dtype=int)
        tk = targets["asset_class"].map(k_index).to_numpy(dtype=int)
        target[tp, tk] = targets["weight"].to_numpy(dtype=float)
        target_security[tp, tk] = targets["security_id"].map(s_index).to_numpy(dtype=int)
    target = drift.normalise_targets(target)

    # Portfolios missing a price for any held or target security are not checked.
    uses = quantity > 0
    tp_rows, tp_cols = np.nonzero(target_security >= 0)
    uses[tp_rows, target_security[tp_rows, tp_cols]] = True
    priced = ~np.isnan(price_arr)
    missing = (uses & ~priced[None, :]).any(axis=1) if n_s else np.zeros(n_p, bool)
    dates_matrix = (
        np.where(uses, price_dates[None, :], np.datetime64("NaT"))
        if n_s
        else np.zeros((n_p, 0), "datetime64[D]")
    )
    prices_as_of = _nanmin_dates(dates_matrix)
    safe_prices = np.where(priced, price_arr, 1.0)

    owners = np.array([p[1] for p in portfolios], dtype=np.int64)
    book = drift.Book(
        portfolio_ids=np.array(ids, dtype=np.int64),
        classes=tuple(codes),
        security_ids=security_arr,
        security_class=np.array([k_index[s[2]] for s in securities], dtype=int),
        prices=safe_prices,
        fractional=np.array([s[3] for s in securities], dtype=bool),
        quantity=quantity,
        cash=np.array([float(p[2]) for p in portfolios], dtype=float),
        target=target,
        target_security=target_security,
    )
    policy_rows = _policies(portfolios)
    last = _last_calendar(ids)
    last_calendar = np.array(
        [np.datetime64(last[pk], "D") if pk in last else np.datetime64("NaT") for pk in ids],
        dtype="datetime64[D]",
    )
    policies = _policy_arrays(policy_rows, last_calendar)
    engine_lots = trades.Lots(
        portfolio=lp,
        security=ls,
        lot_id=lots["lot_id"].to_numpy(dtype=np.int64),
        quantity=lots["quantity"].to_numpy(dtype=float),
        cost_basis=lots["cost_basis"].to_numpy(dtype=float),
        holding_start=lots["holding_start"].to_numpy(dtype="datetime64[D]"),
        household=owners[lp] if n_p else np.zeros(0, dtype=np.int64),
    )
    household_ids = set(owners.tolist())
    vol_scale = None
    if policies.volatility_adjusted.any() and n_k:
        vol_scale = _volatility_scale(codes, target_security, security_arr, today)
    auto = np.array(
        [
            float(r.auto_approve_cash_flow_below)
            if r.auto_approve_cash_flow_below is not None
            else np.nan
            for r in policy_rows
        ]
    )
    return DriftBatch(
        book=book,
        policies=policies,
        lots=engine_lots,
        owners=owners,
        tickers=tuple(s[1] for s in securities),
        class_names=class_names,
        price_dates=price_dates,
        prices_as_of=prices_as_of,
        missing_price=missing,
        blocked_sells=_recent_purchases(household_ids, today) if household_ids else set(),
        no_buy=selectors_harvest.blocked_purchases(household_ids, today)
        if household_ids
        else set(),
        vol_scale=vol_scale,
        cash_text={p[0]: p[2] for p in portfolios},
        lot_rows=lots[["lot_id", "portfolio_id", "quantity_text"]],
        auto_approve_below=auto,
    )


def _nanmin_dates(matrix: np.ndarray) -> np.ndarray:
    if matrix.size == 0:
        return np.full(matrix.shape[0], np.datetime64("NaT"), dtype="datetime64[D]")
    as_int = matrix.astype("datetime64[D]").astype(np.int64)
    nat = np.isnat(matrix)
    filled = np.where(nat, np.iinfo(np.int64).max, as_int)
    low = filled.min(axis=1)
    out = low.astype("datetime64[D]")
    return np.where(nat.all(axis=1), np.datetime64("NaT"), out)


def _volatility_scale(
    codes: list[str], target_security: np.ndarray, security_ids: np.ndarray, today: dt.date
) -> np.ndarray:
    """Per class: recent/long-run volatility of the security most portfolios buy for it (1 query)."""
    vehicles: dict[int, int] = {}
    for k in range(len(codes)):
        column = target_security[:, k]
        column = column[column >= 0]
        if len(column):
            vehicles[k] = int(security_ids[np.bincount(column).argmax()])
    scale = np.ones(len(codes))
    if not vehicles:
        return scale
    history = portfolio_selectors.price_history(
        set(vehicles.values()),
        start=today - dt.timedelta(days=VOLATILITY_HISTORY_DAYS),
        end=today,
        adjusted=True,
        columns="id",
    )
    if history.empty:
        return scale
    ratio = policy.volatility_scale(history)
    for k, sid in vehicles.items():
        if sid in ratio.index:
            scale[k] = float(ratio[sid])
    return scale
