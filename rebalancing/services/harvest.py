"""The harvest scan: find lots worth harvesting, guard against wash sales, propose the trades.

`scan_for_harvest(user_ids=..., on=...)` is one set-based pass over the households given (all
when None): a fixed number of queries loads every open lot of their taxable accounts, the
engine (`rebalancing.engine.harvest`) finds the positions whose loss passes the thresholds and
decides, household by household, which can be harvested without a wash sale and what each buys
instead; the proposals are written through the shared machinery
(`rebalancing.services.proposals.write_proposals`, idempotent). Skipped candidates are recorded
in `HarvestSkip` with their reason.

The household is the unit: a scan batch always holds whole households, because the wash-sale
guard looks at every account of the investor (IRAs included).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Max, Min

from advisor.core import clock
from advisor.lookups import Ids
from portfolios import selectors
from portfolios.models import Portfolio, Security, TaxLot
from rebalancing import selectors_harvest
from rebalancing.engine import harvest as engine
from rebalancing.models import (
    HarvestSkip,
    IdenticalGroupMember,
    Proposal,
    ProposedTrade,
    ReplacementPair,
    ScanRun,
    SubstantiallyIdenticalGroup,
)
from rebalancing.services import proposals

SHARE = Decimal("0.00000001")
WINDOW = dt.timedelta(days=30)
EPOCH = dt.date(1970, 1, 1)

SKIP_MESSAGES = {
    engine.RECENT_PURCHASE: "Not harvested: {ticker} (or a substantially identical fund) was bought in one of "
    "your accounts in the past 30 days, so selling it at a loss now would be a wash sale.",
    engine.SCHEDULED_PURCHASE: "Not harvested: a purchase of {ticker} (or a substantially identical fund) is "
    "scheduled in your accounts, which would make the loss a wash sale.",
    # Ex-dividend dates are not modelled: a security held in a reinvesting account always counts.
    engine.DIVIDEND_REINVESTMENT: "Not harvested: dividends of {ticker} (or a substantially "
    "identical fund) are reinvested automatically in your account '{account}', and a reinvested "
    "dividend would make the loss a wash sale; turn reinvestment off for that account to harvest it.",
    engine.NO_REPLACEMENT: "Not harvested: no replacement for {ticker} is available that keeps the exposure "
    "without a wash sale.",
}


def trading_costs() -> tuple[float, float]:
    """(commission per trade in currency, spread/slippage in basis points) assumed for a harvest."""
    return float(settings.ADVISOR_PAPER_COMMISSION), float(settings.ADVISOR_PAPER_SLIPPAGE_BPS)


# --- loading ---------------------------------------------------------------------------------

LOT_DTYPES = {
    "lot_id": np.int64,
    "portfolio_id": np.int64,
    "owner_id": np.int64,
    "security_id": np.int64,
    "quantity": np.float64,
    "cost_basis": np.float64,
    "holding_start": np.int64,
}
LOT_COLUMNS = list(LOT_DTYPES)


def lots_sql(*, owner_range: bool) -> str:
    """Open lots of active taxable portfolios (dates as days since 1970-01-01, money as float8)."""
    where = (
        "AND p.owner_id BETWEEN %s AND %s"
        if owner_range
        else "AND p.owner_id IN (SELECT unnest(%s::bigint[]))"
    )
    return (
        "SELECT l.id, l.portfolio_id, p.owner_id, l.security_id, l.quantity::float8, "  # noqa: S608 - table and column names only; values are parameters
        "l.cost_basis::float8, (l.holding_start - DATE '1970-01-01')::int8 "
        f"FROM {TaxLot._meta.db_table} l JOIN {Portfolio._meta.db_table} p ON p.id = l.portfolio_id "
        f"WHERE l.quantity > 0 AND p.is_active AND p.tax_treatment = 'taxable' {where}"
    )


def load_lots(
    *, user_ids: list[int] | None = None, owner_range: tuple[int, int] | None = None
) -> pd.DataFrame:
    """Open taxable lots of the given households as a DataFrame (columns LOT_COLUMNS).

    On PostgreSQL the rows stream through a binary COPY straight into numpy arrays
    (`portfolios.selectors.copy_frame`); elsewhere a plain cursor is used.
    """
    if owner_range is not None:
        # The span of the households' portfolio ids is redundant for the result but lets
        # PostgreSQL read just their lots through the index: on the owner range alone it
        # scans every lot in the database for each batch.
        span = Portfolio.objects.filter(
            owner_id__gte=owner_range[0],
            owner_id__lte=owner_range[1],
            is_active=True,
            tax_treatment=Portfolio.TaxTreatment.TAXABLE,
        ).aggregate(first=Min("id"), last=Max("id"))
        if span["first"] is None:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in LOT_DTYPES.items()})
        params: list[Any] = [*owner_range, span["first"], span["last"]]
        sql = lots_sql(owner_range=True) + " AND l.portfolio_id BETWEEN %s AND %s"
    else:
        params = [list(user_ids or [])]
        sql = lots_sql(owner_range=False)
    if connection.vendor == "postgresql":
        return selectors.copy_frame(sql, params, LOT_DTYPES)
    # SQLite (the embedded default): portable SQL through the ORM.
    qs = TaxLot.objects.filter(
        quantity__gt=0,
        portfolio__is_active=True,
        portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
    )
    if owner_range is not None:
        qs = qs.filter(
            portfolio__owner_id__gte=owner_range[0], portfolio__owner_id__lte=owner_range[1]
        )
    else:
        qs = qs.filter(portfolio__owner_id__in=user_ids or [])
    rows = list(
        qs.values_list(
            "id",
            "portfolio_id",
            "portfolio__owner_id",
            "security_id",
            "quantity",
            "cost_basis",
            "holding_start",
        )
    )
    frame = pd.DataFrame(rows, columns=LOT_COLUMNS)
    frame["quantity"] = frame["quantity"].astype(float)
    frame["cost_basis"] = frame["cost_basis"].astype(float)
    frame["holding_start"] = [(d - EPOCH).days for d in frame["holding_start"]]
    return frame


def _recent_purchases(
    accounts: dict[int, int], on: dt.date, key_of: dict[int, int]
) -> dict[tuple[int, int], set[int]]:
    """(household, group key) -> ids of lots acquired in the past 30 days in ANY account of the
    households (`accounts`: {portfolio id: household}, IRAs included)."""
    rows = (
        TaxLot.objects.filter(portfolio_id__any=Ids(accounts), acquired_on__range=(on - WINDOW, on))
        .order_by()
        .values_list("id", "portfolio_id", "security_id")
    )
    out: dict[tuple[int, int], set[int]] = {}
    for lot_id, portfolio_id, sid in rows:
        out.setdefault((accounts[portfolio_id], key_of.get(sid, sid)), set()).add(lot_id)
    return out


# --- the scan --------------------------------------------------------------------------------


@dataclass
class PositionInfo:
    """A harvestable position: whose, where, which security, and its lots [(lot id, shares)]."""

    owner: int
    portfolio: int
    security: int
    lots: list[tuple[int, float]]


@dataclass
class ScanResult:
    households: int = 0
    portfolios: int = 0
    lots: int = 0
    candidates: int = 0
    drafts: list[proposals.ProposalDraft] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    kept: int = 0


def scan_for_harvest(
    *,
    user_ids: Iterable[int] | None = None,
    owner_range: tuple[int, int] | None = None,
    on: dt.date | None = None,
    dry_run: bool = False,
    scan_run_id: int | None = None,
) -> ScanResult:
    """Scan the households (`user_ids`, or an inclusive owner-id range, or all) and write harvest
    proposals; with `dry_run` compute everything and write nothing. Idempotent: a second run on
    unchanged data keeps the pending proposals (same content) and writes nothing new.
    """
    on = on or clock.today()
    if user_ids is None and owner_range is None:
        owner_range = (0, 2**62)
    ids = None if user_ids is None else sorted(set(user_ids))
    frame = load_lots(user_ids=ids, owner_range=owner_range)
    result = ScanResult(lots=len(frame))
    if ids is None:
        scanned = Portfolio.objects.filter(
            owner_id__gte=owner_range[0],
            owner_id__lte=owner_range[1],
            is_active=True,
            tax_treatment=Portfolio.TaxTreatment.TAXABLE,
        )
    else:
        scanned = Portfolio.objects.filter(
            owner_id__in=ids, is_active=True, tax_treatment=Portfolio.TaxTreatment.TAXABLE
        )
    result.portfolios = scanned.count()
    # Only portfolios with a pending harvest need retiring when nothing is proposed any more;
    # the writer locks exactly those plus the ones it writes.
    pending = list(
        Proposal.objects.filter(
            portfolio__in=scanned, kind=Proposal.Kind.HARVEST, status=Proposal.Status.PENDING
        ).values_list("portfolio_id", flat=True)
    )
    result.households = int(frame["owner_id"].nunique()) if len(frame) else 0
    if frame.empty:
        _write(result, [], pending, dry_run=dry_run, scan_run_id=scan_run_id, on=on)
        return result

    owner_ids = frame["owner_id"].to_numpy()
    setting = selectors_harvest.settings_frame(owner_ids, owner_range=owner_range)
    # Each lot's row of `setting` (its index is sorted), as plain numpy takes.
    row = np.searchsorted(setting.index.to_numpy(), owner_ids)
    enabled = setting["enabled"].to_numpy(dtype=bool)[row]
    if not enabled.all():
        frame, row = frame[enabled], row[enabled]

    def per_lot(column: str) -> np.ndarray:
        return setting[column].to_numpy(dtype=float)[row]

    prices = selectors.latest_prices(frame["security_id"].unique(), on=on)
    price = frame["security_id"].map(prices["close"]).to_numpy(dtype=float)
    # A position (security in a portfolio) as one int64 key.
    position = frame["portfolio_id"].to_numpy() * 10_000_000 + frame["security_id"].to_numpy()
    commission, bps = trading_costs()
    found = engine.scan(
        position=position,
        quantity=frame["quantity"].to_numpy(),
        cost_basis=frame["cost_basis"].to_numpy(),
        price=price,
        holding_start=frame["holding_start"].to_numpy().astype("datetime64[D]"),
        on=np.datetime64(on, "D"),
        taxable=np.ones(len(frame), dtype=bool),
        st_rate=per_lot("st_rate"),
        lt_rate=per_lot("lt_rate"),
        min_loss_fraction=per_lot("min_loss_fraction"),
        min_loss_amount=per_lot("min_loss_amount"),
        min_net_benefit=per_lot("min_net_benefit"),
        commission=commission,
        cost_bps=bps,
    )
    pos = found.positions
    result.candidates = int(pos.key.size)
    if not pos.key.size:
        _write(result, [], pending, dry_run=dry_run, scan_run_id=scan_run_id, on=on)
        return result

    # Only the few candidate positions leave numpy from here on: their lots, grouped by
    # position in the same (sorted) order as `pos.key`.
    sel_pos = position[found.selected]
    order = np.argsort(sel_pos, kind="stable")
    cols = {
        c: frame[c].to_numpy()[found.selected][order]
        for c in ("lot_id", "portfolio_id", "owner_id", "security_id", "quantity")
    }
    _, starts = np.unique(sel_pos[order], return_index=True)
    bounds = np.append(starts, order.size)
    infos = [
        PositionInfo(
            owner=int(cols["owner_id"][a]),
            portfolio=int(cols["portfolio_id"][a]),
            security=int(cols["security_id"][a]),
            lots=list(
                zip(cols["lot_id"][a:b].tolist(), cols["quantity"][a:b].tolist(), strict=True)
            ),
        )
        for a, b in itertools.pairwise(bounds.tolist())
    ]
    key_of, _members = selectors_harvest.group_members()
    cand_portfolios = sorted({i.portfolio for i in infos})
    cand_owners = sorted({i.owner for i in infos})
    # The wash-sale guard reads every account of the candidates' households (a few thousand
    # per batch), by their ids.
    accounts = selectors_harvest.household_accounts(cand_owners)
    scheduled = selectors_harvest.scheduled_purchases(
        cand_owners, accounts=accounts, exclude_pending_harvest_of=cand_portfolios
    )
    blocked = selectors_harvest.blocked_purchases(cand_owners, on, accounts=accounts)
    replacements = selectors_harvest.replacements()
    needed = {r for rs in replacements.values() for r in rs}
    repl_prices = selectors.latest_prices(needed, on=on) if needed else prices.iloc[0:0]
    # (household, group) -> the account reinvesting its dividends (for the skip message).
    reinvesting = {(u, key_of.get(s, s)): name for (u, s), name in scheduled.items() if name}
    candidates = [
        engine.Candidate(
            household=info.owner,
            portfolio=info.portfolio,
            security=info.security,
            benefit=float(b),
            lots=frozenset(lot for lot, _ in info.lots),
        )
        for info, b in zip(infos, pos.benefit, strict=True)
    ]
    decisions = engine.resolve(
        candidates,
        group_of=key_of,
        recent_purchases=_recent_purchases(accounts, on, key_of),
        scheduled_purchases={(u, key_of.get(s, s)) for u, s in scheduled},
        blocked_buys={(u, key_of.get(s, s)) for u, s in blocked},
        replacements=replacements,
        priced=set(repl_prices.index.tolist()),
        reinvested=set(reinvesting),
    )
    drafts = _drafts(
        decisions,
        pos,
        infos,
        prices,
        repl_prices,
        setting,
        on,
        result,
        key_of=key_of,
        reinvesting=reinvesting,
    )
    _write(result, drafts, pending, dry_run=dry_run, scan_run_id=scan_run_id, on=on)
    return result


def _drafts(
    decisions: engine.Decisions,
    pos: engine.Positions,
    infos: list[PositionInfo],
    prices: pd.DataFrame,
    repl_prices: pd.DataFrame,
    setting: pd.DataFrame,
    on: dt.date,
    result: ScanResult,
    *,
    key_of: dict[int, int],
    reinvesting: dict[tuple[int, int], str],
) -> list[proposals.ProposalDraft]:
    index = {(info.portfolio, info.security): i for i, info in enumerate(infos)}
    close = {int(k): v for k, v in prices["close"].items()}
    close |= {int(k): v for k, v in repl_prices["close"].items()}
    dated = {int(k): v for k, v in prices["date"].items()}
    dated |= {int(k): v for k, v in repl_prices["date"].items()}
    tickers = dict(
        Security.objects.filter(
            pk__in={s for _, s in index} | set(decisions.accepted.values())
        ).values_list("pk", "ticker")
    )
    fractional = dict(
        Security.objects.filter(pk__in=set(decisions.accepted.values())).values_list(
            "pk", "allows_fractional"
        )
    )
    for (pid, sid), reason in decisions.skipped.items():
        i = index[(pid, sid)]
        account = reinvesting.get((infos[i].owner, key_of.get(sid, sid)), "")
        result.skipped.append(
            {
                "portfolio_id": pid,
                "security_id": sid,
                "reason": reason,
                "message": SKIP_MESSAGES[reason].format(
                    ticker=tickers.get(sid, sid), account=account
                ),
                "loss": proposals.money(pos.loss_short[i] + pos.loss_long[i]),
            }
        )
    per_portfolio: dict[int, list[tuple[int, int]]] = {}
    for (pid, sid), rid in sorted(decisions.accepted.items()):
        per_portfolio.setdefault(pid, []).append((sid, rid))
    if not per_portfolio:
        return []
    fingerprints = proposals.holdings_fingerprint(per_portfolio)
    owner_of = {pid: infos[index[(pid, items[0][0])]].owner for pid, items in per_portfolio.items()}
    wanted = sorted(set(owner_of.values()))
    st_rate = dict(zip(wanted, setting["st_rate"].reindex(wanted).tolist(), strict=True))
    lt_rate = dict(zip(wanted, setting["lt_rate"].reindex(wanted).tolist(), strict=True))
    # Python floats, converted once (numpy scalars are slow to index and format one by one).
    loss_short, loss_long = pos.loss_short.tolist(), pos.loss_long.tolist()
    basis, tax_value = pos.basis.tolist(), pos.tax_value.tolist()
    cost, benefit, value = pos.cost.tolist(), pos.benefit.tolist(), pos.value.tolist()
    skipped_by_portfolio: dict[int, list[dict[str, str]]] = {}
    for s in result.skipped:
        skipped_by_portfolio.setdefault(s["portfolio_id"], []).append(
            {k: str(v) for k, v in s.items() if k in ("security_id", "reason", "message", "loss")}
        )
    drafts = []
    for pid, items in per_portfolio.items():
        trades: list[proposals.TradeDraft] = []
        harvests, reasons = [], []
        totals = {"st": 0.0, "lt": 0.0, "tax": 0.0, "cost": 0.0, "value": 0.0}
        dates: list[dt.date] = []
        owner = owner_of[pid]
        rates = {"st_rate": st_rate[owner], "lt_rate": lt_rate[owner]}
        for sid, rid in items:
            i = index[(pid, sid)]
            qty = Decimal("0")
            picks = []
            for lot_id, q in sorted(infos[i].lots):
                dq = Decimal(repr(float(q))).quantize(SHARE, rounding=ROUND_HALF_UP)
                qty += dq
                picks.append({"lot": int(lot_id), "quantity": str(dq)})
            sell_price = Decimal(str(close[sid]))
            buy_price = Decimal(str(close[rid]))
            dates += [dated[sid], dated[rid]]
            proceeds = qty * sell_price
            buy_qty = proceeds / buy_price
            buy_qty = (
                buy_qty.quantize(SHARE, rounding=ROUND_DOWN)
                if fractional.get(rid, True)
                else buy_qty.to_integral_value(rounding=ROUND_DOWN)
            )
            half_cost = cost[i] / 2
            trades.append(
                proposals.TradeDraft(
                    security_id=sid,
                    side=ProposedTrade.Side.SELL,
                    quantity=qty,
                    price=sell_price,
                    lots=picks,
                    est_short_term_gain=proposals.money(-loss_short[i]),
                    est_long_term_gain=proposals.money(-loss_long[i]),
                    est_cost=proposals.money(half_cost),
                    sequence=0,
                )
            )
            if buy_qty > 0:
                trades.append(
                    proposals.TradeDraft(
                        security_id=rid,
                        side=ProposedTrade.Side.BUY,
                        quantity=buy_qty,
                        price=buy_price,
                        est_cost=proposals.money(half_cost),
                        sequence=1,
                    )
                )
            loss = float(loss_short[i] + loss_long[i])
            ticker, repl = tickers.get(sid, str(sid)), tickers.get(rid, str(rid))
            harvests.append(
                {
                    "security": ticker,
                    "replacement": repl,
                    "lots": len(picks),
                    "loss_short_term": f"{loss_short[i]:.2f}",
                    "loss_long_term": f"{loss_long[i]:.2f}",
                    "loss_pct_of_basis": round(loss / basis[i] * 100, 2) if basis[i] else 0.0,
                    "tax_value": f"{tax_value[i]:.2f}",
                    "cost": f"{cost[i]:.2f}",
                    "net_benefit": f"{benefit[i]:.2f}",
                }
            )
            reasons.append(
                f"{ticker} is {loss:,.2f} below its cost basis; selling these lots realises the loss, worth "
                f"about {tax_value[i]:,.2f} in tax at your rates "
                f"({rates['st_rate']:.0%} short term, {rates['lt_rate']:.0%} long term), and {repl} is "
                "bought for the same value to keep the exposure."
            )
            totals["st"] += loss_short[i]
            totals["lt"] += loss_long[i]
            totals["tax"] += tax_value[i]
            totals["cost"] += cost[i]
            totals["value"] += value[i]
        drafts.append(
            proposals.ProposalDraft(
                portfolio_id=pid,
                rule="harvest",
                reason=" ".join(reasons),
                prices_as_of=min(dates),
                holdings_fingerprint=fingerprints.get(pid, ""),
                trades=trades,
                details={
                    "harvests": harvests,
                    "loss_harvested": f"{totals['st'] + totals['lt']:.2f}",
                    "tax_value": f"{totals['tax']:.2f}",
                    "scanned_on": on.isoformat(),
                    "skipped": skipped_by_portfolio.get(pid, []),
                },
                total_value=proposals.money(totals["value"]),
                est_short_term_gain=proposals.money(-totals["st"]),
                est_long_term_gain=proposals.money(-totals["lt"]),
                est_tax=proposals.money(-totals["tax"]),
                est_cost=proposals.money(totals["cost"]),
            )
        )
    return drafts


def _write(
    result: ScanResult,
    drafts: list[proposals.ProposalDraft],
    pending_portfolios: list[int],
    *,
    dry_run: bool,
    scan_run_id: int | None,
    on: dt.date,
) -> None:
    result.drafts = drafts
    if dry_run:
        return
    with transaction.atomic():
        written = proposals.write_proposals(
            drafts,
            kind=Proposal.Kind.HARVEST,
            scan_run_id=scan_run_id,
            retire_others_for=pending_portfolios,
        )
        result.created, result.kept = len(written.created), len(written.kept)
        if result.skipped:
            HarvestSkip.objects.bulk_create(
                [
                    HarvestSkip(
                        portfolio_id=s["portfolio_id"],
                        security_id=s["security_id"],
                        on=on,
                        reason=s["reason"],
                        message=s["message"][:300],
                        loss=s["loss"],
                        scan_run_id=scan_run_id,
                    )
                    for s in result.skipped
                ],
                update_conflicts=True,
                unique_fields=["portfolio", "security", "on"],
                update_fields=["reason", "message", "loss", "scan_run"],
            )


def wash_sale_check(details: dict[str, Any]) -> str:
    """The wash-sale check a harvest proposal passed, in words (from its stored details)."""
    scanned = dt.date.fromisoformat(details["scanned_on"])
    return " ".join(
        f"No purchase of {h['security']} or a substantially identical security in any of your "
        f"accounts since {scanned - WINDOW:%Y-%m-%d}, none scheduled (dividend reinvestment "
        f"included), and {h['replacement']} was not sold at a loss in the past 30 days. "
        f"Purchases of {h['security']} are blocked in all your accounts for 31 days after the sale."
        for h in details.get("harvests", [])
    )


# --- re-check before execution ---------------------------------------------------------------


def wash_sale_conflict(proposal: Proposal, *, on: dt.date | None = None) -> str | None:
    """Why executing this harvest proposal on `on` would now cause a wash sale, or None.

    For the approval step (call it inside the approval transaction): another account of the
    household may have bought the sold security, turned on dividend reinvestment for an account
    holding it, or sold the replacement at a loss, since the proposal was made.
    """
    on = on or clock.today()
    owner = proposal.portfolio.owner_id
    trades = list(proposal.trades.select_related("security"))
    key_of, _members = selectors_harvest.group_members()
    sold_lots = {int(p["lot"]) for t in trades if t.side == ProposedTrade.Side.SELL for p in t.lots}
    accounts = selectors_harvest.household_accounts([owner])
    recent = _recent_purchases(accounts, on, key_of)
    scheduled = selectors_harvest.scheduled_purchases([owner], accounts=accounts)
    own = set(
        proposal.trades.filter(side=ProposedTrade.Side.BUY).values_list("security_id", flat=True)
    )
    reinvesting = {(u, key_of.get(s, s)): name for (u, s), name in scheduled.items() if name}
    for t in trades:
        if t.side != ProposedTrade.Side.SELL:
            continue
        group = key_of.get(t.security_id, t.security_id)
        if recent.get((owner, group), set()) - sold_lots:
            return "A purchase of the security to be sold was made in the household in the past 30 days."
        if (owner, group) in reinvesting:
            return (
                f"Dividends of {t.security.ticker} (or a substantially identical fund) are "
                f"reinvested automatically in your account '{reinvesting[owner, group]}', which "
                "would make the loss a wash sale; turn reinvestment off for that account to "
                "harvest it."
            )
        others = {(u, key_of.get(s, s)) for u, s in scheduled if s not in own}
        if (owner, group) in others:
            return "Another proposal waiting in the household buys the security this harvest sells."
    blocks = selectors_harvest.blocked_purchases([owner], on, accounts=accounts)
    for t in trades:
        if t.side == ProposedTrade.Side.BUY and (owner, t.security_id) in blocks:
            return "The replacement was sold at a loss in the household in the past 30 days."
    return None


# --- default replacement pairs and identical groups -----------------------------------------

# Pairs keep the asset-class exposure with funds tracking DIFFERENT indexes (so they are not
# substantially identical): CRSP vs S&P Total Market, FTSE vs MSCI, Bloomberg float-adjusted vs
# the Aggregate, and so on. Both directions are seeded, so the investor can harvest back.
DEFAULT_PAIRS = [
    ("VTI", "ITOT"),  # CRSP US Total Market vs S&P Total Market
    ("VTI", "SCHB"),
    ("ITOT", "SCHB"),
    ("VEA", "IEFA"),  # FTSE Developed All Cap ex US vs MSCI EAFE IMI
    ("VWO", "IEMG"),  # FTSE Emerging vs MSCI Emerging IMI
    ("BND", "AGG"),  # Bloomberg US Aggregate Float Adjusted vs US Aggregate
    ("BNDX", "IAGG"),
    ("SCHP", "VTIP"),  # all-maturity vs short-term TIPS
    ("VNQ", "SCHH"),  # MSCI US IMI Real Estate 25/50 vs Dow Jones Equity All REIT
    ("SGOV", "BIL"),  # 0-3 month Treasuries vs 1-3 month T-bills
    ("VOO", "VV"),
]
# Funds that hold the same thing (same index, or the same commodity): never swapped.
DEFAULT_IDENTICAL = [
    ("S&P 500 index funds", ["VOO", "IVV", "SPY", "SPLG"], "Track the same index."),
    ("Physical gold trusts", ["GLD", "IAU", "GLDM", "SGOL"], "Hold the same metal."),
    ("Nasdaq-100 index funds", ["QQQ", "QQQM"], "Track the same index."),
]


@transaction.atomic
def seed_default_replacements() -> dict[str, int]:
    """Idempotent: link the default pairs and identical groups for the securities that exist.

    Existing rows are left as staff edited them; missing tickers are skipped.
    """
    tickers = {t for pair in DEFAULT_PAIRS for t in pair} | {
        t for _, members, _ in DEFAULT_IDENTICAL for t in members
    }
    ids = dict(Security.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
    pairs = 0
    for a, b in DEFAULT_PAIRS:
        if a in ids and b in ids:
            for x, y in ((a, b), (b, a)):
                _, created = ReplacementPair.objects.get_or_create(
                    security_id=ids[x], replacement_id=ids[y], defaults={"priority": 1}
                )
                pairs += created
    groups = 0
    for name, members, note in DEFAULT_IDENTICAL:
        present = [ids[t] for t in members if t in ids]
        if not present:
            continue
        group, created = SubstantiallyIdenticalGroup.objects.get_or_create(
            name=name, defaults={"note": note}
        )
        groups += created
        taken = set(
            IdenticalGroupMember.objects.filter(security_id__in=present).values_list(
                "security_id", flat=True
            )
        )
        IdenticalGroupMember.objects.bulk_create(
            [
                IdenticalGroupMember(group=group, security_id=sid)
                for sid in present
                if sid not in taken
            ]
        )
    return {"pairs_created": pairs, "groups_created": groups}


# --- per-investor thresholds, for pages ------------------------------------------------------


def describe_thresholds() -> dict[str, str]:
    """The default thresholds in words (methodology page)."""
    from rebalancing.models import HarvestSettings

    f = HarvestSettings._meta.get_field
    commission, bps = trading_costs()
    return {
        "min_loss_amount": f"{Decimal(f('min_loss_amount').default):,.2f}",
        "min_loss_pct": f"{Decimal(f('min_loss_fraction').default) * 100:.1f}%",
        "min_net_benefit": f"{Decimal(f('min_net_benefit').default):,.2f}",
        "costs": f"{commission:,.2f} commission per trade and {bps:g} bps spread, each way",
        "window": "30 days before and after a loss sale, in every account of the household",
    }


# --- the scheduled scan: fan-out over batches of households -----------------------------------


def household_batches(size: int) -> list[tuple[int, int]]:
    """Inclusive owner-id ranges of at most `size` households with an active taxable account."""
    owners = list(
        Portfolio.objects.filter(is_active=True, tax_treatment=Portfolio.TaxTreatment.TAXABLE)
        .order_by("owner_id")
        .values_list("owner_id", flat=True)
        .distinct()
    )
    return [
        (owners[i], owners[min(i + size, len(owners)) - 1]) for i in range(0, len(owners), size)
    ]


def start_harvest_scan(
    *, on: dt.date | None = None, batch_size: int | None = None
) -> tuple[ScanRun, list[tuple[int, int]]]:
    """Create the ScanRun of a scheduled scan and split the households into batches."""
    on = on or clock.today()
    batches = household_batches(batch_size or settings.ADVISOR_SCAN_BATCH_SIZE)
    run = ScanRun.objects.create(kind=ScanRun.Kind.HARVEST, as_of=on, batches_total=len(batches))
    if not batches:
        _finish(run.pk)
    return run, batches


def run_harvest_batch(run_id: int, lo: int, hi: int, on: dt.date) -> ScanResult | None:
    """One batch of a scheduled scan (households with owner id in [lo, hi]); safe to retry."""
    run = ScanRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    try:
        result = scan_for_harvest(owner_range=(lo, hi), on=on, scan_run_id=run_id)
    except Exception as exc:
        _record_error(run_id, f"households {lo}-{hi}: {exc!r}")
        raise
    ScanRun.objects.filter(pk=run_id).update(
        batches_done=models.F("batches_done") + 1,
        portfolios_checked=models.F("portfolios_checked") + result.portfolios,
        proposals_created=models.F("proposals_created") + result.created,
    )
    _finish(run_id)
    return result


def _record_error(run_id: int, message: str) -> None:
    with transaction.atomic():
        run = ScanRun.objects.select_for_update().filter(pk=run_id).first()
        if run is not None:
            run.errors = [*run.errors, message][-100:]
            run.save(update_fields=["errors"])


def _finish(run_id: int) -> None:
    now = clock.now()
    run = ScanRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    ScanRun.objects.filter(
        pk=run_id, status=ScanRun.Status.RUNNING, batches_done__gte=models.F("batches_total")
    ).update(
        status=ScanRun.Status.FINISHED,
        finished_at=now,
        duration_seconds=(now - run.started_at).total_seconds(),
    )
