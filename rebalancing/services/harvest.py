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
from django.db.models import Max, Min, QuerySet

from advisor.core import clock
from portfolios import selectors as portfolio_selectors
from portfolios.models import Portfolio, Security
from rebalancing.engine import harvest as engine
from rebalancing.engine import tax as tax_engine
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.models import HarvestSkip, Proposal, ProposedTrade
from rebalancing.selectors import harvest as selectors
from rebalancing.selectors import lots as lot_selectors
from rebalancing.selectors import tax as tax_selectors
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
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids is None and owner_range is None:
        owner_range = (0, 2**62)
    frame = load_lots(user_ids=ids, owner_range=owner_range)
    result = ScanResult(lots=len(frame))
    scanned = _taxable_accounts(ids, owner_range)
    result.portfolios = scanned.count()
    # Only portfolios with a pending harvest need retiring when nothing is proposed any more;
    # the writer locks exactly those plus the ones it writes.
    pending = list(
        Proposal.objects.filter(
            portfolio__in=scanned, kind=Proposal.Kind.HARVEST, status=Proposal.Status.PENDING
        ).values_list("portfolio_id", flat=True)
    )
    result.households = int(frame["owner_id"].nunique()) if len(frame) else 0
    drafts: list[draft_types.ProposalDraft] = []
    if not frame.empty:
        drafts = _harvest_drafts(frame, owner_range, on, result)
    _write(result, drafts, pending, dry_run=dry_run, scan_run_id=scan_run_id, on=on)
    return result


def _taxable_accounts(
    ids: list[int] | None, owner_range: tuple[int, int] | None
) -> QuerySet[Portfolio]:
    """The active taxable accounts of the households scanned."""
    accounts = Portfolio.objects.filter(
        is_active=True, tax_treatment=Portfolio.TaxTreatment.TAXABLE
    )
    if ids is not None:
        return accounts.filter(owner_id__in=ids)
    assert owner_range is not None
    return accounts.filter(owner_id__gte=owner_range[0], owner_id__lte=owner_range[1])


@dataclass
class Found:
    """The engine's verdict on every lot, and what the later steps need of the lot frame."""

    frame: pd.DataFrame  # the lots of households with harvesting enabled
    setting: pd.DataFrame  # per household: thresholds and tax rates
    position: np.ndarray  # per lot: portfolio and security as one int64 key
    prices: pd.DataFrame  # latest close and its date per security held
    scan: engine.Scan


def _find_losses(frame: pd.DataFrame, owner_range: tuple[int, int] | None, on: dt.date) -> Found:
    """Every position whose loss passes its household's thresholds (one engine call)."""
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
    return Found(frame, setting, position, prices, found)


