"""Harvest candidates and the wash-sale guard (pure engine), on hand-computed numbers."""

import subprocess
import sys

import numpy as np
import pytest

from rebalancing.engine import harvest

D = lambda s: np.datetime64(s, "D")  # noqa: E731
ON = D("2026-11-24")


def _scan(lots: list[dict], **kw: float) -> harvest.Scan:
    n = len(lots)

    def col(name: str, default: object) -> np.ndarray:
        return np.array([lot.get(name, default) for lot in lots])

    return harvest.scan(
        position=col("position", 1),
        quantity=col("quantity", 10.0).astype(float),
        cost_basis=col("basis", 0.0).astype(float),
        price=col("price", 100.0).astype(float),
        holding_start=np.array([D(lot.get("start", "2026-03-02")) for lot in lots]),
        on=ON,
        taxable=col("taxable", True).astype(bool),
        st_rate=np.full(n, kw.get("st", 0.24)),
        lt_rate=np.full(n, kw.get("lt", 0.15)),
        min_loss_fraction=np.full(n, kw.get("fraction", 0.05)),
        min_loss_amount=np.full(n, kw.get("amount", 200.0)),
        min_net_benefit=np.full(n, kw.get("benefit", 25.0)),
        commission=kw.get("commission", 0.0),
        cost_bps=kw.get("bps", 5.0),
    )


def test_short_and_long_term_losses_are_valued_at_their_rates_net_of_costs() -> None:
    # VTI at 200: lot A 10 @ 250 since 2025-06-02 (long term, loss 500 = 20%), lot B 10 @ 230
    # since 2026-03-02 (short term, loss 300 = 13%), lot C 10 @ 150 (a gain: stays).
    # Tax value 300 x 24% + 500 x 15% = 72 + 75 = 147; cost 2 x 4,000 x 5 bps = 4; net 143.
    found = _scan(
        [
            {"basis": 2500.0, "price": 200.0, "start": "2025-06-02"},
            {"basis": 2300.0, "price": 200.0, "start": "2026-03-02"},
            {"basis": 1500.0, "price": 200.0, "start": "2023-01-03"},
        ]
    )
    assert found.selected.tolist() == [True, True, False]
    assert found.long_term.tolist() == [True, False, True]
    p = found.positions
    assert p.key.tolist() == [1]
    assert p.loss_short[0] == pytest.approx(300.0)
    assert p.loss_long[0] == pytest.approx(500.0)
    assert p.value[0] == pytest.approx(4000.0)
    assert p.tax_value[0] == pytest.approx(147.0)
    assert p.cost[0] == pytest.approx(4.0)
    assert p.benefit[0] == pytest.approx(143.0)


@pytest.mark.parametrize(
    ("lots", "kw", "harvested"),
    [
        # 10 bought for 2,100, now 2,000: loss 100 = 4.76% of basis < 5%
        ([{"basis": 2100.0, "price": 200.0}], {"amount": 50.0}, False),
        # just over 5%: (2,105.30 - 2,000) / 2,105.30 = 5.0015% qualifies (loss 105.30; its tax
        # value 25.27 - costs 2.00 = 23.27 is below 25, so the benefit floor is lowered here)
        ([{"basis": 2105.3, "price": 200.0}], {"amount": 100.0, "benefit": 20.0}, True),
        ([{"basis": 2105.3, "price": 200.0}], {"amount": 100.0}, False),
        # one lot losing 120 (12%) is below the 200 amount...
        ([{"basis": 1000.0, "price": 88.0}], {}, False),
        # ...but two lots of the same position losing 120 + 100 pass it together (220)
        (
            [{"basis": 1000.0, "price": 88.0}, {"basis": 1000.0, "price": 90.0, "quantity": 10.0}],
            {},
            True,
        ),
        # ST loss 250 on value 2,000 at 24% = 60; costs 2 x 2,000 x 50 bps = 20: net 40 >= 25
        ([{"basis": 2250.0, "price": 200.0}], {"bps": 50.0, "amount": 100.0}, True),
        # ... plus 10 commission each way: costs 40, net 20 < 25
        (
            [{"basis": 2250.0, "price": 200.0}],
            {"bps": 50.0, "amount": 100.0, "commission": 10.0},
            False,
        ),
        # IRA lots are never harvested
        ([{"basis": 3000.0, "price": 200.0, "taxable": False}], {}, False),
        # no price: never harvested
        ([{"basis": 3000.0, "price": np.nan}], {}, False),
    ],
)
def test_thresholds(lots: list[dict], kw: dict, harvested: bool) -> None:
    found = _scan(lots, **kw)
    assert (found.positions.key.size == 1) is harvested
    assert bool(found.selected.any()) is harvested


def test_positions_are_independent() -> None:
    found = _scan(
        [
            {"position": 7, "basis": 3000.0, "price": 200.0},  # loss 1,000
            {"position": 9, "basis": 2010.0, "price": 200.0},  # loss 10: no
            {"position": 8, "basis": 2600.0, "price": 200.0},  # loss 600
        ]
    )
    assert found.positions.key.tolist() == [7, 8]
    assert found.selected.tolist() == [True, False, True]


