"""The tax-aware backtest: lots, realised gains, wash sales, harvesting and taxes paid.

Same event loop as `backtest` (see its docstring for the shared conventions), with these
differences:
- Holdings are tax lots. Every rebalance is `trades.generate` itself, called exactly as the
  drift check calls it: the policy's lot relief (losses first, then long-term, then short-term
  gains), short-term gains held back unless the policy allows them, the tax cap, and the
  wash-sale guard (`blocked`: no loss sale of a security bought in the past 30 days; `no_buy`:
  no purchase of a security sold at a loss in the past 30 days), with the household = the
  variant. Holding periods are measured on each variant's own day (`lots.is_long_term`).
- Wash sales that still happen (with `wash_sale_guard=False`, or a purchase the guard cannot
  see) are found with `wash_sales.match`: the disallowed loss is added back to the sale's
  realised result and to the replacement lot's basis, whose holding period starts earlier by
  the days the sold shares were held (`wash_sales.carried_holding_start`).
- Harvesting (optional, `HarvestRules`): on a day a lot is at least `min_loss_fraction` under
  its basis, `harvest.scan` and `harvest.resolve` decide with the product's thresholds and
  wash-sale checks; a harvest sells the qualifying lots and buys the first allowed replacement
  for the proceeds net of costs. A variant is looked at again `every` trading days at the
  soonest (the live scan runs each weekday).
- Realised gains are netted per calendar year by the product's own rule (`tax.schedule_d`:
  short-term against long-term, loss carried forward with its character); the $3,000
  deduction against other income is left out, it depends on income the backtest does not know. The tax of year Y is paid on the first
  trading day on or after 15 April of Y + 1 as a withdrawal (the policy raises the cash; those
  sales count in Y + 1). `pay_taxes=False` keeps the money invested and owes it at the end.
- Costs follow the engine's estimate convention: not added to basis nor deducted from proceeds.
- Distributions inside adjusted prices are reinvested untaxed (the prices carry them).
- After-tax value at the end = value - tax still owed - tax on selling every lot on the last
  day (the liquidation value); after-tax CAGR from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from portfolios.analytics import metrics
from rebalancing.engine import backtest, drift, harvest, lots, policy, trades, wash_sales
from rebalancing.engine.tax import year_tax

TAX_DAY = (4, 15)  # month, day on which last year's tax is paid


@dataclass(frozen=True)
class HarvestRules:
    """The harvest scan's thresholds (as in the harvest settings): a lot qualifies at a loss of
    `min_loss_fraction` of its basis; a position's qualifying loss must reach
    `min_loss_amount` and its tax value net of round-trip costs `min_net_benefit` (currency);
    `every`: trading days between two looks at one variant."""

    min_loss_fraction: float = 0.05
    min_loss_amount: float = 200.0
    min_net_benefit: float = 25.0
    every: int = 5


@dataclass(frozen=True)
class TaxSettings:
    """The investor's rates (fractions), whether the account is taxable (an IRA pays nothing),
    whether taxes are paid out of the portfolio, the wash-sale guard (the product's: on),
    harvesting (None: off), each security's harvest replacements (price columns, same class,
    in preference order) and the purchases made in the household's other accounts
    (`household_purchases`: columns date, security, value in currency, tax_advantaged), which
    count for the wash-sale rule across the household: they block loss sales and harvests
    within 30 days, and a loss sold anyway is disallowed against them (for good when the
    buying account is tax-advantaged; otherwise deferred into that account's basis)."""

    short_term_rate: float = 0.35
    long_term_rate: float = 0.15
    taxable: bool = True
    pay_taxes: bool = True
    wash_sale_guard: bool = True
    harvest: HarvestRules | None = None
    replacements: Mapping[str, Sequence[str]] = field(default_factory=dict)
    household_purchases: pd.DataFrame | None = None


@dataclass(frozen=True)
class TaxResult:
    """years [Y]; realised short/long-term gains per year [Y, V] (after wash-sale
    adjustments; negative = loss); tax [Y, V] due for each year; tax_paid [V] taken out of the
    portfolio; wash_sales [V] matches and disallowed [V] losses deferred or lost, of which
    disallowed_outside [V] against purchases in the household's other accounts;
    harvests [V] and harvested_loss [V]; owed [V] tax still due at the end; liquidation_tax
    [V] on selling everything on the last day; after_tax_value [V] = final value - owed -
    liquidation_tax; after_tax_cagr [V]; lots: the open lots at the end (DataFrame)."""

    years: np.ndarray
    realised_short_term: np.ndarray
    realised_long_term: np.ndarray
    tax: np.ndarray
    tax_paid: np.ndarray
    wash_sales: np.ndarray
    disallowed: np.ndarray
    disallowed_outside: np.ndarray
    harvests: np.ndarray
    harvested_loss: np.ndarray
    owed: np.ndarray
    liquidation_tax: np.ndarray
    after_tax_value: np.ndarray
    after_tax_cagr: np.ndarray
    lots: pd.DataFrame


class _Ledger:
    """Lots, loss sales and realised results of every variant; the tax-aware step."""

    def __init__(
        self,
        market: backtest._Market,
        n_v: int,
        tax: TaxSettings,
        replacements: dict[int, list[int]],
    ) -> None:
        self.market, self.tax, self.replacements = market, tax, replacements
        first, last = (int(str(market.dates[i])[:4]) for i in (0, -1))
        self.years = np.arange(first, last + 1)
        n_y, n_s = len(self.years), len(market.securities)
        self.short = np.zeros((n_y, n_v))
        self.long = np.zeros((n_y, n_v))
        self.tax_due = np.zeros((n_y, n_v))
        self.paid_through = np.full(n_v, first - 1)  # last tax year settled
        self.carry = (np.zeros(n_v), np.zeros(n_v))
        self.tax_paid = np.zeros(n_v)
        self.wash_count = np.zeros(n_v, dtype=np.int64)
        self.disallowed = np.zeros(n_v)
        self.harvests = np.zeros(n_v, dtype=np.int64)
        self.harvested = np.zeros(n_v)
        self.next_look = np.zeros(n_v, dtype=np.int64)
        self.trigger = np.zeros((n_v, n_s))  # price under which some lot may be harvested
        i, f, d = np.zeros(0, np.int64), np.zeros(0), np.zeros(0, "datetime64[D]")
        # open lots
        self.variant, self.security, self.lot_id = i, i, i
        self.shares, self.basis, self.start, self.acquired, self.used = f, f, d, d, f
        self.next_id = 1
        # loss sales (for wash-sale matching)
        self.s_variant, self.s_security, self.s_lot = i, i, i
        self.s_date, self.s_start, self.s_shares, self.s_loss, self.s_unmatched = d, d, f, f, f
        self.s_long = np.zeros(0, dtype=bool)
        years = self.years[1:]
        tax_dates = np.array(
            [f"{y}-{TAX_DAY[0]:02d}-{TAX_DAY[1]:02d}" for y in years], dtype="datetime64[D]"
        )
        days = np.searchsorted(market.dates, tax_dates)
        self.tax_days = np.unique(days[days < len(market.dates)]).astype(np.int64)
        self.tax_costs: trades.CostModel | None = None
        # purchases in the household's other accounts
        self.o_date = np.zeros(0, "datetime64[D]")
        self.o_security, self.o_shares = np.zeros(0, np.int64), np.zeros(0)
        self.o_advantaged = np.zeros(0, dtype=bool)
        self.o_used = np.zeros((n_v, 0))
        self.disallowed_outside = np.zeros(n_v)

    def add_household_purchases(self, frame: pd.DataFrame) -> None:
        """Purchases of the household's other accounts (date, security, value, tax_advantaged);
        shares at that day's close (a non-trading day: the next one)."""
        market = self.market
        index = {s: i for i, s in enumerate(market.securities)}
        unknown = sorted({str(s) for s in frame["security"]} - set(index))
        if unknown:
            raise ValueError(
                f"Household purchases of securities without prices: {', '.join(unknown)}."
            )
        dates = pd.to_datetime(frame["date"]).to_numpy(dtype="datetime64[D]")
        day = np.minimum(np.searchsorted(market.dates, dates), len(market.dates) - 1)
        security = np.array([index[str(s)] for s in frame["security"]], dtype=np.int64)
        self.o_date = dates
        self.o_security = security
        self.o_shares = frame["value"].to_numpy(dtype=float) / market.prices[day, security]
        self.o_advantaged = frame.get(
            "tax_advantaged", pd.Series(False, index=frame.index)
        ).to_numpy(dtype=bool)
        self.o_used = np.zeros((len(self.o_used), len(dates)))

    def outside_in_window(
        self, variant: int, today: np.datetime64, before: int, after: int
    ) -> list[tuple[int, int]]:
        """(variant, security) of other-account purchases from `before` days before `today` to
        `after` days after it (inclusive)."""
        near = (self.o_date >= today - before) & (self.o_date <= today + after)
        return [(variant, int(s)) for s in np.unique(self.o_security[near]).tolist()]

    # --- lots -------------------------------------------------------------------------
    def add_lots(
        self,
        variant: np.ndarray,
        security: np.ndarray,
        shares: np.ndarray,
        basis: np.ndarray,
        date: np.ndarray,
        start: np.ndarray | None = None,
    ) -> None:
        n = len(variant)
        if n == 0:
            return
        self.variant = np.concatenate((self.variant, variant))
        self.security = np.concatenate((self.security, security))
        self.lot_id = np.concatenate((self.lot_id, np.arange(self.next_id, self.next_id + n)))
        self.next_id += n
        self.shares = np.concatenate((self.shares, shares))
        self.basis = np.concatenate((self.basis, basis))
        self.start = np.concatenate((self.start, date if start is None else start))
        self.acquired = np.concatenate((self.acquired, date))
        self.used = np.concatenate((self.used, np.zeros(n)))

    def reduce_lots(self, index: np.ndarray, shares: np.ndarray) -> None:
        before = self.shares[index]
        fraction = np.divide(shares, before, out=np.ones_like(shares), where=before > 0)
        np.subtract.at(self.basis, index, self.basis[index] * np.minimum(fraction, 1.0))
        np.subtract.at(self.shares, index, np.minimum(shares, before))

    def compact(self) -> None:
        keep = self.shares > 1e-10
        if keep.all():
            return
        for name in (
            "variant",
            "security",
            "lot_id",
            "shares",
            "basis",
            "start",
            "acquired",
            "used",
        ):
            setattr(self, name, getattr(self, name)[keep])

    def holdings(self, n_v: int) -> np.ndarray:
        n_s = len(self.market.securities)
        return np.bincount(
            self.variant * n_s + self.security, weights=self.shares, minlength=n_v * n_s
        ).reshape(n_v, n_s)

    def record_losses(
        self,
        variant: np.ndarray,
        security: np.ndarray,
        lot: np.ndarray,
        date: np.ndarray,
        start: np.ndarray,
        shares: np.ndarray,
        gain: np.ndarray,
        long_term: np.ndarray,
    ) -> None:
        loss = gain < 0
        if not loss.any():
            return
        self.s_variant = np.concatenate((self.s_variant, variant[loss]))
        self.s_security = np.concatenate((self.s_security, security[loss]))
        self.s_lot = np.concatenate((self.s_lot, lot[loss]))
        self.s_date = np.concatenate((self.s_date, date[loss]))
        self.s_start = np.concatenate((self.s_start, start[loss]))
        self.s_shares = np.concatenate((self.s_shares, shares[loss]))
        self.s_loss = np.concatenate((self.s_loss, -gain[loss]))
        self.s_unmatched = np.concatenate((self.s_unmatched, shares[loss]))
        self.s_long = np.concatenate((self.s_long, long_term[loss]))

    def realise(
        self, variant: np.ndarray, date: np.ndarray, short: np.ndarray, long: np.ndarray
    ) -> None:
        year = date.astype("datetime64[Y]").astype(np.int64) + 1970 - self.years[0]
        np.add.at(self.short, (year, variant), short)
        np.add.at(self.long, (year, variant), long)

    # --- wash sales -------------------------------------------------------------------
    def match_wash_sales(self, variants: np.ndarray, today: np.ndarray) -> None:
        """Match the loss sales of `variants` with purchases within 30 days of them; a sale
        more than 30 days before the variant's `today` is then settled for good."""
        if len(self.s_variant) == 0:
            return
        # every open loss sale: a purchase up to 30 days after it may still match it
        recent = np.isin(self.s_variant, variants) & (self.s_unmatched > 1e-10)
        if not recent.any():
            return
        latest = np.full(
            int(max(variants.max(), self.s_variant.max())) + 1,
            np.datetime64("NaT"),
            dtype="datetime64[D]",
        )
        latest[variants] = today
        settled = recent & (self.s_date < latest[self.s_variant] - wash_sales.WINDOW_DAYS)
        sales = np.flatnonzero(recent)
        n_s = len(self.market.securities)
        candidates = np.flatnonzero(
            np.isin(self.variant, self.s_variant[sales]) & (self.shares - self.used > 1e-10)
        )
        # the household's other accounts: every purchase, for each variant selling
        sellers = np.unique(self.s_variant[sales])
        n_o = len(self.o_date)
        o_variant = np.repeat(sellers, n_o)
        o_index = np.tile(np.arange(n_o), len(sellers))
        o_available = self.o_shares[o_index] - self.o_used[o_variant, o_index]
        if len(candidates) == 0 and not (o_available > 1e-10).any():
            return
        found = wash_sales.match(
            sale_group=self.s_variant[sales] * n_s + self.s_security[sales],
            sale_date=self.s_date[sales],
            sale_quantity=self.s_shares[sales],
            sale_unmatched=self.s_unmatched[sales],
            sale_loss=self.s_loss[sales],
            sale_lot=self.s_lot[sales],
            sale_holding_start=self.s_start[sales],
            lot_id=np.concatenate((self.lot_id[candidates], -1 - np.arange(len(o_index)))),
            lot_group=np.concatenate(
                (
                    self.variant[candidates] * n_s + self.security[candidates],
                    o_variant * n_s + self.o_security[o_index],
                )
            ),
            lot_acquired=np.concatenate((self.acquired[candidates], self.o_date[o_index])),
            lot_available=np.concatenate(
                (self.shares[candidates] - self.used[candidates], o_available)
            ),
            lot_tax_advantaged=np.concatenate(
                (np.zeros(len(candidates), dtype=bool), self.o_advantaged[o_index])
            ),
        )
        if len(found) == 0:
            self.s_unmatched[settled] = 0.0  # nothing can match them any more
            return
        disallowed = found.disallowed
        sale = sales[found.sale]
        np.subtract.at(self.s_unmatched, sale, found.quantity)
        self.s_unmatched[settled] = 0.0  # nothing can match them any more
        variant = self.s_variant[sale]
        self.realise(
            variant,
            self.s_date[sale],
            np.where(self.s_long[sale], 0.0, disallowed),
            np.where(self.s_long[sale], disallowed, 0.0),
        )
        np.add.at(self.wash_count, variant, 1)
        np.add.at(self.disallowed, variant, disallowed)
        outside = found.lot >= len(candidates)
        if outside.any():
            j = o_index[found.lot[outside] - len(candidates)]
            np.add.at(self.o_used, (variant[outside], j), found.quantity[outside])
            np.add.at(self.disallowed_outside, variant[outside], disallowed[outside])
            keep = ~outside
            found = wash_sales.Matches(
                sale=found.sale[keep], lot=found.lot[keep], quantity=found.quantity[keep],
                disallowed=found.disallowed[keep], permanent=found.permanent[keep],
                holding_days=found.holding_days[keep],
            )  # fmt: skip
            disallowed = disallowed[keep]
            if len(found) == 0:
                self.compact()
                return
        lot = candidates[found.lot]
        # Split each matched lot: the matched shares become a lot with the higher basis and
        # the carried holding period; the rest stays as it was.
        basis_per_share = self.basis[lot] / self.shares[lot]
        self.reduce_lots(lot, found.quantity)
        carried = np.array(
            [
                wash_sales.carried_holding_start(a, d)
                for a, d in zip(self.acquired[lot], found.holding_days, strict=True)
            ],
            dtype="datetime64[D]",
        )
        before = len(self.shares)
        self.add_lots(
            self.variant[lot],
            self.security[lot],
            found.quantity,
            basis_per_share * found.quantity + disallowed,
            self.acquired[lot],
            carried,
        )
        self.used[before:] = found.quantity
        self.compact()

    # --- the step ---------------------------------------------------------------------
    def step(
        self,
        market: backtest._Market,
        policies: policy.Policies,
        costs: trades.CostModel,
        state: backtest._State,
        variants: np.ndarray,
        days: np.ndarray,
        schedule: backtest._Schedule,
        recorder: backtest._Recorder,
        initial: bool,
    ) -> None:
        tax = self.tax
        costs = self.tax_costs or costs
        prices = market.prices[days]  # [E, S]
        dates = market.dates[days]
        n_e = len(variants)
        flow = market.flows[days]
        withdrawal = np.maximum(-flow, 0.0)
        state.cash[variants] += np.maximum(flow, 0.0)
        if tax.harvest is not None and tax.taxable and not initial:
            self.harvest_now(state, variants, days, recorder, costs)
        # Last year's tax, on the payment day.
        paying = np.isin(days, self.tax_days) & tax.taxable
        due = np.zeros(n_e)
        if paying.any():
            self.match_wash_sales(variants[paying], dates[paying])  # final before the tax
            year_index = dates.astype("datetime64[Y]").astype(np.int64) + 1970 - 1 - self.years[0]
            for j in np.flatnonzero(paying):
                v, y = variants[j], year_index[j]
                due[j] = self.settle(v, y)
            if tax.pay_taxes:
                withdrawal = withdrawal + due
                np.add.at(self.tax_paid, variants, due)
        values = state.shares[variants] * prices
        cash = state.cash[variants]
        book = backtest._book(market, variants, values, cash)
        book_drift = drift.compute(book)
        scheduled = schedule.dates_for(variants, days)
        rows = backtest._policy_rows(
            policies,
            variants,
            last_calendar=np.where(initial, scheduled, state.last_calendar[variants]),
            cash_flow=policies.cash_flow[variants] | (withdrawal > 0) | initial,
        )
        decision = policy.evaluate(
            book, book_drift, rows, today=dates, scheduled=scheduled,
            vol_scale=None if market.vol_scale is None else market.vol_scale[days],
            withdrawal=withdrawal, explain=False,
        )  # fmt: skip
        position = np.full(len(state.cash), -1)
        position[variants] = np.arange(n_e)
        mine = np.flatnonzero(position[self.variant] >= 0)
        lot_day = days[position[self.variant[mine]]]
        lot_price = market.prices[lot_day, self.security[mine]]
        engine_lots = trades.Lots(
            portfolio=position[self.variant[mine]],
            security=self.security[mine],
            lot_id=self.lot_id[mine],
            quantity=self.shares[mine] * lot_price,  # money units, as in the book
            cost_basis=self.basis[mine],
            holding_start=self.start[mine],
            household=self.variant[mine],
        )
        blocked: set[tuple[int, int]] = set()
        no_buy: set[tuple[int, int]] = set()
        if tax.wash_sale_guard:
            lot_today = dates[position[self.variant[mine]]]
            recent = (self.acquired[mine] >= lot_today - wash_sales.WINDOW_DAYS) & (
                self.acquired[mine] <= lot_today
            )
            blocked = set(
                zip(
                    self.variant[mine][recent].tolist(),
                    self.security[mine][recent].tolist(),
                    strict=True,
                )
            )
            if len(self.o_date):
                for v, date in zip(variants.tolist(), dates, strict=True):
                    blocked.update(self.outside_in_window(v, date, wash_sales.WINDOW_DAYS, 0))
            s_pos = position[self.s_variant] if len(self.s_variant) else np.zeros(0, int)
            sold = np.flatnonzero(s_pos >= 0)
            window = self.s_date[sold] >= dates[s_pos[sold]] - wash_sales.WINDOW_DAYS
            no_buy = set(
                zip(
                    self.s_variant[sold][window].tolist(),
                    self.s_security[sold][window].tolist(),
                    strict=True,
                )
            )
        result = trades.generate(
            book, book_drift, decision, rows, engine_lots, today=dates, costs=costs,
            blocked=blocked, withdrawal=withdrawal, no_buy=no_buy, households=variants,
        )  # fmt: skip
        # Sales: relieve the lots, realise the gains.
        relieved = mine[result.lot]
        e_of = position[self.variant[relieved]]
        sold_shares = result.lot_quantity / market.prices[days[e_of], self.security[relieved]]
        gain = result.lot_short_term_gain + result.lot_long_term_gain
        self.realise(
            self.variant[relieved],
            dates[e_of],
            result.lot_short_term_gain,
            result.lot_long_term_gain,
        )
        self.record_losses(
            self.variant[relieved], self.security[relieved], self.lot_id[relieved], dates[e_of],
            self.start[relieved], sold_shares, gain, result.lot_long_term_gain != 0,
        )  # fmt: skip
        self.reduce_lots(relieved, sold_shares)
        # Buys: new lots.
        e, s = result.portfolio, result.security
        price = prices[e, s]
        buy = result.side > 0
        self.add_lots(
            variants[e[buy]],
            s[buy],
            result.quantity[buy] / price[buy],
            result.amount[buy],
            dates[e[buy]],
        )
        self.compact()
        if not tax.wash_sale_guard or tax.harvest is not None or len(self.o_date):
            self.match_wash_sales(variants, dates)
        state.shares[variants] = self.holdings(len(state.cash))[variants]
        paid = np.minimum(withdrawal, np.maximum(result.cash_after, 0.0))
        state.cash[variants] = result.cash_after - paid
        state.last_calendar[variants] = np.where(
            decision.calendar | initial, scheduled, state.last_calendar[variants]
        )
        state.position[variants] = days
        recorder.record(
            days,
            variants,
            (state.shares[variants] * prices).sum(axis=1) + state.cash[variants],
            state.cash[variants],
        )
        rule = backtest.rule_codes(decision, initial)
        cash_flow, tax_code = backtest.RULES.index("cash_flow"), backtest.RULES.index("tax")
        rule = np.where(paying & (rule == cash_flow), tax_code, rule).astype(np.int8)
        recorder.add_trades(
            variant=variants[e], day=days[e], security=s, side=result.side, quantity=result.quantity / price,
            price=price, amount=result.amount, cost=result.cost, rule=rule[e],
            short_term_gain=result.short_term_gain, long_term_gain=result.long_term_gain,
        )  # fmt: skip
        recorder.holdings.append((days, variants, state.shares[variants].copy()))
        self.update_trigger(variants)

    def settle(self, v: int, year: int) -> float:
        """Tax of year `year` (index) and of any earlier year not yet settled, for variant v."""
        total = 0.0
        while self.paid_through[v] < self.years[0] + year:
            y = self.paid_through[v] + 1 - self.years[0]
            amount, cs, cl = year_tax(
                self.short[y, v : v + 1], self.long[y, v : v + 1], self.carry[0][v : v + 1],
                self.carry[1][v : v + 1], self.tax.short_term_rate, self.tax.long_term_rate,
            )  # fmt: skip
            self.carry[0][v], self.carry[1][v] = cs[0], cl[0]
            self.tax_due[y, v] = amount[0]
            total += float(amount[0])
            self.paid_through[v] += 1
        return total

    # --- harvesting -------------------------------------------------------------------
    def update_trigger(self, variants: np.ndarray) -> None:
        rules = self.tax.harvest
        if rules is None or not self.tax.taxable:
            return
        n_s = len(self.market.securities)
        mine = np.isin(self.variant, variants)
        per_share = np.divide(
            self.basis[mine],
            self.shares[mine],
            out=np.zeros(int(mine.sum())),
            where=self.shares[mine] > 0,
        )
        trigger = np.zeros(len(self.trigger) * n_s)
        np.maximum.at(
            trigger,
            self.variant[mine] * n_s + self.security[mine],
            per_share * (1 - rules.min_loss_fraction),
        )
        self.trigger[variants] = trigger.reshape(-1, n_s)[variants]

    def fire(self, days: np.ndarray, variants: np.ndarray) -> np.ndarray:
        """[N] (day, variant) pairs on which some lot is far enough under water to look for a
        harvest."""
        under = (self.market.prices[days] < self.trigger[variants]).any(axis=1)
        return under & (days >= self.next_look[variants])

    def harvest_now(
        self,
        state: backtest._State,
        variants: np.ndarray,
        days: np.ndarray,
        recorder: backtest._Recorder,
        costs: trades.CostModel,
    ) -> None:
        rules = self.tax.harvest
        assert rules is not None
        market = self.market
        n_s = len(market.securities)
        look = days >= self.next_look[variants]
        if not look.any():
            return
        variants, days = variants[look], days[look]
        self.next_look[variants] = days + rules.every
        position = np.full(len(state.cash), -1)
        position[variants] = np.arange(len(variants))
        mine = np.flatnonzero(position[self.variant] >= 0)
        if len(mine) == 0:
            return
        e_of = position[self.variant[mine]]
        price = market.prices[days[e_of], self.security[mine]]
        on = market.dates[days[e_of]]
        ones = np.ones(len(mine))
        found = harvest.scan(
            position=self.variant[mine] * n_s + self.security[mine], quantity=self.shares[mine],
            cost_basis=self.basis[mine], price=price, holding_start=self.start[mine], on=on,
            taxable=np.ones(len(mine), dtype=bool), st_rate=ones * self.tax.short_term_rate,
            lt_rate=ones * self.tax.long_term_rate, min_loss_fraction=ones * rules.min_loss_fraction,
            min_loss_amount=ones * rules.min_loss_amount, min_net_benefit=ones * rules.min_net_benefit,
            commission=costs.commission, cost_bps=costs.slippage_bps,
        )  # fmt: skip
        if len(found.positions.key) == 0:
            return
        key = self.variant[mine] * n_s + self.security[mine]
        candidates = []
        for k, benefit in zip(
            found.positions.key.tolist(), found.positions.benefit.tolist(), strict=True
        ):
            v, s = divmod(k, n_s)
            lot_ids = frozenset(self.lot_id[mine][found.selected & (key == k)].tolist())
            candidates.append(
                harvest.Candidate(
                    household=v, portfolio=v, security=s, benefit=benefit, lots=lot_ids
                )
            )
        today_of = dict(zip(variants.tolist(), market.dates[days].tolist(), strict=True))
        recent: dict[tuple[int, int], list[int]] = {}
        for lot_id, v, s, acquired in zip(
            self.lot_id[mine].tolist(),
            self.variant[mine].tolist(),
            self.security[mine].tolist(),
            self.acquired[mine].tolist(),
            strict=True,
        ):
            if (today_of[v] - acquired).days <= wash_sales.WINDOW_DAYS:
                recent.setdefault((v, s), []).append(lot_id)
        blocked_buys = {
            (v, s)
            for v, s, d in zip(
                self.s_variant.tolist(), self.s_security.tolist(), self.s_date.tolist(), strict=True
            )
            if v in today_of and (today_of[v] - d).days <= wash_sales.WINDOW_DAYS
        }
        scheduled: set[tuple[int, int]] = set()
        for v, today in today_of.items():
            for pair in self.outside_in_window(
                v, np.datetime64(today, "D"), wash_sales.WINDOW_DAYS, 0
            ):
                recent.setdefault(pair, []).append(-1)  # bought in another account
            scheduled.update(
                self.outside_in_window(
                    v, np.datetime64(today, "D") + 1, 0, wash_sales.WINDOW_DAYS - 1
                )
            )
        decisions = harvest.resolve(
            candidates, group_of={}, recent_purchases=recent, scheduled_purchases=scheduled,
            blocked_buys=blocked_buys, replacements=self.replacements, priced=set(range(n_s)),
        )  # fmt: skip
        bps = costs.slippage_bps / 1e4
        for (v, s), r in decisions.accepted.items():
            j = position[v]
            day, date = days[j], market.dates[days[j]]
            chosen = mine[found.selected & (key == v * n_s + s)]
            shares = self.shares[chosen].copy()
            p_s, p_r = market.prices[day, s], market.prices[day, r]
            gain = shares * p_s - self.basis[chosen]
            long_term = lots.is_long_term(self.start[chosen], date)
            self.realise(
                np.full(len(chosen), v),
                np.full(len(chosen), date),
                np.where(long_term, 0.0, gain),
                np.where(long_term, gain, 0.0),
            )
            self.record_losses(
                np.full(len(chosen), v),
                self.security[chosen],
                self.lot_id[chosen],
                np.full(len(chosen), date),
                self.start[chosen],
                shares,
                gain,
                long_term,
            )
            self.reduce_lots(chosen, shares)
            proceeds = float(shares.sum() * p_s)
            sell_cost = costs.commission + bps * proceeds
            amount = max((proceeds - sell_cost - costs.commission) / (1 + bps), 0.0)
            buy_cost = costs.commission + bps * amount
            self.add_lots(
                np.array([v]),
                np.array([r]),
                np.array([amount / p_r]),
                np.array([amount]),
                np.array([date], dtype="datetime64[D]"),
            )
            state.cash[v] += proceeds - sell_cost - amount - buy_cost
            self.harvests[v] += 1
            self.harvested[v] -= float(gain.sum())
            recorder.add_trades(
                variant=np.array([v, v]), day=np.array([day, day]), security=np.array([s, r]),
                side=np.array([trades.SELL, trades.BUY]), quantity=np.array([shares.sum(), amount / p_r]),
                price=np.array([p_s, p_r]), amount=np.array([proceeds, amount]),
                cost=np.array([sell_cost, buy_cost]), rule=np.array(["harvest", "harvest"], dtype=object),
                short_term_gain=np.array([float(np.where(long_term, 0.0, gain).sum()), 0.0]),
                long_term_gain=np.array([float(np.where(long_term, gain, 0.0).sum()), 0.0]),
            )  # fmt: skip
        self.compact()
        state.shares[variants] = self.holdings(len(state.cash))[variants]

    # --- the end ----------------------------------------------------------------------
    def finish(self, state: backtest._State, recorder: backtest._Recorder) -> TaxResult:
        market = self.market
        n_v = len(state.cash)
        last = len(market.dates) - 1
        final_value = recorder.value[last]
        owed = np.zeros(n_v)
        liquidation = np.zeros(n_v)
        last_year = len(self.years) - 1
        # Sell everything on the last day: its gains count in the last year.
        price = market.prices[last, self.security]
        gain = self.shares * price - self.basis
        long_term = lots.is_long_term(self.start, market.dates[last])
        if self.tax.taxable:
            settled = np.array([self.settle(v, last_year - 1) for v in range(n_v)])
            owed = (
                self.tax_due[:last_year].sum(axis=0) - self.tax_paid
                if not self.tax.pay_taxes
                else settled
            )
            carry = (self.carry[0].copy(), self.carry[1].copy())
            rates = self.tax.short_term_rate, self.tax.long_term_rate
            base, _, _ = year_tax(self.short[last_year], self.long[last_year], *carry, *rates)
            short = self.short[last_year] + np.bincount(
                self.variant, np.where(long_term, 0.0, gain), minlength=n_v
            )
            long = self.long[last_year] + np.bincount(
                self.variant, np.where(long_term, gain, 0.0), minlength=n_v
            )
            full, _, _ = year_tax(short, long, *carry, *rates)
            owed = owed + base
            liquidation = full - base
            self.tax_due[last_year] = full
        after = final_value - owed - liquidation
        years = metrics.years(market.dates, last)
        start_value = recorder.value[0]
        cagr = np.where(after > 0, (np.maximum(after, 0) / start_value) ** (1 / years) - 1, -1.0)
        lots_frame = pd.DataFrame(
            {
                "variant": self.variant,
                "security": np.asarray(market.securities, dtype=object)[self.security],
                "shares": self.shares,
                "cost_basis": self.basis,
                "holding_start": self.start,
                "acquired": self.acquired,
            }
        )
        return TaxResult(
            years=self.years, realised_short_term=self.short, realised_long_term=self.long,
            tax=self.tax_due, tax_paid=self.tax_paid, wash_sales=self.wash_count,
            disallowed=self.disallowed, disallowed_outside=self.disallowed_outside, harvests=self.harvests, harvested_loss=self.harvested,
            owed=owed, liquidation_tax=liquidation, after_tax_value=after, after_tax_cagr=cagr,
            lots=lots_frame,
        )  # fmt: skip


def run(
    prices: pd.DataFrame,
    target: pd.Series | Mapping[str, float],
    policies: policy.Policies,
    *,
    asset_class: Mapping[str, str] | pd.Series | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    initial: float = 1_000_000.0,
    costs: trades.CostModel = backtest.FREE,
    flows: pd.Series | None = None,
    tax: TaxSettings,
    risk_free: float = 0.0,
    convention: metrics.Convention = "calendar",
) -> backtest.Result:
    """The tax-aware backtest (arguments as `backtest.run`; `Result.tax` is a TaxResult)."""
    if not isinstance(tax, TaxSettings):
        raise TypeError("tax must be a TaxSettings")
    extra = [r for rs in tax.replacements.values() for r in rs]
    market = backtest._validate(
        prices, pd.Series(target), policies, asset_class=asset_class, extra=list(dict.fromkeys(extra)),
        start=start, end=end, flows=flows, initial=initial,
    )  # fmt: skip
    index = {s: i for i, s in enumerate(market.securities)}
    replacements = {
        index[str(s)]: [index[str(r)] for r in rs]
        for s, rs in tax.replacements.items()
        if str(s) in index
    }
    n_v = len(policies.frequency)
    ledger = _Ledger(market, n_v, tax, replacements)
    if tax.household_purchases is not None and len(tax.household_purchases):
        ledger.add_household_purchases(tax.household_purchases)
    ledger.tax_costs = replace(
        costs, short_term_rate=tax.short_term_rate, long_term_rate=tax.long_term_rate
    )
    return backtest.simulate(
        market, policies, costs, initial=initial, step=ledger.step, risk_free=risk_free,
        convention=convention, extra_days=ledger.tax_days,
        extra_fire=ledger.fire if (tax.harvest is not None and tax.taxable) else None,
        finish=ledger.finish,
    )  # fmt: skip