def _position_infos(found: Found) -> list[PositionInfo]:
    """The candidate positions' lots, grouped by position in the same (sorted) order as the
    engine's positions. Only these few leave numpy."""
    selected = found.scan.selected
    sel_pos = found.position[selected]
    order = np.argsort(sel_pos, kind="stable")
    cols = {
        c: found.frame[c].to_numpy()[selected][order]
        for c in ("lot_id", "portfolio_id", "owner_id", "security_id", "quantity")
    }
    _, starts = np.unique(sel_pos[order], return_index=True)
    bounds = np.append(starts, order.size)
    return [
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


def _harvest_drafts(
    frame: pd.DataFrame, owner_range: tuple[int, int] | None, on: dt.date, result: ScanResult
) -> list[draft_types.ProposalDraft]:
    """Find the losses, guard each household against wash sales, draft the proposals."""
    found = _find_losses(frame, owner_range, on)
    pos = found.scan.positions
    result.candidates = int(pos.key.size)
    if not pos.key.size:
        return []
    infos = _position_infos(found)
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
    repl_prices = (
        portfolio_selectors.latest_prices(needed, on=on) if needed else found.prices.iloc[0:0]
    )
    # (household, group) -> the account reinvesting its dividends (for the skip reason).
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
    return _drafts(
        decisions,
        pos,
        infos,
        pd.concat([found.prices, repl_prices]),
        found.setting,
        on,
        result,
        key_of=key_of,
        reinvesting=reinvesting,
    )


@dataclass(frozen=True)
class Market:
    """Prices and names the drafts quote: close and its date per security id, tickers, and
    whether a replacement can be bought in fractions."""

    close: dict[int, float]
    dated: dict[int, dt.date]
    tickers: dict[int, str]
    fractional: dict[int, bool]

    def ticker(self, security_id: int) -> str:
        return self.tickers.get(security_id, str(security_id))


def _market(prices: pd.DataFrame, decisions: engine.Decisions, held: set[int]) -> Market:
    ids = prices.index.to_numpy(dtype=np.int64).tolist()
    bought = set(decisions.accepted.values())
    return Market(
        close=dict(zip(ids, prices["close"].tolist(), strict=True)),
        dated=dict(zip(ids, prices["date"].tolist(), strict=True)),
        tickers=dict(Security.objects.filter(pk__in=held | bought).values_list("pk", "ticker")),
        fractional=dict(
            Security.objects.filter(pk__in=bought).values_list("pk", "allows_fractional")
        ),
    )


def _skips(
    decisions: engine.Decisions,
    pos: engine.Positions,
    index: dict[tuple[int, int], int],
    infos: list[PositionInfo],
    market: Market,
    *,
    key_of: dict[int, int],
    reinvesting: dict[tuple[int, int], str],
) -> list[dict[str, Any]]:
    """The candidates the wash-sale guard refused, with their reason and loss."""
    out = []
    for (pid, sid), reason in decisions.skipped.items():
        i = index[(pid, sid)]
        account = reinvesting.get((infos[i].owner, key_of.get(sid, sid)), "")
        out.append(
            {
                "portfolio_id": pid,
                "security_id": sid,
                "reason": reason,
                "message": SKIP_MESSAGES[reason].format(ticker=market.ticker(sid), account=account),
                "loss": draft_types.money(pos.loss_short[i] + pos.loss_long[i]),
            }
        )
    return out


@dataclass
class PositionNumbers:
    """The engine's per-position results as Python floats, converted once (numpy scalars are
    slow to index and format one by one)."""

    loss_short: list[float]
    loss_long: list[float]
    basis: list[float]
    tax_value: list[float]
    cost: list[float]
    benefit: list[float]
    value: list[float]

    @classmethod
    def of(cls, pos: engine.Positions) -> PositionNumbers:
        return cls(
            pos.loss_short.tolist(),
            pos.loss_long.tolist(),
            pos.basis.tolist(),
            pos.tax_value.tolist(),
            pos.cost.tolist(),
            pos.benefit.tolist(),
            pos.value.tolist(),
        )


def _drafts(
    decisions: engine.Decisions,
    pos: engine.Positions,
    infos: list[PositionInfo],
    prices: pd.DataFrame,
    setting: pd.DataFrame,
    on: dt.date,
    result: ScanResult,
    *,
    key_of: dict[int, int],
    reinvesting: dict[tuple[int, int], str],
) -> list[draft_types.ProposalDraft]:
    """One proposal per account with accepted harvests; the refused ones go to `result.skipped`."""
    index = {(info.portfolio, info.security): i for i, info in enumerate(infos)}
    market = _market(prices, decisions, {s for _, s in index})
    result.skipped = _skips(
        decisions, pos, index, infos, market, key_of=key_of, reinvesting=reinvesting
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
    numbers = PositionNumbers.of(pos)
    skipped_by_portfolio: dict[int, list[dict[str, str]]] = {}
    for s in result.skipped:
        skipped_by_portfolio.setdefault(s["portfolio_id"], []).append(
            {k: str(v) for k, v in s.items() if k in ("security_id", "reason", "message", "loss")}
        )
    drafts = []
    for pid, items in per_portfolio.items():
        owner = owner_of[pid]
        draft = _draft(
            pid,
            [(index[(pid, sid)], sid, rid) for sid, rid in items],
            infos,
            numbers,
            market,
            rates=(st_rate[owner], lt_rate[owner]),
        )
        draft.holdings_fingerprint = fingerprints.get(pid, "")
        draft.details["scanned_on"] = on.isoformat()
        draft.details["skipped"] = skipped_by_portfolio.get(pid, [])
        drafts.append(draft)
    _net_in_tax_year(drafts, [owner_of[d.portfolio_id] for d in drafts], year=on.year)
    return drafts


def _net_in_tax_year(
    drafts: list[draft_types.ProposalDraft], owners: list[int], *, year: int
) -> None:
    """Each draft's estimated tax by the Schedule D netting of its household's year (a harvested
    short-term loss against long-term gains is worth only the long-term rate)."""
    years = tax_selectors.households(owners, year=year).reindex(owners)
    estimate = tax_engine.estimate_tax(
        np.array([float(d.est_short_term_gain) for d in drafts]),
        np.array([float(d.est_long_term_gain) for d in drafts]),
        short_rate=years["short_rate"].to_numpy(), long_rate=years["long_rate"].to_numpy(),
        realised_short_term=years["realised_short"].to_numpy(),
        realised_long_term=years["realised_long"].to_numpy(),
        carry_short=years["carry_short"].to_numpy(), carry_long=years["carry_long"].to_numpy(),
        limit=years["limit"].to_numpy(),
    )  # fmt: skip
    for draft, amount in zip(drafts, estimate.tax.tolist(), strict=True):
        draft.est_tax = draft_types.money(amount)


def _sell_lots(lots: list[tuple[int, float]]) -> tuple[Decimal, list[dict[str, Any]]]:
    """The shares sold (the whole position) and the lots they come from, in shares."""
    qty = Decimal("0")
    picks = []
    for lot_id, q in sorted(lots):
        dq = Decimal(repr(float(q))).quantize(SHARE, rounding=ROUND_HALF_UP)
        qty += dq
        picks.append({"lot": int(lot_id), "quantity": str(dq)})
    return qty, picks


def _swap(
    i: int,
    sid: int,
    rid: int,
    info: PositionInfo,
    numbers: PositionNumbers,
    market: Market,
) -> list[draft_types.TradeDraft]:
    """Sell position `i` (security `sid`) whole and buy replacement `rid` for the proceeds."""
    qty, picks = _sell_lots(info.lots)
    sell_price = Decimal(str(market.close[sid]))
    buy_price = Decimal(str(market.close[rid]))
    buy_qty = qty * sell_price / buy_price
    buy_qty = (
        buy_qty.quantize(SHARE, rounding=ROUND_DOWN)
        if market.fractional.get(rid, True)
        else buy_qty.to_integral_value(rounding=ROUND_DOWN)
    )
    half_cost = draft_types.money(numbers.cost[i] / 2)
    trades = [
        draft_types.TradeDraft(
            security_id=sid,
            side=ProposedTrade.Side.SELL,
            quantity=qty,
            price=sell_price,
            lots=picks,
            est_short_term_gain=draft_types.money(-numbers.loss_short[i]),
            est_long_term_gain=draft_types.money(-numbers.loss_long[i]),
            est_cost=half_cost,
            sequence=0,
        )
    ]
    if buy_qty > 0:
        trades.append(
            draft_types.TradeDraft(
                security_id=rid,
                side=ProposedTrade.Side.BUY,
                quantity=buy_qty,
                price=buy_price,
                est_cost=half_cost,
                sequence=1,
            )
        )
    return trades


def _harvest_row(
    i: int, sid: int, rid: int, lots: int, numbers: PositionNumbers, market: Market
) -> dict[str, Any]:
    """One line of the proposal page's table of losses harvested."""
    loss = numbers.loss_short[i] + numbers.loss_long[i]
    basis = numbers.basis[i]
    return {
        "security": market.ticker(sid),
        "replacement": market.ticker(rid),
        "lots": lots,
        "loss_short_term": f"{numbers.loss_short[i]:.2f}",
        "loss_long_term": f"{numbers.loss_long[i]:.2f}",
        "loss_pct_of_basis": round(loss / basis * 100, 2) if basis else 0.0,
        "tax_value": f"{numbers.tax_value[i]:.2f}",
        "cost": f"{numbers.cost[i]:.2f}",
        "net_benefit": f"{numbers.benefit[i]:.2f}",
    }


def _draft(
    pid: int,
    swaps: list[tuple[int, int, int]],
    infos: list[PositionInfo],
    numbers: PositionNumbers,
    market: Market,
    *,
    rates: tuple[float, float],
) -> draft_types.ProposalDraft:
    """One account's harvest proposal: each (position, security, replacement) swapped."""
    trades: list[draft_types.TradeDraft] = []
    harvests, reasons, dates = [], [], []
    for i, sid, rid in swaps:
        trades += _swap(i, sid, rid, infos[i], numbers, market)
        dates += [market.dated[sid], market.dated[rid]]
        row = _harvest_row(i, sid, rid, len(infos[i].lots), numbers, market)
        harvests.append(row)
        loss = numbers.loss_short[i] + numbers.loss_long[i]
        reasons.append(
            f"{row['security']} is {loss:,.2f} below its cost basis; selling these lots realises "
            f"the loss, worth about {numbers.tax_value[i]:,.2f} in tax at your rates "
            f"({rates[0]:.0%} short term, {rates[1]:.0%} long term), and {row['replacement']} "
            "is bought for the same value to keep the exposure."
        )
    rows = [i for i, _, _ in swaps]
    short = sum(numbers.loss_short[i] for i in rows)
    long = sum(numbers.loss_long[i] for i in rows)
    tax = sum(numbers.tax_value[i] for i in rows)
    return draft_types.ProposalDraft(
        portfolio_id=pid,
        rule="harvest",
        reason=" ".join(reasons),
        prices_as_of=min(dates),
        holdings_fingerprint="",
        trades=trades,
        details={
            "harvests": harvests,
            "loss_harvested": f"{short + long:.2f}",
            "tax_value": f"{tax:.2f}",
        },
        total_value=draft_types.money(sum(numbers.value[i] for i in rows)),
        est_short_term_gain=draft_types.money(-short),
        est_long_term_gain=draft_types.money(-long),
        est_tax=draft_types.money(-tax),
        est_cost=draft_types.money(sum(numbers.cost[i] for i in rows)),
    )


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
