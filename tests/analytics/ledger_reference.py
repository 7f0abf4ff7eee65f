"""An independent, deliberately naive reference for the ledger-based analytics: one account at a
time, one transaction at a time, plain Python floats and dicts. Tests compare the vectorised
code against it on generated ledgers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from portfolios.analytics import history

START = np.datetime64("2024-01-01", "D")


@dataclass
class GeneratedLedger:
    ledger: history.Ledger
    dates: np.ndarray
    closes: np.ndarray  # [T, S] (may hold NaN before a security starts trading)


@st.composite
def ledgers(
    draw: st.DrawFn,
    *,
    max_accounts: int = 3,
    max_days: int = 40,
    n_securities: int = 2,
    external_flows: bool = True,
    allow_gaps: bool = True,
) -> GeneratedLedger:
    """Valid ledgers (no negative cash, never more sold than held) of a few accounts, with a
    calendar that may skip days (transactions on skipped days count on the next one)."""
    n_days = draw(st.integers(3, max_days))
    steps = draw(st.lists(st.integers(1, 3 if allow_gaps else 1), min_size=n_days, max_size=n_days))
    dates = START + np.cumsum(steps).astype("timedelta64[D]")
    moves = draw(
        st.lists(
            st.floats(-0.08, 0.08, allow_nan=False),
            min_size=n_days * n_securities,
            max_size=n_days * n_securities,
        )
    )
    closes = 50.0 * np.cumprod(1.0 + np.array(moves).reshape(n_days, n_securities), axis=0)
    late_start = draw(st.integers(0, n_days // 2))
    closes[:late_start, n_securities - 1] = np.nan  # the last security starts trading later
    n_accounts = draw(st.integers(1, max_accounts))
    rows: dict[str, list] = {
        k: [] for k in ("account", "date", "kind", "security", "quantity", "amount", "fees")
    }

    def add(
        account: int,
        day: np.datetime64,
        kind: str,
        amount: float,
        security: int = -1,
        quantity: float = 0.0,
        fees: float = 0.0,
    ) -> None:
        for key, value in zip(
            rows, (account, day, kind, security, quantity, amount, fees), strict=True
        ):
            rows[key].append(value)

    for account in range(n_accounts):
        first = draw(st.integers(0, n_days - 1))
        cash, held = 0.0, [0.0] * n_securities
        for t in range(first, n_days):
            # A transaction may be dated on a skipped day just before the calendar day.
            day = (
                dates[t] - np.timedelta64(draw(st.integers(0, int(steps[t]) - 1)), "D")
                if t > 0
                else dates[t]
            )
            if t == first:
                amount = round(draw(st.floats(100, 10_000)), 2)
                if draw(st.booleans()) or not np.isfinite(closes[t, 0]):
                    add(account, day, "deposit", amount)
                    cash += amount
                else:
                    q = round(draw(st.floats(1, 50)), 4)
                    add(account, day, "transfer_in", 0.0, 0, q)
                    held[0] += q
            for _ in range(draw(st.integers(0, 2))):
                action = draw(
                    st.sampled_from(
                        ["buy", "sell", "dividend", "interest", "fee"]
                        + (
                            ["deposit", "withdrawal", "transfer_in", "transfer_out"]
                            if external_flows
                            else []
                        )
                    )
                )
                s = draw(st.integers(0, n_securities - 1))
                price = closes[t, s]
                if action == "buy" and np.isfinite(price) and cash > 10:
                    fee = round(draw(st.floats(0, 5)), 2)
                    q = round((cash - fee) * draw(st.floats(0.1, 1.0)) / price, 4)
                    trade_price = price * (1 + draw(st.floats(-0.01, 0.01)))
                    cost = round(q * trade_price, 2) + fee
                    if q > 0 and cost <= cash:
                        add(account, day, "buy", -cost, s, q, fee)
                        cash -= cost
                        held[s] += q
                elif action == "sell" and np.isfinite(price) and held[s] > 0:
                    q = (
                        held[s]
                        if draw(st.booleans())
                        else round(held[s] * draw(st.floats(0.1, 0.9)), 4)
                    )
                    fee = round(draw(st.floats(0, 2)), 2)
                    proceeds = round(q * price, 2) - fee
                    if q > 0 and cash + proceeds >= 0:
                        add(account, day, "sell", proceeds, s, q, fee)
                        cash += proceeds
                        held[s] -= q
                elif action in ("dividend", "interest") and cash + sum(held) > 1:
                    amount = round(draw(st.floats(0.01, 50)), 2)
                    add(
                        account,
                        day,
                        action,
                        amount,
                        s if action == "dividend" and held[s] > 0 else -1,
                    )
                    cash += amount
                elif action == "fee" and cash >= 1 and sum(held) > 0:
                    amount = round(min(cash, draw(st.floats(0.01, 20))), 2)
                    add(account, day, "fee", -amount)
                    cash -= amount
                elif action == "deposit":
                    amount = round(draw(st.floats(1, 5_000)), 2)
                    add(account, day, "deposit", amount)
                    cash += amount
                elif action == "withdrawal" and cash >= 1:
                    amount = round(cash * draw(st.floats(0.1, 1.0)), 2)
                    if 0 < amount <= cash:
                        add(account, day, "withdrawal", -amount)
                        cash -= amount
                elif (
                    action == "transfer_in"
                    and np.isfinite(closes[max(t - 1, 0), s])
                    and np.isfinite(price)
                ):
                    q = round(draw(st.floats(0.5, 20)), 4)
                    add(account, day, "transfer_in", 0.0, s, q)
                    held[s] += q
                elif action == "transfer_out" and np.isfinite(price) and held[s] > 0:
                    q = held[s]
                    add(account, day, "transfer_out", 0.0, s, q)
                    held[s] = 0.0
    ledger = history.Ledger.from_columns(
        account=rows["account"],
        date=np.array(rows["date"], dtype="datetime64[D]"),
        kind=rows["kind"],
        security=rows["security"],
        quantity=rows["quantity"],
        amount=rows["amount"],
        fees=rows["fees"],
        n_accounts=n_accounts,
    )
    return GeneratedLedger(ledger, dates, closes)


@dataclass
class Reference:
    value: list[float | None]  # None before inception
    inflow: list[float]
    outflow: list[float]
    flows: list[tuple[int, float]]  # (calendar day number, investor-signed amount)


def simulate(generated: GeneratedLedger, account: int) -> Reference:
    """Walk the calendar day by day, applying the account's transactions in a Python loop."""
    ledger, dates, closes = generated.ledger, generated.dates, generated.closes
    last_close: dict[int, float] = {}
    cash, held = 0.0, {}
    started = False
    value, inflow, outflow, flows = [], [], [], []
    rows = [i for i in range(len(ledger)) if ledger.account[i] == account]
    for t, day in enumerate(dates):
        previous = dict(last_close)
        for s in range(closes.shape[1]):
            if not math.isnan(closes[t, s]):
                last_close[s] = float(closes[t, s])
        todays = [
            i
            for i in rows
            if (dates[t - 1] if t else np.datetime64("1900-01-01")) < ledger.date[i] <= day
        ]
        day_in = day_out = 0.0
        for i in todays:
            started = True
            kind = history.KINDS[ledger.kind[i]]
            amount, s, q = (
                float(ledger.amount[i]),
                int(ledger.security[i]),
                float(ledger.quantity[i]),
            )
            cash += amount
            if kind in ("buy", "transfer_in") and s >= 0:
                held[s] = held.get(s, 0.0) + q
            if kind in ("sell", "transfer_out") and s >= 0:
                held[s] = held.get(s, 0.0) - q
            if kind in ("deposit", "withdrawal", "transfer_in", "transfer_out"):
                if amount > 0:
                    day_in += amount
                elif amount < 0:
                    day_out -= amount
                if kind == "transfer_in" and s >= 0:
                    day_in += q * previous.get(s, last_close.get(s, math.nan))
                if kind == "transfer_out" and s >= 0:
                    day_out += q * last_close[s]
        inflow.append(day_in)
        outflow.append(day_out)
        day_number = int(day.astype(np.int64))
        if day_in:
            flows.append((day_number, -day_in))
        if day_out:
            flows.append((day_number, day_out))
        if not started:
            value.append(None)
            continue
        total = cash
        for s, q in held.items():
            if abs(q) > 1e-9:
                total += q * last_close.get(s, math.nan)
        value.append(total)
    return Reference(value, inflow, outflow, flows)


def subperiod_twr(ref: Reference) -> float:
    """GIPS sub-period method: a new sub-period at every external flow, valued just before an
    inflow (previous close) and just after an outflow is paid (the close plus the outflow);
    TWR = product of the sub-period returns. Independent of the daily chain's bookkeeping."""
    growth = 1.0
    begin = None  # capital at the start of the current sub-period
    for t, v in enumerate(ref.value):
        if v is None:
            continue
        before = ref.value[t - 1] if t > 0 and ref.value[t - 1] is not None else 0.0
        if ref.inflow[t]:
            if begin is not None and begin > 1e-6:
                growth *= before / begin
            begin = before + ref.inflow[t]
        if begin is None:
            begin = before
        if ref.outflow[t]:
            if begin > 1e-6:
                growth *= (v + ref.outflow[t]) / begin
            begin = v
    last = ref.value[-1]
    if begin is not None and begin > 1e-6 and last is not None:
        growth *= last / begin
    return growth - 1.0
