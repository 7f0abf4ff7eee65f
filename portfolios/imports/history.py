"""Transaction history written set-based: the ledger's rules replayed in memory, then COPY.

Recording an imported history row by row through `portfolios.ledger` costs a dozen queries a
row, and the wash-sale queries grow with the ledger, so a long history took minutes. Here the
state the ledger would read (the account's cash, the household's open lots and recent loss
sales in the securities of the file) is loaded in a few queries, every row is applied in memory
in date order by exactly the rules of `ledger.record_buy`, `record_sell`, `record_cash` and
`wash_sales.apply_wash_sales` (same Decimal rounding, the engine's lot relief order and
wash-sale matcher on the lots and sales inside each row's window), and the result is written
with one COPY per table. The outcome is identical to the row-by-row ledger (a test replays the
same history both ways); the time is linear in the rows because each row only looks at the
lots and sales inside its 30/60-day window, found by bisection.

Runs inside the caller's transaction, after it locked the portfolio row.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import Any

import numpy as np
from django.db.models import F, Sum

from advisor.core import clock
from advisor.core.copy import insert_rows_with_ids
from portfolios import ledger, selectors, wash_sales
from portfolios.models import (
    LotSale,
    Portfolio,
    Security,
    TaxLot,
    Transaction,
    WashSaleBlock,
    WashSaleMatch,
    basis_of_part,
)
from rebalancing.engine import lots as lot_rules
from rebalancing.engine import wash_sales as engine

CENT = Decimal("0.01")
SHARE = Decimal("0.00000001")
ZERO = Decimal("0")
WINDOW = wash_sales.WINDOW
NEW_KEY = 10**15  # sort key of lots created here: after every existing lot, in creation order


class HistoryError(ValueError):
    """A row the ledger would refuse; `index` is its position in the rows given."""

    def __init__(self, index: int, message: str) -> None:
        self.index = index
        super().__init__(message)


@dataclass(slots=True)
class Entry:
    """One validated history row: values as the parser normalised them."""

    kind: str
    date: dt.date
    ticker: str | None
    quantity: Decimal | None
    price: Decimal | None
    amount: Decimal  # signed, as in the file
    fees: Decimal
    external_id: str
    note: str


@dataclass(eq=False, slots=True)
class Lot:
    key: int  # the database id for an existing lot; NEW_KEY + n for a lot created here
    portfolio_id: int
    security_id: int
    quantity: Decimal
    original_quantity: Decimal
    cost_basis: Decimal
    acquired_on: dt.date
    holding_start: dt.date
    wash_sale_adjustment: Decimal
    opened_by: int | Txn | None  # an existing transaction id, or a transaction created here
    advantaged: bool
    used: Decimal = ZERO  # shares already used as a wash-sale replacement
    closed_on: dt.date | None = None
    changed: bool = False
    row: dict[str, Any] | None = None  # the row written for it (new lots)
    cps: float | None = None  # cost per share as the ledger computes it; None once it changes

    def cost_per_share(self) -> float:
        if self.cps is None:
            self.cps = float(self.cost_basis / self.quantity)  # the ledger's Decimal ratio
        return self.cps


@dataclass(eq=False, slots=True)
class Sale:
    """A loss sale of a taxable account of the household (a LotSale), as wash-sale input."""

    key: int
    date: dt.date
    quantity: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    lot_key: int
    lot: Lot | None  # the sold lot when open (its holding start can still move)
    lot_holding_start: dt.date
    matched: Decimal
    wash_sale_disallowed: Decimal
    gain: Decimal
    row: dict[str, Any] | None = None  # a LotSale created here
    existing_id: int | None = None
    changed: bool = False


@dataclass(eq=False, slots=True)
class Txn:
    row: dict[str, Any]


@dataclass
class Replay:
    """Everything the history writes, built in memory before a single INSERT."""

    portfolio: Portfolio
    cash: Decimal
    taxable: bool
    method: lot_rules.ReliefMethod
    groups: selectors.IdenticalGroups
    securities: dict[str, Security]
    now: dt.datetime
    # Wash-sale groups whose loaded state had its full pass (by their first row).
    swept: set[int] = field(default_factory=set)
    open_lots: dict[int, list[Lot]] = field(default_factory=lambda: defaultdict(list))
    # Per wash-sale group: lots (household, open) and loss sales, sorted by (date, key).
    group_lots: dict[int, tuple[list[tuple[dt.date, int]], list[Lot]]] = field(
        default_factory=lambda: defaultdict(lambda: ([], []))
    )
    group_sales: dict[int, tuple[list[tuple[dt.date, int]], list[Sale]]] = field(
        default_factory=lambda: defaultdict(lambda: ([], []))
    )
    transactions: list[dict[str, Any]] = field(default_factory=list)
    new_lots: list[Lot] = field(default_factory=list)
    existing_lots: list[Lot] = field(default_factory=list)
    lot_sales: list[tuple[dict[str, Any], Txn, Lot]] = field(default_factory=list)
    existing_sales: list[Sale] = field(default_factory=list)
    matches: list[tuple[dict[str, Any], Sale, Lot]] = field(default_factory=list)
    blocks: list[tuple[dict[str, Any], Txn]] = field(default_factory=list)

    # --- indexes -----------------------------------------------------------------------------

    def add_lot(self, lot: Lot) -> None:
        if lot.portfolio_id == self.portfolio.pk:
            self.open_lots[lot.security_id].append(lot)
        keys, items = self.group_lots[self.groups.key(lot.security_id)]
        at = bisect.bisect_right(keys, (lot.acquired_on, lot.key))
        keys.insert(at, (lot.acquired_on, lot.key))
        items.insert(at, lot)

    def add_sale(self, security_id: int, sale: Sale) -> None:
        keys, items = self.group_sales[self.groups.key(security_id)]
        at = bisect.bisect_right(keys, (sale.date, sale.key))
        keys.insert(at, (sale.date, sale.key))
        items.insert(at, sale)

    def new_lot(self, **values: Any) -> Lot:
        lot = Lot(key=NEW_KEY + len(self.new_lots), **values)
        self.new_lots.append(lot)
        self.add_lot(lot)
        return lot

    def add_transaction(self, entry: Entry, **values: Any) -> Txn:
        row = {
            "portfolio_id": self.portfolio.pk,
            "kind": entry.kind,
            "trade_date": entry.date,
            "security_id": None,
            "quantity": None,
            "price": None,
            "fees": ZERO,
            "lot_relief_method": "",
            "source": Transaction.Source.IMPORT,
            "external_id": entry.external_id,
            "note": entry.note,
            "created_at": self.now,
            **values,
        }
        self.transactions.append(row)
        return Txn(row)

    def move_cash(self, amount: Decimal) -> None:
        if self.cash + amount < 0:
            raise ledger.LedgerError(
                f"Not enough cash in {self.portfolio.name}: {self.cash:,.2f} available, "
                f"{-amount:,.2f} needed."
            )
        ledger._check_fits(
            self.cash + amount, f"the cash balance of {self.portfolio.name}", ledger.inputs.MONEY
        )
        self.cash += amount


# --- loading ---------------------------------------------------------------------------------


def load(
    portfolio: Portfolio,
    entries: Sequence[Entry],
    *,
    method: lot_rules.ReliefMethod | None = None,
) -> Replay:
    """The state the ledger would read for these rows, in a handful of queries. Sells relieve
    lots by `method`, by default the one the investor chose (as `ledger.record_sell` does)."""
    portfolio = Portfolio.objects.select_for_update().get(pk=portfolio.pk)
    method = lot_rules.ReliefMethod(method or ledger.owner_relief_method(portfolio.owner_id))
    tickers = {e.ticker for e in entries if e.ticker}
    securities = {s.ticker: s for s in Security.objects.filter(ticker__in=tickers)}
    groups = selectors.identical_groups()
    replay = Replay(
        portfolio=portfolio,
        cash=portfolio.cash,
        taxable=portfolio.is_taxable,
        method=method,
        groups=groups,
        securities=securities,
        now=clock.now(),
    )
    related = {m for s in securities.values() for m in groups.identical_to(s.pk)}
    if not related:
        return replay
    _load_lots(replay, related)
    first = min(e.date for e in entries)
    _load_sales(replay, related, since=first - WINDOW)
    return replay


def _load_lots(replay: Replay, related: set[int]) -> None:
    used = dict(
        WashSaleMatch.objects.filter(
            replacement_lot__portfolio__owner_id=replay.portfolio.owner_id,
            replacement_lot__security_id__in=related,
            replacement_lot__quantity__gt=0,
        )
        .values("replacement_lot")
        .annotate(total=Sum("quantity"))
        .values_list("replacement_lot", "total")
    )
    advantaged = set(wash_sales.TAX_ADVANTAGED)
    rows = (
        TaxLot.objects.open()
        .filter(portfolio__owner_id=replay.portfolio.owner_id, security_id__in=related)
        .order_by("acquired_on", "id")
        .values_list(
            "id",
            "portfolio_id",
            "security_id",
            "quantity",
            "original_quantity",
            "cost_basis",
            "acquired_on",
            "holding_start",
            "wash_sale_adjustment",
            "opened_by_id",
            "portfolio__tax_treatment",
        )
    )
    for pk, pid, sid, q, oq, basis, acquired, start, adj, opened, treatment in rows:
        lot = Lot(
            key=pk,
            portfolio_id=pid,
            security_id=sid,
            quantity=q,
            original_quantity=oq,
            cost_basis=basis,
            acquired_on=acquired,
            holding_start=start,
            wash_sale_adjustment=adj,
            opened_by=opened,
            advantaged=treatment in advantaged,
            used=used.get(pk, ZERO),
        )
        replay.existing_lots.append(lot)
        replay.add_lot(lot)


def _load_sales(replay: Replay, related: set[int], *, since: dt.date) -> None:
    lots = {lot.key: lot for lot in replay.existing_lots}
    rows = (
        LotSale.objects.filter(
            transaction__portfolio__owner_id=replay.portfolio.owner_id,
            transaction__portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
            transaction__security_id__in=related,
            transaction__trade_date__gte=since,
            cost_basis__gt=F("proceeds"),
        )
        .annotate(matched=Sum("wash_matches__quantity"))
        .values_list(
            "id",
            "transaction__trade_date",
            "transaction__security_id",
            "quantity",
            "proceeds",
            "cost_basis",
            "lot_id",
            "lot__holding_start",
            "matched",
            "wash_sale_disallowed",
            "gain",
        )
    )
    for pk, day, sid, q, proceeds, basis, lot_id, start, matched, disallowed, gain in rows:
        sale = Sale(
            key=pk,
            date=day,
            quantity=q,
            proceeds=proceeds,
            cost_basis=basis,
            lot_key=lot_id,
            lot=lots.get(lot_id),
            lot_holding_start=start,
            matched=matched or ZERO,
            wash_sale_disallowed=disallowed,
            gain=gain,
            existing_id=pk,
        )
        replay.existing_sales.append(sale)
        replay.add_sale(sid, sale)


# --- applying one row (the ledger's rules) ---------------------------------------------------


def apply(replay: Replay, entry: Entry) -> None:
    if entry.kind == "buy":
        _buy(replay, entry)
    elif entry.kind == "sell":
        _sell(replay, entry)
    else:
        _cash(replay, entry)


def _trade_values(replay: Replay, entry: Entry) -> tuple[Security, Decimal, Decimal, Decimal]:
    assert entry.ticker is not None and entry.quantity is not None and entry.price is not None
    security = replay.securities[entry.ticker]
    quantity, price, fees = ledger.shares(entry.quantity), entry.price, ledger.money(entry.fees)
    # The ledger's trade checks, except the date's: the parser checked it against today once
    # for the file (reading the clock per row costs more than the rest of the row).
    ledger._check_quantity(security, quantity)
    ledger._check_fits(quantity, "the quantity", ledger.inputs.QUANTITY)
    ledger._check_fits(price, "the price", ledger.inputs.PRICE)
    ledger._check_fits(quantity * price + fees, "the amount", ledger.inputs.MONEY)
    return security, quantity, price, fees


def _buy(replay: Replay, entry: Entry) -> None:
    security, quantity, price, fees = _trade_values(replay, entry)
    cost = ledger.money(quantity * price) + fees
    replay.move_cash(-cost)
    txn = replay.add_transaction(
        entry, security_id=security.pk, quantity=quantity, price=price, fees=fees, amount=-cost
    )
    lot = replay.new_lot(
        portfolio_id=replay.portfolio.pk,
        security_id=security.pk,
        quantity=quantity,
        original_quantity=quantity,
        cost_basis=cost,
        acquired_on=entry.date,
        holding_start=entry.date,
        wash_sale_adjustment=ZERO,
        opened_by=txn,
        advantaged=not replay.taxable
        and replay.portfolio.tax_treatment in wash_sales.TAX_ADVANTAGED,
    )
    _wash(replay, security.pk, entry.date, new_lots=[lot])


EPOCH = dt.date(1970, 1, 1).toordinal()


def _days(dates: list[dt.date]) -> np.ndarray:
    """Dates as datetime64[D], through their ordinals (much faster than from date objects)."""
    ordinals = np.fromiter((d.toordinal() for d in dates), dtype=np.int64, count=len(dates))
    return (ordinals - EPOCH).astype("datetime64[D]")


def _relief(
    replay: Replay, lots: list[Lot], quantity: Decimal, price: Decimal, on: dt.date
) -> list[tuple[Lot, Decimal]]:
    return ledger.relief_plan(
        lots,
        quantity,
        replay.method,
        price,
        on,
        cost_per_share=[lot.cost_per_share() for lot in lots],
        acquired=_days([lot.acquired_on for lot in lots]),
        holding_start=_days([lot.holding_start for lot in lots]),
    )


def _sell(replay: Replay, entry: Entry) -> None:
    security, quantity, price, fees = _trade_values(replay, entry)
    held_lots = replay.open_lots[security.pk]
    if any(lot.quantity == 0 for lot in held_lots):
        held_lots[:] = [lot for lot in held_lots if lot.quantity > 0]
    lots = sorted(
        (lot for lot in held_lots if lot.acquired_on <= entry.date),
        key=attrgetter("acquired_on", "key"),
    )
    held = sum((lot.quantity for lot in lots), ZERO)
    if quantity > held:
        raise ledger.LedgerError(
            f"Cannot sell {quantity} {security.ticker}: {held} held on {entry.date:%Y-%m-%d}."
        )
    plan = _relief(replay, lots, quantity, price, entry.date)
    net = ledger.money(quantity * price) - fees
    txn = replay.add_transaction(
        entry,
        security_id=security.pk,
        quantity=quantity,
        price=price,
        fees=fees,
        amount=net,
        lot_relief_method=replay.method.value,
    )
    starts = _days([lot.holding_start for lot, _ in plan])
    long_terms = lot_rules.is_long_term(starts, np.datetime64(entry.date, "D")).tolist()
    allocated, loss, new_sales = ZERO, False, []
    for n, ((lot, take), long_term) in enumerate(zip(plan, long_terms, strict=True)):
        proceeds = net - allocated if n == len(plan) - 1 else ledger.money(net * take / quantity)
        allocated += proceeds
        basis = basis_of_part(lot.cost_basis, lot.quantity, take)
        lot.quantity -= take
        lot.cost_basis -= basis
        lot.closed_on = entry.date if lot.quantity == 0 else None
        lot.changed, lot.cps = True, None
        row = {
            "quantity": take,
            "proceeds": proceeds,
            "cost_basis": basis,
            "gain": proceeds - basis,
            "is_long_term": long_term,
            "wash_sale_disallowed": ZERO,
        }
        replay.lot_sales.append((row, txn, lot))
        if basis > proceeds and replay.taxable:
            loss = True
            sale = Sale(
                key=NEW_KEY + len(replay.lot_sales),
                date=entry.date,
                quantity=take,
                proceeds=proceeds,
                cost_basis=basis,
                lot_key=lot.key,
                lot=lot,
                lot_holding_start=lot.holding_start,
                matched=ZERO,
                wash_sale_disallowed=ZERO,
                gain=proceeds - basis,
                row=row,
            )
            replay.add_sale(security.pk, sale)
            new_sales.append(sale)
    replay.move_cash(net)
    if loss:
        _block(replay, txn, security, entry.date)
    _wash(replay, security.pk, entry.date, new_sales=new_sales)


def _block(replay: Replay, txn: Txn, security: Security, on: dt.date) -> None:
    row = {
        "household_id": replay.portfolio.owner_id,
        "security_id": security.pk,
        "until": on + WINDOW,
        "created_at": replay.now,
        "reason": wash_sales.block_reason(on),
    }
    replay.blocks.append((row, txn))


def _cash(replay: Replay, entry: Entry) -> None:
    kind = Transaction.Kind(entry.kind)
    amount = ledger.money(abs(entry.amount))
    if amount <= 0:
        raise ledger.LedgerError("The amount must be positive.")
    signed = amount * ledger.CASH_SIGN[kind]
    replay.move_cash(signed)
    security = replay.securities.get(entry.ticker) if entry.ticker else None
    replay.add_transaction(entry, security_id=security.pk if security else None, amount=signed)


# --- wash sales (portfolios.wash_sales.apply_wash_sales, in memory) --------------------------


def _live_window(
    index: tuple[list[tuple[dt.date, int]], list[Any]],
    low: dt.date,
    high: dt.date,
    alive: Callable[[Any], bool],
) -> list[Any]:
    """The live entries dated `low`..`high`. Rows are applied in date order, so entries before
    `low` can never match again and are dropped; an entry that is no longer alive (a lot with
    no share left to replace, a sale fully matched) never comes back, so when they crowd the
    window the index is rebuilt without them. Each entry is dropped once: linear overall."""
    keys, items = index
    start = bisect.bisect_left(keys, (low, -1))
    if start:
        del keys[:start], items[:start]
    end = bisect.bisect_right(keys, (high, NEW_KEY * 10))
    window = items[:end]
    live = [item for item in window if alive(item)]
    if len(window) > 2 * len(live) + 8:
        kept = [i for i, item in enumerate(items) if i >= end or alive(item)]
        keys[:] = [keys[i] for i in kept]
        items[:] = [items[i] for i in kept]
    return live


def _sale_alive(sale: Sale) -> bool:
    return sale.quantity > sale.matched


def _lot_alive(lot: Lot) -> bool:
    return lot.quantity > lot.used  # shares left that no earlier wash sale used


def _wash(
    replay: Replay,
    security_id: int,
    on: dt.date,
    *,
    new_lots: list[Lot] | None = None,
    new_sales: list[Sale] | None = None,
) -> None:
    """`wash_sales.apply_wash_sales(on=...)` after a row. The ledger matches every live loss
    sale within 30 days of `on` against every live lot within 60; after such a pass no live
    sale has a live lot within its 30 days (each sale took from its lots until it or they ran
    out), and neither ever grows again. So once the first row has made that pass over the
    loaded state (per group of identical securities), only pairs with what the row itself added
    can match: the engine is given
    those (the same matches, in the same order, without re-examining the whole window)."""
    group = replay.groups.key(security_id)
    if group not in replay.swept:
        replay.swept.add(group)
        sales = _live_window(replay.group_sales[group], on - WINDOW, on + WINDOW, _sale_alive)
        if not sales:
            return
        lots = _live_window(replay.group_lots[group], on - 2 * WINDOW, on + 2 * WINDOW, _lot_alive)
    elif new_lots:
        lots = [lot for lot in new_lots if _lot_alive(lot)]
        sales = _live_window(replay.group_sales[group], on - WINDOW, on + WINDOW, _sale_alive)
    else:
        sales = [sale for sale in new_sales or () if _sale_alive(sale)]
        if not sales:
            return
        lots = _live_window(replay.group_lots[group], on - WINDOW, on + WINDOW, _lot_alive)
    if not sales or not lots:
        return
    found = engine.match(
        sale_group=np.zeros(len(sales), dtype=int),
        sale_date=np.array([s.date for s in sales], dtype="datetime64[D]"),
        sale_quantity=np.array([float(s.quantity) for s in sales]),
        sale_unmatched=np.array([float(s.quantity - s.matched) for s in sales]),
        sale_loss=np.array([float(s.cost_basis - s.proceeds) for s in sales]),
        sale_lot=np.array([s.lot_key for s in sales]),
        sale_holding_start=np.array(
            [s.lot.holding_start if s.lot else s.lot_holding_start for s in sales],
            dtype="datetime64[D]",
        ),
        lot_id=np.array([lot.key for lot in lots]),
        lot_group=np.zeros(len(lots), dtype=int),
        lot_acquired=np.array([lot.acquired_on for lot in lots], dtype="datetime64[D]"),
        lot_available=np.array([float(max(lot.quantity - lot.used, ZERO)) for lot in lots]),
        lot_tax_advantaged=np.array([lot.advantaged for lot in lots]),
    )
    for s, j, q, d, p, days in zip(
        found.sale,
        found.lot,
        found.quantity,
        found.disallowed,
        found.permanent,
        found.holding_days,
        strict=True,
    ):
        _apply_match(replay, sales[s], lots[j], float(q), float(d), bool(p), int(days))


def _apply_match(
    replay: Replay,
    sale: Sale,
    lot: Lot,
    quantity: float,
    disallowed: float,
    permanent: bool,
    days: int,
) -> None:
    qty = Decimal(str(quantity)).quantize(SHARE, rounding=ROUND_HALF_UP)
    if abs(qty - lot.quantity) <= SHARE:
        qty = lot.quantity
    loss = sale.cost_basis - sale.proceeds
    amount = min(
        Decimal(str(disallowed)).quantize(CENT, ROUND_HALF_UP), loss - sale.wash_sale_disallowed
    )
    sale.wash_sale_disallowed += amount
    sale.gain += amount
    sale.matched += qty
    if sale.row is not None:
        sale.row["wash_sale_disallowed"] = sale.wash_sale_disallowed
        sale.row["gain"] = sale.gain
    else:
        sale.changed = True
    replacement = lot
    if not permanent:
        start = lot.acquired_on - dt.timedelta(days=days)
        if qty < lot.quantity:
            part_basis = basis_of_part(lot.cost_basis, lot.quantity, qty)
            lot.quantity -= qty
            lot.original_quantity -= qty
            lot.cost_basis -= part_basis
            lot.changed, lot.cps = True, None
            replacement = replay.new_lot(
                portfolio_id=lot.portfolio_id,
                security_id=lot.security_id,
                quantity=qty,
                original_quantity=qty,
                cost_basis=part_basis + amount,
                acquired_on=lot.acquired_on,
                holding_start=start,
                wash_sale_adjustment=amount,
                opened_by=lot.opened_by,
                advantaged=lot.advantaged,
            )
        else:
            lot.cost_basis += amount
            lot.wash_sale_adjustment += amount
            lot.holding_start = start
            lot.changed, lot.cps = True, None
    replacement.used += qty
    row = {
        "quantity": qty,
        "disallowed": amount,
        "permanent": permanent,
        "holding_days_added": 0 if permanent else days,
        "created_at": replay.now,
    }
    replay.matches.append((row, sale, replacement))


# --- writing ---------------------------------------------------------------------------------


def _txn_id(opened_by: int | Txn | None) -> int | None:
    return opened_by.row["id"] if isinstance(opened_by, Txn) else opened_by


def write(replay: Replay) -> int:
    """Insert everything the replay built (ids drawn first, so rows can point at each other)
    and update what it changed; returns the number of transactions written."""
    insert_rows_with_ids(Transaction, replay.transactions)
    lot_rows = []
    for lot in replay.new_lots:
        lot.row = {
            "portfolio_id": lot.portfolio_id,
            "security_id": lot.security_id,
            "quantity": lot.quantity,
            "original_quantity": lot.original_quantity,
            "cost_basis": lot.cost_basis,
            "acquired_on": lot.acquired_on,
            "holding_start": lot.holding_start,
            "wash_sale_adjustment": lot.wash_sale_adjustment,
            "opened_by_id": _txn_id(lot.opened_by),
            "closed_on": lot.closed_on,
            "created_at": replay.now,
        }
        lot_rows.append(lot.row)
    insert_rows_with_ids(TaxLot, lot_rows)
    _update_existing(replay)

    def lot_id(lot: Lot) -> int:
        return lot.row["id"] if lot.row is not None else lot.key

    sale_rows = []
    for row, txn, lot in replay.lot_sales:
        row["transaction_id"], row["lot_id"] = txn.row["id"], lot_id(lot)
        sale_rows.append(row)
    insert_rows_with_ids(LotSale, sale_rows)
    match_rows = []
    for row, sale, lot in replay.matches:
        row["lot_sale_id"] = sale.row["id"] if sale.row is not None else sale.existing_id
        row["replacement_lot_id"] = lot_id(lot)
        match_rows.append(row)
    insert_rows_with_ids(WashSaleMatch, match_rows)
    block_rows = []
    for row, txn in replay.blocks:
        row["source_transaction_id"] = txn.row["id"]
        block_rows.append(row)
    insert_rows_with_ids(WashSaleBlock, block_rows)
    Portfolio.objects.filter(pk=replay.portfolio.pk).update(cash=replay.cash, updated_at=replay.now)
    return len(replay.transactions)


def _update_existing(replay: Replay) -> None:
    changed = [lot for lot in replay.existing_lots if lot.changed]
    TaxLot.objects.bulk_update(
        [
            TaxLot(
                pk=lot.key,
                quantity=lot.quantity,
                original_quantity=lot.original_quantity,
                cost_basis=lot.cost_basis,
                holding_start=lot.holding_start,
                wash_sale_adjustment=lot.wash_sale_adjustment,
                closed_on=lot.closed_on,
            )
            for lot in changed
        ],
        [
            "quantity",
            "original_quantity",
            "cost_basis",
            "holding_start",
            "wash_sale_adjustment",
            "closed_on",
        ],
        batch_size=1000,
    )
    sales = [s for s in replay.existing_sales if s.changed]
    LotSale.objects.bulk_update(
        [
            LotSale(pk=s.existing_id, gain=s.gain, wash_sale_disallowed=s.wash_sale_disallowed)
            for s in sales
        ],
        ["gain", "wash_sale_disallowed"],
        batch_size=1000,
    )


def record_history(
    portfolio: Portfolio,
    entries: Iterable[Entry],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 2000,
) -> int:
    """Apply `entries` (in date order, then file order) as the ledger would and write them.
    Raises HistoryError (with the row's index) for the first row the ledger refuses."""
    entries = list(entries)
    if not entries:
        return 0
    # The replay creates a few objects per row and frees none until the end: the cyclic
    # garbage collector's full passes over them would make the time per row grow with the
    # rows (nothing here forms a reference cycle).
    collecting = gc.isenabled()
    gc.disable()
    try:
        replay = load(portfolio, entries)
        for i, entry in enumerate(entries):
            try:
                apply(replay, entry)
            except ledger.LedgerError as exc:
                raise HistoryError(i, str(exc)) from exc
            if progress is not None and i % every == every - 1:
                progress(i + 1)
        return write(replay)
    finally:
        if collecting:
            gc.enable()
