"""Wash-sale rules on hand-worked cases (pure engine, no database).

Common facts unless a case says otherwise: lot "L1" of 100 shares bought 2026-01-05 for 5,000.00
(50/share) is sold on 2026-03-02 for 4,000.00 (40/share): a 1,000.00 short-term loss; the sold
shares were held 2026-01-05 -> 2026-03-02 = 56 days. Day +30 after the sale is 2026-04-01, day
-30 before it is 2026-01-31.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest

from rebalancing.engine import wash_sales
from rebalancing.engine.lots import is_long_term

D = lambda s: np.datetime64(s, "D")  # noqa: E731


@dataclass
class Sale:
    lot: int
    date: str
    quantity: float
    loss: float
    holding_start: str
    group: int = 1
    unmatched: float | None = None


@dataclass
class Buy:
    lot: int
    date: str
    quantity: float
    basis: float
    ira: bool = False
    group: int = 1


@dataclass
class Expected:
    sale: int  # index into sales
    lot: int  # lot id of the replacement
    quantity: float
    disallowed: float
    basis_after: float  # basis of the matched replacement shares after the adjustment
    holding_start: str | None  # new holding start of those shares (None: IRA, not adjusted)
    permanent: bool = False


@dataclass
class Case:
    name: str
    sales: list[Sale]
    buys: list[Buy]
    expected: list[Expected] = field(default_factory=list)


L1 = Sale(lot=1, date="2026-03-02", quantity=100, loss=1000.0, holding_start="2026-01-05")

CASES = [
    Case(
        # 100 bought 18 days after at 42 (4,200): whole loss disallowed, basis 4,200 + 1,000,
        # holding start 2026-03-20 - 56 days = 2026-01-23.
        "buy after the sale",
        [L1],
        [Buy(10, "2026-03-20", 100, 4200.0)],
        [Expected(0, 10, 100, 1000.0, 5200.0, "2026-01-23")],
    ),
    Case(
        # 100 bought 20 days BEFORE the sale at 45 (4,500): basis 5,500; start 2026-02-10 - 56 d.
        "buy before the sale",
        [L1],
        [Buy(11, "2026-02-10", 100, 4500.0)],
        [Expected(0, 11, 100, 1000.0, 5500.0, "2025-12-16")],
    ),
    Case(
        # Only 30 shares bought back: 30/100 of the loss = 300 disallowed, 700 stays deductible.
        # The 30 shares cost 1,260 (42 each) and now have a basis of 1,560.
        "partial replacement quantity",
        [L1],
        [Buy(12, "2026-03-20", 30, 1260.0)],
        [Expected(0, 12, 30, 300.0, 1560.0, "2026-01-23")],
    ),
    Case(
        # Replacement is larger than the sale: only 100 of 250 shares are replacement shares;
        # their basis 100/250 x 10,500 = 4,200 + 1,000.
        "replacement larger than the sale",
        [L1],
        [Buy(13, "2026-03-20", 250, 10500.0)],
        [Expected(0, 13, 100, 1000.0, 5200.0, "2026-01-23")],
    ),
    Case(
        # Bought back in an IRA: the 1,000 loss is disallowed for good; the IRA lot's basis and
        # holding period do not change.
        "replacement in an IRA",
        [L1],
        [Buy(14, "2026-03-10", 100, 4100.0, ira=True)],
        [Expected(0, 14, 100, 1000.0, 4100.0, None, permanent=True)],
    ),
    Case(
        # Two loss sales the same day: A = L1 60 shares, loss 600 (10/share, held 56 days);
        # B = lot 3, 40 shares, loss 200 (5/share), held since 2025-06-01 = 274 days.
        # Replacements: R20 50 sh on 03-10 (42 each = 2,100), R21 80 sh on 03-25 (43 each = 3,440).
        # A takes R20's 50 (disallowed 600 x 50/60 = 500) then 10 of R21 (100);
        # B takes 40 of R21 (200). 30 shares of R21 remain unused.
        # R20: 2,100 + 500 = 2,600, start 03-10 - 56 = 2026-01-13.
        # R21 x10: 430 + 100 = 530, start 03-25 - 56 = 2026-01-28.
        # R21 x40: 1,720 + 200 = 1,920, start 03-25 - 274 = 2025-06-24.
        "several lots and sales",
        [
            Sale(lot=1, date="2026-03-02", quantity=60, loss=600.0, holding_start="2026-01-05"),
            Sale(lot=3, date="2026-03-02", quantity=40, loss=200.0, holding_start="2025-06-01"),
        ],
        [Buy(20, "2026-03-10", 50, 2100.0), Buy(21, "2026-03-25", 80, 3440.0)],
        [
            Expected(0, 20, 50, 500.0, 2600.0, "2026-01-13"),
            Expected(0, 21, 10, 100.0, 530.0, "2026-01-28"),
            Expected(1, 21, 40, 200.0, 1920.0, "2025-06-24"),
        ],
    ),
    Case(
        # Day 30 after the sale (2026-04-01) is inside the window.
        "day +30 counts",
        [L1],
        [Buy(30, "2026-04-01", 100, 4300.0)],
        [Expected(0, 30, 100, 1000.0, 5300.0, "2026-02-04")],
    ),
    Case("day +31 does not", [L1], [Buy(31, "2026-04-02", 100, 4300.0)], []),
    Case(
        # Day 30 before the sale (2026-01-31): inside; start 2026-01-31 - 56 = 2025-12-06.
        "day -30 counts",
        [L1],
        [Buy(32, "2026-01-31", 100, 4700.0)],
        [Expected(0, 32, 100, 1000.0, 5700.0, "2025-12-06")],
    ),
    Case("day -31 does not", [L1], [Buy(33, "2026-01-30", 100, 4700.0)], []),
    Case(
        "a different (not identical) security does not wash",
        [L1],
        [Buy(40, "2026-03-10", 100, 4100.0, group=2)],
        [],
    ),
    Case(
        # The rest of the sold lot itself is not a replacement for it.
        "the sold lot is never its own replacement",
        [L1],
        [Buy(1, "2026-01-05", 50, 2500.0)],
        [],
    ),
    Case(
        # An earlier run matched 70 of the 100 shares: only 30 are left to match.
        # 30/100 x 1,000 = 300 disallowed on the new 40-share buy's first 30 shares
        # (basis 30/40 x 1,680 = 1,260 + 300).
        "already partly matched",
        [
            Sale(
                lot=1,
                date="2026-03-02",
                quantity=100,
                loss=1000.0,
                holding_start="2026-01-05",
                unmatched=30,
            )
        ],
        [Buy(50, "2026-03-12", 40, 1680.0)],
        [Expected(0, 50, 30, 300.0, 1560.0, "2026-01-15")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_wash_sale_table(case: Case) -> None:
    sales, buys = case.sales, case.buys
    found = wash_sales.match(
        sale_group=np.array([s.group for s in sales]),
        sale_date=np.array([D(s.date) for s in sales]),
        sale_quantity=np.array([s.quantity for s in sales]),
        sale_unmatched=np.array(
            [s.quantity if s.unmatched is None else s.unmatched for s in sales]
        ),
        sale_loss=np.array([s.loss for s in sales]),
        sale_lot=np.array([s.lot for s in sales]),
        sale_holding_start=np.array([D(s.holding_start) for s in sales]),
        lot_id=np.array([b.lot for b in buys]),
        lot_group=np.array([b.group for b in buys]),
        lot_acquired=np.array([D(b.date) for b in buys]),
        lot_available=np.array([b.quantity for b in buys], dtype=float),
        lot_tax_advantaged=np.array([b.ira for b in buys]),
    )
    assert len(found) == len(case.expected)
    _, basis_after = wash_sales.replacement_basis(
        np.array([b.basis for b in buys]), np.array([b.quantity for b in buys], dtype=float), found
    )
    lot_ids = np.array([b.lot for b in buys])
    for k, exp in enumerate(case.expected):
        assert found.sale[k] == exp.sale
        assert lot_ids[found.lot[k]] == exp.lot
        assert found.quantity[k] == pytest.approx(exp.quantity)
        assert found.disallowed[k] == pytest.approx(exp.disallowed)
        assert basis_after[k] == pytest.approx(exp.basis_after)
        assert bool(found.permanent[k]) is exp.permanent
        if exp.holding_start is None:
            assert found.holding_days[k] == 0
        else:
            start = wash_sales.carried_holding_start(
                D(buys[found.lot[k]].date), found.holding_days[k]
            )
            assert start == D(exp.holding_start)


def test_carried_holding_period_can_make_the_replacement_long_term() -> None:
    # Sold on 2026-03-02 after holding since 2025-01-10 (416 days); bought back 2026-03-05.
    # New start 2026-03-05 - 416 days = 2025-01-13: long term on any date after 2026-01-13, so
    # selling the replacement on 2026-03-06 is already long term (without the carry-over: short).
    found = wash_sales.match(
        sale_group=np.array([1]),
        sale_date=np.array([D("2026-03-02")]),
        sale_quantity=np.array([10.0]),
        sale_unmatched=np.array([10.0]),
        sale_loss=np.array([80.0]),
        sale_lot=np.array([1]),
        sale_holding_start=np.array([D("2025-01-10")]),
        lot_id=np.array([2]),
        lot_group=np.array([1]),
        lot_acquired=np.array([D("2026-03-05")]),
        lot_available=np.array([10.0]),
        lot_tax_advantaged=np.array([False]),
    )
    assert found.holding_days.tolist() == [416]
    start = wash_sales.carried_holding_start(D("2026-03-05"), 416)
    assert start == D("2025-01-13")
    assert bool(is_long_term(np.array([start]), D("2026-03-06"))[0]) is True
    assert bool(is_long_term(np.array([D("2026-03-05")]), D("2026-03-06"))[0]) is False


def test_a_gain_sale_is_never_a_wash_sale() -> None:
    found = wash_sales.match(
        sale_group=np.array([1]),
        sale_date=np.array([D("2026-03-02")]),
        sale_quantity=np.array([10.0]),
        sale_unmatched=np.array([10.0]),
        sale_loss=np.array([-50.0]),  # a gain
        sale_lot=np.array([1]),
        sale_holding_start=np.array([D("2026-01-05")]),
        lot_id=np.array([2]),
        lot_group=np.array([1]),
        lot_acquired=np.array([D("2026-03-05")]),
        lot_available=np.array([10.0]),
        lot_tax_advantaged=np.array([False]),
    )
    assert len(found) == 0
