"""Drift checks: load a batch of portfolios set-based, compute in numpy, write proposals in bulk.

- `check_portfolios(ids, ...)`: the core for any number of portfolios (one scan batch; see
  `services/scans.py` for the scan's life cycle).
- `run_drift_check(portfolio, dry_run=...)`: one portfolio (the "check now" button and
  `manage.py drift_check --portfolio`).
A rerun (retry, second worker, next scan) writes only what is missing, because the proposal
writer keeps identical pending proposals.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from django.conf import settings

from advisor.core import clock
from portfolios.models import Portfolio
from rebalancing.engine import drift, policy, trades
from rebalancing.models import Proposal
from rebalancing.selectors import drift as selectors
from rebalancing.services import drafts, proposals, switch_back

MAX_ERRORS = 200


@dataclass
class CheckResult:
    """Outcome for one portfolio. status: proposed | unchanged (identical proposal already
    waiting) | no_action (no rule fired) | no_trades (a rule fired but no trade passed the
    constraints) | skipped (missing or stale prices) | would_propose (dry run)."""

    portfolio_id: int
    status: str
    rule: str = ""
    reason: str = ""
    notes: str = ""
    proposal_id: int | None = None
    draft: drafts.ProposalDraft | None = None


@dataclass
class BatchResult:
    results: list[CheckResult] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return sum(1 for r in self.results if r.status != "skipped")


def cost_model(batch: selectors.DriftBatch) -> trades.CostModel:
    """Costs of the configured broker (commission per trade, slippage bps) and each
    investor's tax year (rates, realised so far, carryovers; `selectors.tax`) and lot relief
    method."""
    return trades.CostModel(
        commission=float(settings.ADVISOR_PAPER_COMMISSION),
        slippage_bps=float(settings.ADVISOR_PAPER_SLIPPAGE_BPS),
        short_term_rate=batch.short_term_rate,
        long_term_rate=batch.long_term_rate,
        realised_short_term=batch.realised_short_term,
        realised_long_term=batch.realised_long_term,
        carry_short=batch.carry_short,
        carry_long=batch.carry_long,
        loss_limit=batch.loss_limit,
        relief=batch.relief,
    )


def _mask(decision: policy.Decision, keep: np.ndarray) -> policy.Decision:
    return policy.Decision(
        threshold=decision.threshold & keep,
        calendar=decision.calendar & keep,
        cash_flow=decision.cash_flow & keep,
        rule=np.where(keep, decision.rule, ""),
        reason=np.where(keep, decision.reason, ""),
        band=decision.band,
        outside=decision.outside,
        calendar_due=decision.calendar_due,
    )


def compute_batch(portfolio_ids: Iterable[int], *, today: dt.date) -> tuple[BatchResult, list[int]]:
    """Load and compute one batch; returns the results (with drafts) and the ids that were
    checked and need no proposal (their pending rebalance proposal is retired when writing)."""
    batch = selectors.load_drift_batch(portfolio_ids, today=today)
    book = batch.book
    out = BatchResult()
    n = len(book.portfolio_ids)
    if n == 0:
        return out, []
    state = drift.compute(book)
    labels = tuple(batch.class_names.get(code, code) for code in book.classes)
    selectors.load_withdrawals(batch)
    withdrawal = batch.withdrawal if batch.withdrawal is not None else np.zeros(n)
    # Cash the investor asked for is raised even where the policy does not deploy cash flows.
    batch.policies = replace(batch.policies, cash_flow=batch.policies.cash_flow | (withdrawal > 0))
    decision = policy.evaluate(
        book,
        state,
        batch.policies,
        today=today,
        vol_scale=batch.vol_scale,
        labels=labels,
        withdrawal=withdrawal,
    )

    unpriced, too_old = _unchecked(batch, state, today)
    skip = unpriced | too_old
    decision = _mask(decision, ~skip)
    selectors.load_for_trading(
        batch, np.flatnonzero((decision.fired | _may_switch_back(batch)) & ~skip), today=today
    )
    result = trades.generate(
        book,
        state,
        decision,
        batch.policies,
        batch.lots,
        today=today,
        costs=cost_model(batch),
        blocked=batch.blocked_sells,
        no_buy=batch.no_buy,
        households=batch.owners,
        withdrawal=withdrawal,
    )
    nothing_needed = _results(batch, state, decision, result, unpriced, skip, out)
    # Where no rule traded, a harvest replacement may go back to the preferred security.
    nothing_needed = switch_back.add_switches(
        batch, state, out.results, nothing_needed, today=today, costs=cost_model(batch)
    )
    return out, nothing_needed


def _unchecked(
    batch: selectors.DriftBatch, state: drift.Drift, today: dt.date
) -> tuple[np.ndarray, np.ndarray]:
    """Per portfolio: missing a price it needs, and priced too long ago to trade on."""
    n = len(batch.book.portfolio_ids)
    # One check per distinct price date (a batch has a handful), not per portfolio.
    dates = batch.prices_as_of
    too_old = np.zeros(n, dtype=bool)
    for d in np.unique(dates[~np.isnat(dates)]):
        if proposals.prices_too_old(d.astype(dt.date), today):
            too_old |= dates == d
    unpriced = batch.missing_price | (
        np.isnat(batch.prices_as_of) & (state.total > 0) & (batch.book.target.sum(axis=1) > 0)
    )
    return unpriced, too_old


def _may_switch_back(batch: selectors.DriftBatch) -> np.ndarray:
    """Portfolios holding a lot of a security other than its class's preferred one: a switch
    back may sell it, so the wash-sale guard loads for them as for a fired rule."""
    book, lots = batch.book, batch.lots
    foreign = np.zeros(len(book.portfolio_ids), dtype=bool)
    if len(lots.lot_id):
        preferred = book.target_security[lots.portfolio, book.security_class[lots.security]]
        foreign[lots.portfolio[(preferred >= 0) & (preferred != lots.security)]] = True
    return foreign


def _results(
    batch: selectors.DriftBatch,
    state: drift.Drift,
    decision: policy.Decision,
    result: trades.Trades,
    unpriced: np.ndarray,
    skip: np.ndarray,
    out: BatchResult,
) -> list[int]:
    """One CheckResult per portfolio (a draft where trades are proposed) into `out`; returns
    the portfolios checked that need no proposal."""
    columns = drafts.TradeRows(result, batch)
    nothing_needed: list[int] = []
    fired = decision.fired.tolist()
    counts = result.count().tolist()
    for i, pid in enumerate(batch.portfolio_id_list):
        if skip[i]:
            why = (
                "missing prices"
                if unpriced[i]
                else f"prices older than {settings.ADVISOR_MAX_PRICE_AGE_DAYS} trading days"
            )
            out.results.append(CheckResult(pid, "skipped", notes=why))
            if len(out.errors) < MAX_ERRORS:
                out.errors.append(f"Portfolio {pid} skipped: {why}.")
            continue
        if not fired[i]:
            out.results.append(CheckResult(pid, "no_action"))
            nothing_needed.append(pid)
            continue
        if counts[i] == 0:
            out.results.append(
                CheckResult(
                    pid,
                    "no_trades",
                    str(decision.rule[i]),
                    str(decision.reason[i]),
                    str(result.notes[i]),
                )
            )
            nothing_needed.append(pid)
            continue
        draft = _draft(i, batch, state, decision, result, columns)
        out.results.append(
            CheckResult(
                pid, "would_propose", draft.rule, draft.reason, str(result.notes[i]), draft=draft
            )
        )
    return nothing_needed


def _draft(
    i: int,
    batch: selectors.DriftBatch,
    state: drift.Drift,
    decision: policy.Decision,
    result: trades.Trades,
    columns: drafts.TradeRows,
) -> drafts.ProposalDraft:
    """The proposal of portfolio `i` for the rules that fired."""
    fired = [
        name
        for name, flag in (
            ("threshold", decision.threshold[i]),
            ("calendar", decision.calendar[i]),
            ("cash_flow", decision.cash_flow[i]),
        )
        if flag
    ]
    notes = str(result.notes[i])
    reason = str(decision.reason[i]) + (" " + notes if notes else "")
    target = batch.book.target[i].tolist()
    bands = np.round(decision.band[i], 6).tolist()
    pid = batch.portfolio_id_list[i]
    withdrawal = (
        {
            "request": batch.withdrawal_requests[pid],
            "amount": f"{float(batch.withdrawal[i]):.2f}",  # type: ignore[index]
        }
        if pid in batch.withdrawal_requests
        else None
    )
    return drafts.from_trades(
        i,
        batch,
        state,
        result,
        columns,
        rule=str(decision.rule[i]),
        reason=reason,
        details={
            **_held_back(result, i),
            "rules_fired": fired,
            "bands": {
                code: b
                for code, b, t in zip(batch.book.classes, bands, target, strict=True)
                if t > 0 and math.isfinite(b)
            },
            **({"withdrawal": withdrawal} if withdrawal else {}),
        },
    )


def _held_back(result: trades.Trades, i: int) -> dict[str, float]:
    """The short-term gain the policy kept unsold, when there is one (dollars, rounded)."""
    held = result.held_back_short_term_gain
    if held is None or not held[i] > 0.005:
        return {}
    return {"short_term_gain_held_back": round(float(held[i]), 2)}


def check_portfolios(
    portfolio_ids: Iterable[int],
    *,
    today: dt.date | None = None,
    scan_run_id: int | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Check the portfolios and (unless dry_run) write their rebalance proposals: an identical
    pending one is kept, a different one superseded, and a pending one of a portfolio that no
    longer needs it is retired. The writer hands new proposals on (auto-approval or a
    notification of the investor) once the caller's transaction commits."""
    today = today or clock.today()
    out, nothing_needed = compute_batch(portfolio_ids, today=today)
    if dry_run:
        return out
    written = proposals.write_proposals(  # atomic on its own
        [r.draft for r in out.results if r.draft is not None],
        kind=Proposal.Kind.REBALANCE,
        scan_run_id=scan_run_id,
        retire_others_for=nothing_needed,
    )
    created = {p.portfolio_id: p.pk for p in written.created}
    kept = set(written.kept)
    for r in out.results:
        if r.draft is None:
            continue
        if r.portfolio_id in created:
            r.status, r.proposal_id = "proposed", created[r.portfolio_id]
        elif r.portfolio_id in kept:
            r.status = "unchanged"
    out.created = sorted(created.values())
    return out


def run_drift_check(
    portfolio: Portfolio | int, *, dry_run: bool = False, today: dt.date | None = None
) -> CheckResult:
    """Check one portfolio now (same computation as the scan). Returns its outcome."""
    pk = portfolio if isinstance(portfolio, int) else portfolio.pk
    result = check_portfolios([pk], today=today, dry_run=dry_run)
    if not result.results:
        return CheckResult(pk, "skipped", notes="portfolio not found")
    return result.results[0]
