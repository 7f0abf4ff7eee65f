"""Set-based loaders for the drift check: everything one batch of portfolios needs, in a fixed
number of queries however many portfolios the batch holds (about 12; see `load_drift_batch`).
Decimal columns become float64 here; the engine never sees a model instance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
from django.db.models import Max

from accounts.models import InvestorProfile
from advisor.core import clock
from advisor.core.lookups import Ids
from portfolios import selectors as portfolio_selectors
from portfolios.models import AssetClass, ModelAllocation, Portfolio, Security, TargetAllocation
from rebalancing.engine import drift, policy, trades
from rebalancing.engine import tax as tax_engine
from rebalancing.models import Proposal, RebalancePolicy, WithdrawalRequest
from rebalancing.selectors import harvest, holdings, lots
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax as tax_selectors

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
    groups: portfolio_selectors.IdenticalGroups = field(
        default_factory=portfolio_selectors.IdenticalGroups
    )
    no_buy: set[tuple[int, int]] = field(default_factory=set)
    vol_scale: np.ndarray | None = None
    cash_text: dict[int, Decimal] = field(default_factory=dict)
    lot_portfolio: np.ndarray | None = None  # [L] portfolio id of each lot, sorted
    # Open withdrawal requests: [P] cash to raise, and {portfolio id: request id}.
    withdrawal: np.ndarray | None = None
    withdrawal_requests: dict[int, int] = field(default_factory=dict)

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
        held: list[tuple[int, str]] = []
        if self.lot_portfolio is not None and len(self.lot_portfolio):
            lo, hi = np.searchsorted(self.lot_portfolio, [portfolio_id, portfolio_id + 1])
            held = [
                (lot_id, f"{q:.8f}")
                for lot_id, q in zip(
                    self.lots.lot_id[lo:hi].tolist(),
                    self.lots.quantity[lo:hi].tolist(),
                    strict=True,
                )
            ]
        return holdings.fingerprint_of(self.cash_text[portfolio_id], held)

    auto_approve_below: np.ndarray | None = None
    switch_back_max_gain: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P] NaN: never
    # The tax year of each portfolio's household [P] (`selectors.tax`; rates 0 in an IRA).
    short_term_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    long_term_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    realised_short_term: np.ndarray = field(default_factory=lambda: np.zeros(0))
    realised_long_term: np.ndarray = field(default_factory=lambda: np.zeros(0))
    carry_short: np.ndarray = field(default_factory=lambda: np.zeros(0))
    carry_long: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_limit: np.ndarray = field(default_factory=lambda: np.zeros(0))
    relief: np.ndarray = field(default_factory=lambda: np.zeros(0))  # lots.RELIEF_CODES

    def __post_init__(self) -> None:
        # Until `load_for_trading` reads the households' tax years: nothing realised yet.
        n = len(self.book.portfolio_ids)
        for name in (
            "realised_short_term", "realised_long_term", "carry_short", "carry_long", "relief",
        ):  # fmt: skip
            if len(getattr(self, name)) != n:
                setattr(self, name, np.zeros(n))
        if len(self.loss_limit) != n:
            self.loss_limit = np.full(n, tax_engine.LOSS_LIMIT)


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


def _lots(ids: Sequence[int], span: IdRange) -> pd.DataFrame:
    """Open lots of the batch, ordered by (portfolio, lot id): sorted here, which is cheaper
    than in the database."""
    frame = lots.open_lots(span)
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


def _float_or_nan(value: Decimal | None) -> float:
    return float(value) if value is not None else np.nan


def _policy_arrays(
    unique: list[RebalancePolicy], index: np.ndarray, last_calendar: np.ndarray
) -> policy.Policies:
    """Per-portfolio arrays from the distinct policies and each portfolio's `index` into them
    (each distinct policy is converted once)."""
    distinct = policy_selectors.engine_policies(unique)
    return replace(
        distinct,
        **{
            name: getattr(distinct, name)[index]
            for name in distinct.__dataclass_fields__
            if name != "last_calendar"
        },
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


def load_for_trading(batch: DriftBatch, rows: np.ndarray, *, today: dt.date) -> None:
    """What only the portfolios that may trade (`rows`, indices into the batch; a small share
    of a scan batch) need, for their households: the wash-sale guard (`blocked_sells`,
    `no_buy`) and the investors' tax rates (`short_term_rate`, `long_term_rate` [P], the
    profile defaults elsewhere). Six to nine queries, none when `rows` is empty."""
    households = sorted(set(batch.owners[rows].tolist()))
    if not households:
        return
    accounts = harvest.household_accounts(households)
    # A purchase in the household in the past 30 days, or a dividend reinvested from now on,
    # of the security or one substantially identical to it: a loss sale would be a wash sale.
    groups = portfolio_selectors.identical_groups()
    purchases = {(u, s) for u, s, _ in harvest.recent_purchases(accounts, today)}
    purchases |= set(harvest.dividend_reinvestments(households, accounts=accounts))
    batch.groups = groups
    batch.blocked_sells = groups.expand(purchases)
    batch.no_buy = harvest.blocked_purchases(households, today, accounts=accounts, groups=groups)
    _load_tax_years(batch, rows, households, today=today)


def _load_tax_years(
    batch: DriftBatch, rows: np.ndarray, households: list[int], *, today: dt.date
) -> None:
    """Each trading portfolio's tax year (`selectors.tax.households`): the investor's combined
    rates, what the household realised this year, the carryovers and the loss limit; a
    tax-advantaged account (an IRA) pays no tax on its sales: rates 0."""
    years = tax_selectors.households(households, year=today.year)
    taxable_ids = set(
        Portfolio.objects.filter(
            pk__any=Ids(batch.book.portfolio_ids[rows].tolist()),
            tax_treatment=Portfolio.TaxTreatment.TAXABLE,
        ).values_list("pk", flat=True)
    )
    owners = batch.owners[rows]
    taxable = np.isin(batch.book.portfolio_ids[rows], list(taxable_ids))
    columns = {
        "short_term_rate": "short_rate", "long_term_rate": "long_rate",
        "realised_short_term": "realised_short", "realised_long_term": "realised_long",
        "carry_short": "carry_short", "carry_long": "carry_long", "loss_limit": "limit",
        "relief": "relief",
    }  # fmt: skip
    for attribute, column in columns.items():
        values = getattr(batch, attribute).copy()
        found = years[column].reindex(owners).to_numpy(dtype=float)
        values[rows] = np.where(taxable, found, 0.0) if attribute.endswith("rate") else found
        setattr(batch, attribute, values)


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
    securities, prices = _securities(lots, targets, today)
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
    target, target_security = _target_matrices(targets, id_arr, security_arr, k_index, n_p, n_k)

    missing, prices_as_of = _price_coverage(quantity, target_security, price_arr, price_dates)
    safe_prices = np.where(np.isnan(price_arr), 1.0, price_arr)
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
    unique_policies, policy_index = policy_selectors.distinct_policies(
        [(p[0], p[3]) for p in portfolios], span=span
    )
    policies = _policy_arrays(
        unique_policies, policy_index, _last_calendars(unique_policies, ids, span)
    )
    engine_lots = _engine_lots(lots, lp, ls, owners)
    adjusted = bool(policies.volatility_adjusted.any()) and n_k > 0
    vol_scale = _volatility_scale(codes, target_security, security_arr, today) if adjusted else None

    def per_portfolio(name: str) -> np.ndarray:
        return np.array([_float_or_nan(getattr(r, name)) for r in unique_policies])[policy_index]

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
        auto_approve_below=per_portfolio("auto_approve_cash_flow_below"),
        switch_back_max_gain=per_portfolio("switch_back_max_gain"),
        short_term_rate=np.full(len(ids), DEFAULT_SHORT_TERM_RATE),
        long_term_rate=np.full(len(ids), DEFAULT_LONG_TERM_RATE),
    )


def load_withdrawals(batch: DriftBatch) -> None:
    """Fill in the batch's open withdrawal requests (one query over the id range): the cash
    each portfolio must raise [P] and which request it pays."""
    id_arr = batch.book.portfolio_ids
    span = (int(id_arr[0]), int(id_arr[-1])) if len(id_arr) else (0, -1)
    wanted = set(id_arr.tolist())
    rows = [
        (pid, pk, amount)
        for pid, pk, amount in WithdrawalRequest.objects.filter(
            portfolio_id__gte=span[0],
            portfolio_id__lte=span[1],
            status=WithdrawalRequest.Status.OPEN,
        ).values_list("portfolio_id", "pk", "amount")
        if pid in wanted
    ]
    amounts = np.zeros(len(id_arr))
    for pid, _pk, amount in rows:
        amounts[np.searchsorted(id_arr, pid)] += float(amount)
    batch.withdrawal = amounts
    batch.withdrawal_requests = {pid: pk for pid, pk, _a in rows}


def _securities(
    lots: pd.DataFrame, targets: pd.DataFrame, today: dt.date
) -> tuple[list[tuple[int, str, str, bool]], pd.DataFrame]:
    """The securities held or targeted (id, ticker, asset class code, fractional), by id, and
    their latest prices on `today`."""
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
    return securities, prices


def _engine_lots(
    lots: pd.DataFrame, lp: np.ndarray, ls: np.ndarray, owners: np.ndarray
) -> trades.Lots:
    """The batch's lots for the engine: rows `lp` of the book, columns `ls`."""
    return trades.Lots(
        portfolio=lp,
        security=ls,
        lot_id=lots["lot_id"].to_numpy(dtype=np.int64),
        quantity=lots["quantity"].to_numpy(dtype=float),
        cost_basis=lots["cost_basis"].to_numpy(dtype=float),
        holding_start=lots["holding_start"].to_numpy(dtype="datetime64[D]"),
        household=owners[lp] if len(owners) else np.zeros(0, dtype=np.int64),
    )


