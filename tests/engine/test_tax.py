"""Schedule D netting, hand-worked (IRS Schedule D and its Capital Loss Carryover Worksheet)."""

import numpy as np
import pytest

from rebalancing.engine import tax

ST, LT = 0.24, 0.15


def test_short_loss_offsets_long_gain_at_the_long_term_rate() -> None:
    # The proposal: 7,863.32 - 2,444.80 = 5,418.52 long-term taxed at 15% = 812.78,
    # not 7,863.32 x 15% - 2,444.80 x 24% = 592.75.
    est = tax.estimate_tax(-2444.80, 7863.32, short_rate=ST, long_rate=LT)
    assert est.tax == pytest.approx(812.778)
    assert est.after.taxed_long_term == pytest.approx(5418.52)
    assert est.after.taxed_short_term == 0.0
    assert est.after.carry_short_term == est.after.carry_long_term == 0.0


@pytest.mark.parametrize(
    ("short", "long", "deduction", "carry_short", "carry_long"),
    [
        # Both losses, 7,000 in all: 3,000 deducted, the short-term part first (2,000 + 1,000),
        # 4,000 long-term carried.
        (-2000.0, -5000.0, 3000.0, 0.0, 4000.0),
        # Short-term alone exceeds the limit: 1,000 short and all 2,500 long carried.
        (-4000.0, -2500.0, 3000.0, 1000.0, 2500.0),
        # Short gain, long loss: net -3,000 deducted, nothing carried.
        (5000.0, -8000.0, 3000.0, 0.0, 0.0),
        # Short loss larger than the long gain: the rest is a short-term loss.
        (-9000.0, 2000.0, 3000.0, 4000.0, 0.0),
    ],
)
def test_losses_beyond_the_limit_carry_with_their_character(
    short: float, long: float, deduction: float, carry_short: float, carry_long: float
) -> None:
    n = tax.schedule_d(short, long, short_rate=ST, long_rate=LT)
    assert n.ordinary_deduction == pytest.approx(deduction)
    assert n.carry_short_term == pytest.approx(carry_short)
    assert n.carry_long_term == pytest.approx(carry_long)
    assert n.tax == pytest.approx(-deduction * ST)  # 3,000 x 24% = 720 saved


def test_married_filing_separately_deducts_1500() -> None:
    limit = tax.loss_limit(np.array([True, False]))
    n = tax.schedule_d(-5000.0, 0.0, short_rate=ST, long_rate=LT, limit=limit)
    np.testing.assert_allclose(n.ordinary_deduction, [1500.0, 3000.0])
    np.testing.assert_allclose(n.carry_short_term, [3500.0, 2000.0])
    np.testing.assert_allclose(n.tax, [-360.0, -720.0])


def test_gains_realised_earlier_in_the_year_change_what_a_loss_is_worth() -> None:
    # 10,000 long-term gain already realised: a 2,000 short-term loss offsets it at 15% (300),
    # but against 5,000 of short-term gains it saves 24% (480).
    against_long = tax.estimate_tax(
        -2000.0, 0.0, short_rate=ST, long_rate=LT, realised_long_term=10000.0
    )
    assert against_long.before.tax == pytest.approx(1500.0)
    assert against_long.tax == pytest.approx(-300.0)
    against_short = tax.estimate_tax(
        -2000.0, 0.0, short_rate=ST, long_rate=LT, realised_short_term=5000.0
    )
    assert against_short.tax == pytest.approx(-480.0)


def test_a_carried_loss_absorbs_a_gain_before_it_is_taxed() -> None:
    # 1,000 short-term loss carried in: alone it is deducted (saves 240); with a 3,000
    # long-term gain it offsets 1,000 of it instead: 2,000 x 15% = 300. The sale adds 540.
    est = tax.estimate_tax(0.0, 3000.0, short_rate=ST, long_rate=LT, carry_short=1000.0)
    assert est.before.tax == pytest.approx(-240.0)
    assert est.after.tax == pytest.approx(300.0)
    assert est.tax == pytest.approx(540.0)


def test_vectorised_rows_are_independent() -> None:
    est = tax.estimate_tax(
        np.array([-2444.80, 1000.0, -500.0]),
        np.array([7863.32, 0.0, 0.0]),
        short_rate=np.array([0.24, 0.32, 0.0]),
        long_rate=np.array([0.15, 0.15, 0.0]),
    )
    np.testing.assert_allclose(est.tax, [812.778, 320.0, 0.0])


def test_the_backtest_nets_with_the_same_rule_without_the_deduction() -> None:
    due, carry_short, carry_long = tax.year_tax(
        np.array([-4000.0]), np.array([1000.0]), np.zeros(1), np.zeros(1), ST, LT
    )
    assert due[0] == 0.0
    assert (carry_short[0], carry_long[0]) == (3000.0, 0.0)
