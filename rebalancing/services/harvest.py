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
from django.db import transaction
from django.db.models import Max, Min

from advisor.core import clock
from portfolios import selectors as portfolio_selectors
from portfolios.models import Portfolio, Security
from rebalancing.engine import harvest as engine
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.models import HarvestSkip, Proposal, ProposedTrade
from rebalancing.selectors import harvest as selectors
from rebalancing.selectors import lots as lot_selectors
from rebalancing.selectors.holdings import holdings_fingerprint
from rebalancing.services import drafts as draft_types
from rebalancing.services import proposals

SHARE = Decimal("0.00000001")

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


def load_lots(
    *, user_ids: list[int] | None = None, owner_range: tuple[int, int] | None = None
) -> pd.DataFrame:
    """Open lots of the active taxable accounts of the households given (a list, or an
    inclusive owner-id range), through the one lot loader (`selectors.lots`)."""
    if owner_range is None:
        ids = user_ids or []
        owner_range = (min(ids), max(ids)) if ids else (0, -1)
    accounts = Portfolio.objects.filter(
        owner_id__gte=owner_range[0],
        owner_id__lte=owner_range[1],
        is_active=True,
        tax_treatment=Portfolio.TaxTreatment.TAXABLE,
    )
    if user_ids is not None:
        accounts = accounts.filter(owner_id__in=user_ids)
    span = accounts.aggregate(first=Min("id"), last=Max("id"))
    if span["first"] is None:
        return lot_selectors.empty()
    frame = lot_selectors.open_lots((span["first"], span["last"]), households=owner_range)
    if user_ids is not None:
        frame = frame[frame["owner_id"].isin(user_ids)].reset_index(drop=True)
    return frame


def _recent_purchases(
    accounts: dict[int, int], on: dt.date, groups: portfolio_selectors.IdenticalGroups
) -> dict[tuple[int, int], set[int]]:
    """(household, group key) -> ids of lots acquired in the wash-sale window before `on`."""
    out: dict[tuple[int, int], set[int]] = {}
    for household, sid, lot_id in selectors.recent_purchases(accounts, on):
        out.setdefault((household, groups.key(sid)), set()).add(lot_id)
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
    drafts: list[draft_types.ProposalDraft] = field(default_factory=list)
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
    setting = selectors.settings_frame(owner_ids, owner_range=owner_range)
    # Each lot's row of `setting` (its index is sorted), as plain numpy takes.
    row = np.searchsorted(setting.index.to_numpy(), owner_ids)
    enabled = setting["enabled"].to_numpy(dtype=bool)[row]
    if not enabled.all():
        frame, row = frame[enabled], row[enabled]

    def per_lot(column: str) -> np.ndarray:
        return setting[column].to_numpy(dtype=float)[row]

    prices = portfolio_selectors.latest_prices(frame["security_id"].unique(), on=on)
    price = frame["security_id"].map(prices["close"]).to_numpy(dtype=float)
    # A position (security in a portfolio) as one int64 key.
    position = frame["portfolio_id"].to_numpy() * 10_000_000 + frame["security_id"].to_numpy()
    commission, bps = trading_costs()
    found = engine.scan(
        position=position,
        quantity=frame["quantity"].to_numpy(),
        cost_basis=frame["cost_basis"].to_numpy(),
        price=price,
        holding_start=frame["holding_start"].to_numpy(),
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
    groups = portfolio_selectors.identical_groups()
    key_of = groups.key_of
    cand_portfolios = sorted({i.portfolio for i in infos})
    cand_owners = sorted({i.owner for i in infos})
    # The wash-sale guard reads every account of the candidates' households (a few thousand
    # per batch), by their ids.
    accounts = selectors.household_accounts(cand_owners)
    scheduled = selectors.scheduled_purchases(
        cand_owners, accounts=accounts, exclude_pending_harvest_of=cand_portfolios
    )
    blocked = selectors.blocked_purchases(cand_owners, on, accounts=accounts, groups=groups)
    replacements = selectors.replacements()
    needed = {r for rs in replacements.values() for r in rs}
    repl_prices = portfolio_selectors.latest_prices(needed, on=on) if needed else prices.iloc[0:0]
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
        recent_purchases=_recent_purchases(accounts, on, groups),
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
) -> list[draft_types.ProposalDraft]:
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
                "loss": draft_types.money(pos.loss_short[i] + pos.loss_long[i]),
            }
        )
    per_portfolio: dict[int, list[tuple[int, int]]] = {}
    for (pid, sid), rid in sorted(decisions.accepted.items()):
        per_portfolio.setdefault(pid, []).append((sid, rid))
    if not per_portfolio:
        return []
    fingerprints = holdings_fingerprint(per_portfolio)
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
        trades: list[draft_types.TradeDraft] = []
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
                draft_types.TradeDraft(
                    security_id=sid,
                    side=ProposedTrade.Side.SELL,
                    quantity=qty,
                    price=sell_price,
                    lots=picks,
                    est_short_term_gain=draft_types.money(-loss_short[i]),
                    est_long_term_gain=draft_types.money(-loss_long[i]),
                    est_cost=draft_types.money(half_cost),
                    sequence=0,
                )
            )
            if buy_qty > 0:
                trades.append(
                    draft_types.TradeDraft(
                        security_id=rid,
                        side=ProposedTrade.Side.BUY,
                        quantity=buy_qty,
                        price=buy_price,
                        est_cost=draft_types.money(half_cost),
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
            draft_types.ProposalDraft(
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
                total_value=draft_types.money(totals["value"]),
                est_short_term_gain=draft_types.money(-totals["st"]),
                est_long_term_gain=draft_types.money(-totals["lt"]),
                est_tax=draft_types.money(-totals["tax"]),
                est_cost=draft_types.money(totals["cost"]),
            )
        )
    return drafts


def _write(
    result: ScanResult,
    drafts: list[draft_types.ProposalDraft],
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
    groups = portfolio_selectors.identical_groups()
    key_of = groups.key_of
    sold_lots = {int(p["lot"]) for t in trades if t.side == ProposedTrade.Side.SELL for p in t.lots}
    accounts = selectors.household_accounts([owner])
    recent = _recent_purchases(accounts, on, groups)
    scheduled = selectors.scheduled_purchases([owner], accounts=accounts)
    own = set(
        proposal.trades.filter(side=ProposedTrade.Side.BUY).values_list("security_id", flat=True)
    )
    reinvesting = {(u, key_of.get(s, s)): name for (u, s), name in scheduled.items() if name}
    for t in trades:
        if t.side != ProposedTrade.Side.SELL:
            continue
        group = key_of.get(t.security_id, t.security_id)
        if recent.get((owner, group), set()) - sold_lots:
            return (
                "A purchase of the security to be sold was made in the household in the past "
                f"{WINDOW_DAYS} days."
            )
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
    blocks = selectors.blocked_purchases([owner], on, accounts=accounts, groups=groups)
    for t in trades:
        if t.side == ProposedTrade.Side.BUY and (owner, t.security_id) in blocks:
            return f"The replacement was sold at a loss in the household in the past {WINDOW_DAYS} days."
    return None