def _target_matrices(
    targets: pd.DataFrame,
    id_arr: np.ndarray,
    security_arr: np.ndarray,
    k_index: dict[str, int],
    n_p: int,
    n_k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Target weights [P, K] (rows normalised) and the security bought for each class [P, K]
    (an index into `security_arr`, -1 for none)."""
    target = np.zeros((n_p, n_k))
    target_security = np.full((n_p, n_k), -1)
    if len(targets):
        tp = np.searchsorted(id_arr, targets["portfolio_id"].to_numpy(dtype=np.int64))
        tk = targets["asset_class"].map(k_index).to_numpy(dtype=int)
        target[tp, tk] = targets["weight"].to_numpy(dtype=float)
        target_security[tp, tk] = np.searchsorted(
            security_arr, targets["security_id"].to_numpy(dtype=np.int64)
        )
    return drift.normalise_targets(target), target_security


def _price_coverage(
    quantity: np.ndarray,
    target_security: np.ndarray,
    price_arr: np.ndarray,
    price_dates: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per portfolio: missing a price for a held or target security (not checked then), and
    the oldest price date it uses."""
    n_p, n_s = quantity.shape
    uses = quantity > 0
    tp_rows, tp_cols = np.nonzero(target_security >= 0)
    uses[tp_rows, target_security[tp_rows, tp_cols]] = True
    priced = ~np.isnan(price_arr)
    missing = np.asarray(
        (uses & ~priced[None, :]).any(axis=1) if n_s else np.zeros(n_p), dtype=bool
    )
    dates_matrix = (
        np.where(uses, price_dates[None, :], np.datetime64("NaT"))
        if n_s
        else np.zeros((n_p, 0), "datetime64[D]")
    )
    return missing, _nanmin_dates(dates_matrix)


def _last_calendars(
    unique_policies: list[RebalancePolicy], ids: list[int], span: IdRange
) -> np.ndarray:
    """Per portfolio: the day of its last calendar rebalance (NaT when none, or when no policy
    of the batch is on a calendar)."""
    last_calendar = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    if any(r.calendar_frequency != RebalancePolicy.Frequency.NONE for r in unique_policies):
        last = _last_calendar(span)
        for i, pk in enumerate(ids):
            if pk in last:
                last_calendar[i] = np.datetime64(last[pk], "D")
    return last_calendar


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