def test_empty_input() -> None:
    found = _scan([])
    assert found.positions.key.size == 0 and found.selected.size == 0


# --- resolve: the wash-sale guard and replacement choice -------------------------------------

VTI, ITOT, SCHB, VOO, IVV, BND, AGG = 1, 2, 3, 4, 5, 6, 7
GROUP = {VOO: -1, IVV: -1}  # VOO and IVV are substantially identical
REPL = {VTI: [ITOT, SCHB], ITOT: [VTI, SCHB], VOO: [IVV, VTI], BND: [AGG], AGG: [BND]}
PRICED = {VTI, ITOT, SCHB, VOO, IVV, BND, AGG}


def _resolve(cands: list[harvest.Candidate], **kw: object) -> harvest.Decisions:
    return harvest.resolve(
        cands,
        group_of=GROUP,
        recent_purchases=kw.get("recent", {}),
        scheduled_purchases=kw.get("scheduled", set()),
        blocked_buys=kw.get("blocked", set()),
        replacements=REPL,
        priced=kw.get("priced", PRICED),
    )


def test_clean_candidate_gets_its_first_replacement() -> None:
    d = _resolve([harvest.Candidate(1, 10, VTI, 100.0, frozenset({101}))])
    assert d.accepted == {(10, VTI): ITOT} and d.skipped == {}


def test_recent_purchase_in_any_account_skips_but_the_lots_sold_do_not_count() -> None:
    cand = harvest.Candidate(1, 10, VTI, 100.0, frozenset({101, 102}))
    assert _resolve([cand], recent={(1, VTI): {102}}).accepted == {(10, VTI): ITOT}
    d = _resolve([cand], recent={(1, VTI): {102, 555}})  # lot 555: bought in the IRA last week
    assert d.skipped == {(10, VTI): harvest.RECENT_PURCHASE}
    # another household's purchase is irrelevant
    assert _resolve([cand], recent={(2, VTI): {777}}).accepted == {(10, VTI): ITOT}


def test_identical_security_bought_recently_skips() -> None:
    d = _resolve([harvest.Candidate(1, 10, VOO, 100.0)], recent={(1, -1): {900}})
    assert d.skipped == {(10, VOO): harvest.RECENT_PURCHASE}


def test_identical_security_is_never_the_replacement() -> None:
    d = _resolve([harvest.Candidate(1, 10, VOO, 100.0)])
    assert d.accepted == {(10, VOO): VTI}  # IVV is skipped: substantially identical to VOO


def test_scheduled_purchase_skips() -> None:
    d = _resolve([harvest.Candidate(1, 10, VTI, 100.0)], scheduled={(1, VTI)})
    assert d.skipped == {(10, VTI): harvest.SCHEDULED_PURCHASE}


def test_blocked_replacement_falls_back_then_gives_up() -> None:
    cand = harvest.Candidate(1, 10, VTI, 100.0)
    assert _resolve([cand], blocked={(1, ITOT)}).accepted == {(10, VTI): SCHB}
    d = _resolve([cand], blocked={(1, ITOT), (1, SCHB)})
    assert d.skipped == {(10, VTI): harvest.NO_REPLACEMENT}
    assert _resolve([cand], priced={VTI, SCHB}).accepted == {(10, VTI): SCHB}


def test_two_harvests_in_one_household_never_wash_each_other() -> None:
    # The larger VTI harvest (account 10) buys ITOT, so the ITOT harvest in account 11 would be
    # washed by that purchase: it is skipped. Account 12 also sells VTI and buys ITOT (selling
    # the same security twice is fine). Household 2 is independent.
    d = _resolve(
        [
            harvest.Candidate(1, 10, VTI, 300.0),
            harvest.Candidate(1, 11, ITOT, 200.0),
            harvest.Candidate(1, 12, VTI, 100.0),
            harvest.Candidate(2, 20, ITOT, 50.0),
        ]
    )
    assert d.accepted == {(10, VTI): ITOT, (12, VTI): ITOT, (20, ITOT): VTI}
    assert d.skipped == {(11, ITOT): harvest.SCHEDULED_PURCHASE}


def test_a_sold_group_is_not_bought_back_as_another_harvests_replacement() -> None:
    # Account 10 sells VTI (largest benefit). Account 11 sells VOO, whose replacements are IVV
    # (identical to VOO: never) and VTI (sold at a loss by account 10 today: buying it would
    # wash that loss), so it is skipped.
    d = _resolve([harvest.Candidate(1, 10, VTI, 300.0), harvest.Candidate(1, 11, VOO, 100.0)])
    assert d.accepted == {(10, VTI): ITOT}
    assert d.skipped == {(11, VOO): harvest.NO_REPLACEMENT}


def test_engine_packages_never_import_django() -> None:
    code = (
        "import sys; import rebalancing.engine.harvest, rebalancing.engine.wash_sales; "
        "assert 'django' not in sys.modules, 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
