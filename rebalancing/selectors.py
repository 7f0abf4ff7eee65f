"""Set-based loaders for the drift check: everything one batch of portfolios needs, in a fixed
number of queries however many portfolios the batch holds (about 12; see `load_drift_batch`).
Decimal columns become float64 here; the engine never sees a model instance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Max, Q

from accounts.models import InvestorProfile
from advisor.core import clock
from advisor.lookups import Ids
from portfolios import selectors as portfolio_selectors
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    Portfolio,
    Security,
    TargetAllocation,
    TaxLot,
)
from rebalancing import selectors_harvest
from rebalancing.engine import drift, policy, trades
from rebalancing.models import Proposal, RebalancePolicy
from rebalancing.services import proposals as proposal_services

WASH_WINDOW_DAYS = 30
# An investor without a profile is taxed at the profile's default rates.
DEFAULT_SHORT_TERM_RATE = float(InvestorProfile._meta.get_field("short_term_tax_rate").default)
DEFAULT_LONG_TERM_RATE = float(InvestorProfile._meta.get_field("long_term_tax_rate").default)
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
    lot_portfolio: np.ndarray | None = None  # [L] portfolio id of each lot, sorted

    @cached_property
    def portfolio_id_list(self) -> list[int]:
        return self.book.portfolio_ids.tolist()

    @cached_property
    def security_id_list(self) -> list[int]:
        return self.book.security_ids.tolist()

    def fingerprint(self, portfolio_id: int) -> str:
        """Holdings fingerprint from the rows this batch read (the same hash as
        `proposals.holdings_fingerprint`, without another query).

        Quantities were read as float8: formatted with 8 decimals they give back the stored
        numeric(20, 8) exactly below 2**52 x 1e-8 (45 million shares in one lot). Above that
        the hash differs and the proposal reads as stale: refused, never executed wrongly."""
        lots: list[tuple[int, str]] = []
        if self.lot_portfolio is not None and len(self.lot_portfolio):
            lo, hi = np.searchsorted(self.lot_portfolio, [portfolio_id, portfolio_id + 1])
            lots = [
                (lot_id, f"{q:.8f}")
                for lot_id, q in zip(
                    self.lots.lot_id[lo:hi].tolist(),
                    self.lots.quantity[lo:hi].tolist(),
                    strict=True,
                )
            ]
        return proposal_services.fingerprint_of(self.cash_text[portfolio_id], lots)

    auto_approve_below: np.ndarray | None = None
    short_term_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P]
    long_term_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P]


def _float(column: str) -> str:
    return f"{column}::float8" if connection.vendor == "postgresql" else f"CAST({column} AS REAL)"


# Batches are runs of consecutive ids, so every query filters on the id RANGE of the batch
# and keeps the batch's ids in Python: the SQL stays the same size for 10 or 10,000 portfolios
# (an IN list of thousands of parameters costs more to build and parse than to run).
IdRange = tuple[int, int]


def _portfolios(ids: Sequence[int], span: IdRange) -> list[tuple[int, int, Decimal, int | None]]:
    wanted = set(ids)
    rows = (
        Portfolio.objects.filter(pk__gte=span[0], pk__lte=span[1])
        .order_by("pk")
        .values_list("pk", "owner_id", "cash", "model_id")
    )
    return [row for row in rows if row[0] in wanted]


LOT_DTYPES = {
    "lot_id": np.int64,
    "portfolio_id": np.int64,
    "security_id": np.int64,
    "quantity": np.float64,
    "cost_basis": np.float64,
    "holding_start": np.int64,  # days since 1970-01-01 (PostgreSQL) or a date (SQLite)
}


def _lots(ids: Sequence[int], span: IdRange) -> pd.DataFrame:
    """Open lots as floats, one raw query (the ORM's Decimal conversion is the slow part),
    ordered by (portfolio, lot id): sorted here, which is cheaper than in the database."""
    table = TaxLot._meta.db_table
    postgres = connection.vendor == "postgresql"
    start = (
        "(holding_start - DATE '1970-01-01')::int8" if postgres else "holding_start"
    )  # days, on PostgreSQL
    sql = (
        f"SELECT id, portfolio_id, security_id, {_float('quantity')}, {_float('cost_basis')}, {start} "  # noqa: S608 - table and column names only; values are parameters
        f"FROM {table} WHERE quantity > 0 AND portfolio_id BETWEEN %s AND %s"
    )
    if postgres:
        frame = portfolio_selectors.copy_frame(sql, list(span), LOT_DTYPES)
        frame["holding_start"] = frame["holding_start"].to_numpy().astype("datetime64[D]")
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(span))
            frame = pd.DataFrame(cursor.fetchall(), columns=list(LOT_DTYPES)).astype(
                {k: v for k, v in LOT_DTYPES.items() if k != "holding_start"}
            )
        frame["holding_start"] = pd.to_datetime(frame["holding_start"]).to_numpy(
            dtype="datetime64[D]"
        )
    if span[1] - span[0] + 1 != len(ids):  # the range holds other portfolios too
        frame = frame[frame["portfolio_id"].isin(ids)]
    order = np.lexsort((frame["lot_id"].to_numpy(), frame["portfolio_id"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _targets(portfolios: list[tuple[int, int, Decimal, int | None]], span: IdRange) -> pd.DataFrame:
    """Target rows per portfolio (portfolio_id, asset_class, weight, security_id): the model's
    allocation, else the custom targets. Same rule as `portfolios.selectors.targets`."""
    model_of: dict[int, list[int]] = {}
    for pk, _, _, model in portfolios:
        if model is not None:
            model_of.setdefault(model, []).append(pk)
    by_model: dict[int, list[tuple[str, float, int]]] = {}
    for model_id, code, weight, security_id in ModelAllocation.objects.filter(
        model_id__in=set(model_of)
    ).values_list("model_id", "asset_class__code", "weight", "security_id"):
        by_model.setdefault(model_id, []).append((code, float(weight), security_id))
    # Per model: its K allocation rows repeated for its n portfolios (arrays, no row loop).
    parts = []
    for model_id, pks in model_of.items():
        rows = by_model.get(model_id, [])
        if not rows:
            continue
        codes, weights, securities = zip(*rows, strict=True)
        parts.append(
            pd.DataFrame(
                {
                    "portfolio_id": np.repeat(np.array(pks, dtype=np.int64), len(rows)),
                    "asset_class": np.tile(np.array(codes, dtype=object), len(pks)),
                    "weight": np.tile(np.array(weights, dtype=float), len(pks)),
                    "security_id": np.tile(np.array(securities, dtype=np.int64), len(pks)),
                }
            )
        )
    records: list[tuple[int, str, float, int]] = []
    custom_wanted = {pk for pk, _, _, model in portfolios if model is None}
    if custom_wanted:
        custom = TargetAllocation.objects.filter(
            portfolio_id__gte=span[0], portfolio_id__lte=span[1]
        ).values_list("portfolio_id", "asset_class__code", "weight", "security_id")
        records += [(pk, code, float(w), sid) for pk, code, w, sid in custom if pk in custom_wanted]
    parts.append(
        pd.DataFrame(records, columns=["portfolio_id", "asset_class", "weight", "security_id"])
    )
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _policies(
    portfolios: list[tuple[int, int, Decimal, int | None]], span: IdRange
) -> tuple[list[RebalancePolicy], np.ndarray]:
    """The policy that applies to each portfolio (its own, its model's, or the defaults), as
    the batch's few distinct policies and, per portfolio, the index of its policy."""
    models = {p[3] for p in portfolios if p[3] is not None}
    rows = RebalancePolicy.objects.filter(
        Q(portfolio_id__gte=span[0], portfolio_id__lte=span[1]) | Q(model_id__in=models)
    )
    own = {r.portfolio_id: r for r in rows if r.portfolio_id is not None}
    by_model = {r.model_id: r for r in rows if r.model_id is not None}
    default = RebalancePolicy()
    unique: list[RebalancePolicy] = []
    slot: dict[int, int] = {}
    index = np.empty(len(portfolios), dtype=np.intp)
    for i, (pk, _, _, model) in enumerate(portfolios):
        chosen = own.get(pk) or by_model.get(model) or default
        if id(chosen) not in slot:
            slot[id(chosen)] = len(unique)
            unique.append(chosen)
        index[i] = slot[id(chosen)]
    return unique, index


def _float_or_nan(value: Decimal | None) -> float:
    return float(value) if value is not None else np.nan


def _policy_arrays(
    unique: list[RebalancePolicy], index: np.ndarray, last_calendar: np.ndarray
) -> policy.Policies:
    """Per-portfolio arrays from the distinct policies and each portfolio's `index` into them
    (each distinct policy is converted once)."""

    def arr(values: Iterable[object], dtype: object = float) -> np.ndarray:
        return np.array(list(values), dtype=dtype)[index]

    return policy.Policies(
        frequency=arr((r.calendar_frequency for r in unique), object),
        calendar_day=arr((r.calendar_day for r in unique), int),
        absolute_band=arr(_float_or_nan(r.absolute_band) for r in unique),
        relative_band=arr(_float_or_nan(r.relative_band) for r in unique),
        cash_flow=arr((r.cash_flow_enabled for r in unique), bool),
        volatility_adjusted=arr((r.volatility_adjusted for r in unique), bool),
        full=arr((r.rebalance_to == RebalancePolicy.Target.FULL for r in unique), bool),
        min_trade=arr(float(r.min_trade_amount) for r in unique),
        cash_buffer=arr(float(r.cash_buffer) for r in unique),
        allow_short_term_gains=arr((r.allow_short_term_gains for r in unique), bool),
        max_tax_cost=arr(_float_or_nan(r.max_tax_cost) for r in unique),
        last_calendar=last_calendar,
    )


def _last_calendar(span: IdRange) -> dict[int, dt.date]:
    """Local date the newest decided calendar-rule rebalance proposal was made, per portfolio."""
    # A pending calendar proposal is refreshed by each check until the investor decides, so
    # only decided (or executed) ones satisfy the schedule.
    rows = (
        Proposal.objects.filter(
            portfolio_id__gte=span[0],
            portfolio_id__lte=span[1],
            kind=Proposal.Kind.REBALANCE,
            rule="calendar",
        )
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
    return {pid: clock.local_date(newest) for pid, newest in rows}


def _recent_purchases(accounts: dict[int, int], today: dt.date) -> set[tuple[int, int]]:
    """(household, security) with a lot acquired in the past 30 days in any of its accounts
    (`accounts`: {portfolio id: household}): selling a lot of that security at a loss now
    would be a wash sale."""
    since = today - dt.timedelta(days=WASH_WINDOW_DAYS)
    rows = (
        TaxLot.objects.filter(
            portfolio_id__any=Ids(accounts), acquired_on__gte=since, acquired_on__lte=today
        )
        .order_by()
        .values_list("portfolio_id", "security_id")
        .distinct()
    )
    return {(accounts[pid], sid) for pid, sid in rows}


def load_for_trading(batch: DriftBatch, rows: np.ndarray, *, today: dt.date) -> None:
    """What only the portfolios that may trade (`rows`, indices into the batch; a small share
    of a scan batch) need, for their households: the wash-sale guard (`blocked_sells`,
    `no_buy`) and the investors' tax rates (`short_term_rate`, `long_term_rate` [P], the
    profile defaults elsewhere). Six to nine queries, none when `rows` is empty."""
    households = sorted(set(batch.owners[rows].tolist()))
    if not households:
        return
    accounts = selectors_harvest.household_accounts(households)
    # A purchase in the household in the past 30 days, or a dividend reinvested from now on,
    # of the security or one substantially identical to it: a loss sale would be a wash sale.
    purchases = _recent_purchases(accounts, today) | set(
        selectors_harvest.dividend_reinvestments(households, accounts=accounts)
    )
    batch.blocked_sells = selectors_harvest.expand_identical(
        purchases, *selectors_harvest.group_members()
    )
    batch.no_buy = selectors_harvest.blocked_purchases(households, today, accounts=accounts)
    rates = {
        user: (float(st), float(lt))
        for user, st, lt in InvestorProfile.objects.filter(user_id__any=Ids(households))
        .order_by()
        .values_list("user_id", "short_term_tax_rate", "long_term_tax_rate")
    }
    if rates:
        short, long = batch.short_term_rate.copy(), batch.long_term_rate.copy()
        for i in rows.tolist():
            if (found := rates.get(int(batch.owners[i]))) is not None:
                short[i], long[i] = found
        batch.short_term_rate, batch.long_term_rate = short, long


def load_drift_batch(portfolio_ids: Iterable[int], *, today: dt.date) -> DriftBatch:
    """Load one batch: portfolios, lots, targets, securities, latest prices, policies, the last
    calendar proposal and, when a policy asks for it, the price history for volatility-adjusted
    bands. A fixed number of queries. The wash-sale guard comes later, for the portfolios that
    may trade (`load_for_trading`)."""
    ids = sorted({int(i) for i in portfolio_ids})
    span: IdRange = (ids[0], ids[-1]) if ids else (0, -1)
    portfolios = _portfolios(ids, span)
    ids = [p[0] for p in portfolios]
    lots = _lots(ids, span)
    targets = _targets(portfolios, span)
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
    k_index = {code: i for i, code in enumerate(codes)}
    security_arr = np.array([s[0] for s in securities], dtype=np.int64)
    price_arr = prices["close"].reindex(security_arr).to_numpy(dtype=float) if n_s else np.zeros(0)
    price_dates = (
        pd.to_datetime(prices["date"].reindex(security_arr)).to_numpy(dtype="datetime64[D]")
        if n_s
        else np.zeros(0, dtype="datetime64[D]")
    )

    # ids -> row / column indices (both id arrays are sorted)
    id_arr = np.array(ids, dtype=np.int64)
    lp = np.searchsorted(id_arr, lots["portfolio_id"].to_numpy())
    ls = np.searchsorted(security_arr, lots["security_id"].to_numpy())
    quantity = np.bincount(
        lp * n_s + ls, weights=lots["quantity"].to_numpy(), minlength=n_p * n_s
    ).reshape(n_p, n_s)

    target = np.zeros((n_p, n_k))
    target_security = np.full((n_p, n_k), -1)
    if len(targets):
        tp = np.searchsorted(id_arr, targets["portfolio_id"].to_numpy(dtype=np.int64))
        tk = targets["asset_class"].map(k_index).to_numpy(dtype=int)
        target[tp, tk] = targets["weight"].to_numpy(dtype=float)
        target_security[tp, tk] = np.searchsorted(
            security_arr, targets["security_id"].to_numpy(dtype=np.int64)
        )
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
    unique_policies, policy_index = _policies(portfolios, span)
    calendars = any(r.calendar_frequency != RebalancePolicy.Frequency.NONE for r in unique_policies)
    last = _last_calendar(span) if calendars else {}
    last_calendar = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    if last:
        for i, pk in enumerate(ids):
            if pk in last:
                last_calendar[i] = np.datetime64(last[pk], "D")
    policies = _policy_arrays(unique_policies, policy_index, last_calendar)
    engine_lots = trades.Lots(
        portfolio=lp,
        security=ls,
        lot_id=lots["lot_id"].to_numpy(dtype=np.int64),
        quantity=lots["quantity"].to_numpy(dtype=float),
        cost_basis=lots["cost_basis"].to_numpy(dtype=float),
        holding_start=lots["holding_start"].to_numpy(dtype="datetime64[D]"),
        household=owners[lp] if n_p else np.zeros(0, dtype=np.int64),
    )
    vol_scale = None
    if policies.volatility_adjusted.any() and n_k:
        vol_scale = _volatility_scale(codes, target_security, security_arr, today)
    auto = np.array([_float_or_nan(r.auto_approve_cash_flow_below) for r in unique_policies])[
        policy_index
    ]
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
        vol_scale=vol_scale,
        cash_text={p[0]: p[2] for p in portfolios},
        lot_portfolio=lots["portfolio_id"].to_numpy(dtype=np.int64),
        auto_approve_below=auto,
        short_term_rate=np.full(len(ids), DEFAULT_SHORT_TERM_RATE),
        long_term_rate=np.full(len(ids), DEFAULT_LONG_TERM_RATE),
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
    history = portfolio_selectors.price_frame(
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
