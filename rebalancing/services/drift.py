"""Drift checks: load a batch of portfolios set-based, compute in numpy, write proposals in bulk.

- `check_portfolios(ids, ...)`: the core for any number of portfolios (one batch).
- `run_drift_check(portfolio, dry_run=...)`: one portfolio (the "check now" button and
  `manage.py drift_check --portfolio`).
- `run_drift_scan(...)`: the scheduled scan; records a ScanRun, splits the active portfolios
  into batches (settings.ADVISOR_SCAN_BATCH_SIZE) and enqueues `check_drift_batch` per batch.
- `check_drift_batch(scan_run_id, portfolio_ids, number=...)`: one batch of a scan. The
  proposals and the batch's statistics commit in ONE transaction, so a worker killed halfway
  leaves nothing half-written; a rerun (retry, second worker, next scan) writes only what is
  missing, because the proposal writer keeps identical pending proposals.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F

from advisor.core import clock
from portfolios.models import Portfolio
from rebalancing import selectors
from rebalancing.engine import drift, policy, trades
from rebalancing.models import Proposal, ProposedTrade, ScanBatch, ScanRun
from rebalancing.services import proposals, switch_back

log = logging.getLogger(__name__)
MAX_ERRORS = 200
ABANDONED_AFTER = dt.timedelta(hours=6)


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
    draft: proposals.ProposalDraft | None = None


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
    investor's tax rates (from the profile; its defaults without one)."""
    return trades.CostModel(
        commission=float(settings.ADVISOR_PAPER_COMMISSION),
        slippage_bps=float(settings.ADVISOR_PAPER_SLIPPAGE_BPS),
        short_term_rate=batch.short_term_rate,
        long_term_rate=batch.long_term_rate,
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
    decision = policy.evaluate(
        book, state, batch.policies, today=today, vol_scale=batch.vol_scale, labels=labels
    )

    # One check per distinct price date (a batch has a handful), not per portfolio.
    dates = batch.prices_as_of
    too_old = np.zeros(n, dtype=bool)
    for d in np.unique(dates[~np.isnat(dates)]):
        if proposals.prices_too_old(d.astype(dt.date), today):
            too_old |= dates == d
    unpriced = batch.missing_price | (
        np.isnat(batch.prices_as_of) & (state.total > 0) & (book.target.sum(axis=1) > 0)
    )
    skip = unpriced | too_old
    decision = _mask(decision, ~skip)
    # The wash-sale guard for the households that may trade: a fired rule, or a lot of a
    # security other than its class's preferred one (a switch back may sell it).
    lots = batch.lots
    foreign = np.zeros(n, dtype=bool)
    if len(lots.lot_id):
        preferred = book.target_security[lots.portfolio, book.security_class[lots.security]]
        foreign[lots.portfolio[(preferred >= 0) & (preferred != lots.security)]] = True
    selectors.load_for_trading(
        batch, np.flatnonzero((decision.fired | foreign) & ~skip), today=today
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
    )
    counts = result.count()
    order = np.argsort(result.portfolio, kind="stable")
    starts = np.searchsorted(result.portfolio[order], np.arange(n + 1)).tolist()
    order = order.tolist()
    lot_order = np.argsort(result.lot_trade, kind="stable")
    lot_starts = np.searchsorted(
        result.lot_trade[lot_order], np.arange(len(result.portfolio) + 1)
    ).tolist()
    lot_order = lot_order.tolist()
    columns = _TradeColumns(result, batch.lots, book, batch.price_dates)
    nothing_needed: list[int] = []

    fired = decision.fired.tolist()
    counts = counts.tolist()
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
        rows = order[starts[i] : starts[i + 1]]
        reliefs = [lot_order[lot_starts[r] : lot_starts[r + 1]] for r in rows]
        draft = _draft(i, batch, state, decision, result, columns, rows, reliefs)
        out.results.append(
            CheckResult(
                pid, "would_propose", draft.rule, draft.reason, str(result.notes[i]), draft=draft
            )
        )
    # Where no rule traded, a harvest replacement may go back to the preferred security.
    nothing_needed = switch_back.add_switches(
        batch, state, out.results, nothing_needed, today=today, costs=cost_model(batch)
    )
    return out, nothing_needed


class _TradeColumns:
    """The batch's trade and lot-relief arrays as Python lists, converted once: indexing a
    numpy array element by element costs more than the formatting done with the value."""

    def __init__(
        self, result: trades.Trades, lots: trades.Lots, book: drift.Book, price_dates: np.ndarray
    ) -> None:
        self.security = result.security.tolist()
        self.buy = (result.side > 0).tolist()
        self.quantity = result.quantity.tolist()
        self.price = result.price.tolist()
        self.short_term_gain = result.short_term_gain.tolist()
        self.long_term_gain = result.long_term_gain.tolist()
        self.cost = result.cost.tolist()
        self.lot_id = lots.lot_id[result.lot].tolist()
        self.lot_quantity = result.lot_quantity.tolist()
        self.lot_short_term_gain = result.lot_short_term_gain.tolist()
        self.lot_long_term_gain = result.lot_long_term_gain.tolist()
        # [price, date] each security's proposal records (one entry per security of the batch)
        self.price_used = [
            [f"{price:.6f}", str(day)]
            for price, day in zip(book.prices.tolist(), price_dates.tolist(), strict=True)
        ]


def _draft(
    i: int,
    batch: selectors.DriftBatch,
    state: drift.Drift,
    decision: policy.Decision,
    result: trades.Trades,
    columns: _TradeColumns,
    rows: list[int],
    reliefs: list[list[int]],
) -> proposals.ProposalDraft:
    """The proposal of portfolio `i`: its trade `rows` and each row's lot `reliefs`."""
    book = batch.book
    drafts: list[proposals.TradeDraft] = []
    prices_used: dict[str, list[str]] = {}
    c = columns
    for sequence, (r, relief) in enumerate(zip(rows, reliefs, strict=True)):
        s = c.security[r]
        lots = [
            {
                "lot": c.lot_id[m],
                "quantity": f"{c.lot_quantity[m]:.8f}",
                "short_term_gain": f"{c.lot_short_term_gain[m]:.2f}",
                "long_term_gain": f"{c.lot_long_term_gain[m]:.2f}",
            }
            for m in relief
        ]
        drafts.append(
            proposals.TradeDraft(
                security_id=batch.security_id_list[s],
                side=ProposedTrade.Side.BUY if c.buy[r] else ProposedTrade.Side.SELL,
                quantity=Decimal(f"{c.quantity[r]:.8f}"),
                price=Decimal(f"{c.price[r]:.6f}"),
                lots=lots,
                est_short_term_gain=proposals.money(c.short_term_gain[r]),
                est_long_term_gain=proposals.money(c.long_term_gain[r]),
                est_cost=proposals.money(c.cost[r]),
                sequence=sequence,
            )
        )
        prices_used[batch.tickers[s]] = c.price_used[s]
    fired = [
        name
        for name, flag in (
            ("threshold", decision.threshold[i]),
            ("calendar", decision.calendar[i]),
            ("cash_flow", decision.cash_flow[i]),
        )
        if flag
    ]
    reason = str(decision.reason[i])
    notes = str(result.notes[i])
    if notes:
        reason += " " + notes
    classes = book.classes
    # before, after, target, drift, band, held: rounded to 6 places in one numpy call
    before, after, target, drifted, band, held = np.round(
        np.vstack(
            [
                state.weights[i],
                result.weights_after[i],
                book.target[i],
                state.drift[i],
                decision.band[i],
                state.class_values[i],
            ]
        ),
        6,
    ).tolist()
    totals = result.total_short_term_gain, result.total_long_term_gain, result.tax
    short_term, long_term, tax = (float(a[i]) for a in totals)
    return proposals.ProposalDraft(
        portfolio_id=batch.portfolio_id_list[i],
        rule=str(decision.rule[i]),
        reason=reason,
        prices_as_of=batch.prices_as_of[i].astype(dt.date),
        holdings_fingerprint=batch.fingerprint(batch.portfolio_id_list[i]),
        trades=drafts,
        before_weights=proposals.weights(classes, before),
        after_weights=proposals.weights(classes, after),
        target_weights=proposals.weights(classes, target),
        drift=proposals.weights(classes, drifted),
        details={
            "rules_fired": fired,
            "bands": {
                code: b
                for code, b, t in zip(classes, band, target, strict=True)
                if t > 0 and math.isfinite(b)
            },
            "class_names": {
                code: batch.class_names.get(code, code)
                for code, t, v in zip(classes, target, held, strict=True)
                if t > 0 or v > 0
            },
            "prices": prices_used,
            "cash_before": f"{float(book.cash[i]):.2f}",
            "cash_after": f"{float(result.cash_after[i]):.2f}",
            "notes": notes,
        },
        total_value=proposals.money(float(state.total[i])),
        est_short_term_gain=proposals.money(short_term),
        est_long_term_gain=proposals.money(long_term),
        est_tax=proposals.money(tax),
        est_cost=proposals.money(float(result.total_cost[i])),
    )


def check_portfolios(
    portfolio_ids: Iterable[int],
    *,
    today: dt.date | None = None,
    scan_run_id: int | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Check the portfolios and (unless dry_run) write their rebalance proposals: an identical
    pending one is kept, a different one superseded, and a pending one of a portfolio that no
    longer needs it is retired. New proposals are handed to `process_new_proposals` (auto-approve
    or notify the investor) after the commit of the caller's transaction (or at once)."""
    from rebalancing import tasks

    today = today or clock.today()
    out, nothing_needed = compute_batch(portfolio_ids, today=today)
    if dry_run:
        return out
    drafts = [r.draft for r in out.results if r.draft is not None]
    written = proposals.write_proposals(  # atomic on its own
        drafts,
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
    if out.created:
        tasks.process_new_proposals.delay_on_commit(out.created)
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


def run_drift_scan(*, today: dt.date | None = None, batch_size: int | None = None) -> ScanRun:
    """Start a scan over every active portfolio: a ScanRun, its batches, one task per batch
    (enqueued after the commit). Older runs left RUNNING by a crash are marked failed."""
    from rebalancing import tasks

    today = today or clock.today()
    size = max(1, batch_size or settings.ADVISOR_SCAN_BATCH_SIZE)
    now = clock.now()
    with transaction.atomic():
        ScanRun.objects.filter(
            kind=ScanRun.Kind.DRIFT,
            status=ScanRun.Status.RUNNING,
            started_at__lt=now - ABANDONED_AFTER,
        ).update(status=ScanRun.Status.FAILED, finished_at=now)
        ids = list(Portfolio.objects.active().order_by("pk").values_list("pk", flat=True))
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        run = ScanRun.objects.create(
            kind=ScanRun.Kind.DRIFT, as_of=today, batches_total=len(chunks)
        )
        ScanBatch.objects.bulk_create(
            [
                ScanBatch(scan_run=run, number=n, portfolio_ids=chunk)
                for n, chunk in enumerate(chunks)
            ]
        )
        if not chunks:
            run.status, run.finished_at, run.duration_seconds = ScanRun.Status.FINISHED, now, 0.0
            run.save(update_fields=["status", "finished_at", "duration_seconds"])
        for n, chunk in enumerate(chunks):
            tasks.check_drift_batch.delay_on_commit(run.pk, chunk, n)
    return run


def check_drift_batch(scan_run_id: int, portfolio_ids: list[int], number: int | None = None) -> int:
    """One batch of a scan; returns the number of proposals created. Proposals and statistics
    commit together; a batch already finished still re-checks (harmless) but counts once."""
    run = ScanRun.objects.filter(pk=scan_run_id).only("pk", "as_of").first()
    if run is None:
        return 0
    if number is None:
        number = (
            ScanBatch.objects.filter(scan_run_id=scan_run_id, portfolio_ids=portfolio_ids)
            .values_list("number", flat=True)
            .first()
            or 0
        )
    started = time.perf_counter()
    try:
        with transaction.atomic():
            result = check_portfolios(portfolio_ids, today=run.as_of, scan_run_id=run.pk)
            _finish_batch(
                run.pk,
                number,
                checked=result.checked,
                created=len(result.created),
                errors=result.errors,
            )
    except Exception as exc:  # record it for the admin; the next scan retries these portfolios
        log.exception("drift batch %s of scan %s failed", number, scan_run_id)
        with transaction.atomic():
            _finish_batch(
                run.pk,
                number,
                checked=0,
                created=0,
                errors=[f"Batch {number} failed: {exc!r}"[:500]],
            )
        return 0
    log.info(
        "drift batch %s of scan %s: %s proposals in %.2fs",
        number,
        scan_run_id,
        len(result.created),
        time.perf_counter() - started,
    )
    return len(result.created)


def _finish_batch(
    run_id: int, number: int, *, checked: int, created: int, errors: list[str]
) -> None:
    now = clock.now()
    claimed = ScanBatch.objects.filter(
        scan_run_id=run_id, number=number, finished_at__isnull=True
    ).update(finished_at=now, portfolios_checked=checked, proposals_created=created)
    if not claimed:
        return  # a retry or a second worker: counted already
    run = ScanRun.objects.select_for_update().get(pk=run_id)
    run.batches_done = F("batches_done") + 1
    run.portfolios_checked = F("portfolios_checked") + checked
    run.proposals_created = F("proposals_created") + created
    if errors and len(run.errors) < MAX_ERRORS:
        run.errors = (run.errors + errors)[:MAX_ERRORS]
    run.save(update_fields=["batches_done", "portfolios_checked", "proposals_created", "errors"])
    run.refresh_from_db(fields=["batches_done", "batches_total", "started_at", "status"])
    if run.batches_done >= run.batches_total and run.status == ScanRun.Status.RUNNING:
        run.status = ScanRun.Status.FINISHED
        run.finished_at = now
        run.duration_seconds = (now - run.started_at).total_seconds()
        run.save(update_fields=["status", "finished_at", "duration_seconds"])
