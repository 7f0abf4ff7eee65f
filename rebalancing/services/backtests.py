"""Backtests of an account's own policy beside its alternatives, cached by their inputs.

`request_backtest` reads the inputs (`selectors.backtests`), hashes them and finds or creates
the `BacktestRun` with that key (a unique constraint: two requests at once get one row). A new
run is small enough to compute in the request, or is sent to a worker (`run_backtest`) and the
page polls its progress. `run_backtest` claims the run by a conditional UPDATE (queued ->
running), so a message delivered twice, or a second worker, computes nothing twice; a run left
`running` past the task time limit (its worker died) or `queued` past the grace period (the
broker was down) is handed out again by `resume_if_stuck`, which the status poll calls. A new
run deletes the account's runs older than KEEP_DAYS (every new close makes a new key).

The numbers come from the engine in one call per mode: `backtest.run` (before tax) and, for a
taxable account, `backtest_tax.run` at the investor's rates as stored today (taxes paid out of
the portfolio, the after-tax value on liquidation). The stored result is plain numbers: the
value and drawdown series (thinned for the charts) and the metrics of every variant.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q

from advisor.core import clock
from portfolios.analytics import metrics
from portfolios.models import Portfolio
from rebalancing.engine import backtest, backtest_tax
from rebalancing.models import BacktestRun
from rebalancing.selectors import backtests as selectors
from rebalancing.services import dispatch

# days x variants computed in the request (about 0.3 s of engine time); more goes to a worker.
# A taxable account runs the pre-tax and the tax-aware mode, lots and all: it counts 3 times.
INLINE_CELLS = 20_000
TAXABLE_WEIGHT = 3
CHART_POINTS = 600  # points per chart series; the metrics use every day
QUEUED_GRACE_SECONDS = 60
KEEP_DAYS = 7  # older runs of an account are deleted when it gets a new one (new closes daily)


def describe(request: selectors.Request) -> dict[str, Any]:
    """The request as stored on the run (JSON)."""
    data = asdict(request)
    data["start"] = request.start.isoformat() if request.start else None
    data["end"] = request.end.isoformat() if request.end else None
    data["bands"] = list(request.bands)
    data["calendars"] = list(request.calendars)
    return data


def request_from(data: dict[str, Any]) -> selectors.Request:
    return selectors.Request(
        start=dt.date.fromisoformat(data["start"]) if data.get("start") else None,
        end=dt.date.fromisoformat(data["end"]) if data.get("end") else None,
        bands=tuple(float(b) for b in data.get("bands", ())),
        calendars=tuple(data.get("calendars", ())),
    )


def request_backtest(portfolio: Portfolio, request: selectors.Request) -> BacktestRun:
    """The run for these inputs: the cached one when it exists, else a new one, computed now
    when small and queued for a worker otherwise. Raises selectors.BacktestInputError."""
    inputs = selectors.load_backtest_inputs(portfolio, request)
    key = inputs.key()
    # Two requests at once: the unique constraint lets one create; get_or_create gives the other
    # the same row.
    run, created = BacktestRun.objects.get_or_create(
        portfolio=portfolio, key=key, defaults={"inputs": describe(request)}
    )
    if not created:
        return run
    BacktestRun.objects.filter(
        portfolio=portfolio, created_at__lt=clock.now() - dt.timedelta(days=KEEP_DAYS)
    ).delete()
    weight = TAXABLE_WEIGHT if inputs.taxable else 1
    if len(inputs.prices) * len(inputs.variants) * weight <= INLINE_CELLS:
        run_backtest(run.pk, inputs=inputs)
        run.refresh_from_db()
    else:
        dispatch.send_on_commit(dispatch.RUN_BACKTEST, run.pk)
    return run


def _claim(run_id: int) -> bool:
    return (
        BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.QUEUED).update(
            status=BacktestRun.Status.RUNNING, started_at=clock.now(), progress=5
        )
        == 1
    )


def _progress(run_id: int, percent: int) -> None:
    BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.RUNNING).update(
        progress=percent
    )


def _finish(run_id: int, **fields: Any) -> None:
    BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.RUNNING).update(
        finished_at=clock.now(), progress=100, **fields
    )


def run_backtest(run_id: int, *, inputs: selectors.BacktestInputs | None = None) -> str:
    """Compute a queued run once (a second call, or a second worker, finds it claimed and
    returns its status). A bad input (a window without data, a security without prices in
    it) ends the run `failed` with the engine's message for the page."""
    if not _claim(run_id):
        return BacktestRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or ""
    run = BacktestRun.objects.select_related("portfolio").get(pk=run_id)
    try:
        if inputs is None:
            inputs = selectors.load_backtest_inputs(run.portfolio, request_from(run.inputs))
        _progress(run_id, 15)
        result = compute(inputs, progress=lambda p: _progress(run_id, p))
    except ValueError as exc:  # BacktestInputError and the engine's input errors
        _finish(run_id, status=BacktestRun.Status.FAILED, error=str(exc))
        return BacktestRun.Status.FAILED
    _finish(run_id, status=BacktestRun.Status.DONE, result=result)
    return BacktestRun.Status.DONE


def resume_if_stuck(run: BacktestRun) -> bool:
    """Send a run again when its message was lost (queued past the grace period) or its worker
    died (running past the task time limit). True when it was sent."""
    now = clock.now()
    stuck = Q(
        status=BacktestRun.Status.QUEUED,
        created_at__lt=now - dt.timedelta(seconds=QUEUED_GRACE_SECONDS),
    ) | Q(
        status=BacktestRun.Status.RUNNING,
        started_at__lt=now - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30),
    )
    # Back to queued (and the creation time moved on, so one poll re-sends it once a minute).
    reset = BacktestRun.objects.filter(stuck, pk=run.pk).update(
        status=BacktestRun.Status.QUEUED, progress=0, created_at=now
    )
    if reset:
        dispatch.send_on_commit(dispatch.RUN_BACKTEST, run.pk)
    return bool(reset)


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: None stands for "not defined"."""
    value = float(x)
    return value if math.isfinite(value) else None


def _ratio(x: float) -> float | str | None:
    """A ratio that may be infinite (Sortino without a shortfall, Calmar without a drawdown)."""
    value = float(x)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return _number(value)


def _day(x: np.datetime64) -> str | None:
    return None if np.isnat(x) else str(np.datetime_as_string(x, unit="D"))


def _thin(n: int) -> np.ndarray:
    """Rows kept for the charts: every k-th day, and always the last."""
    step = max(1, math.ceil(n / CHART_POINTS))
    rows = np.arange(0, n, step)
    return rows if rows[-1] == n - 1 else np.append(rows, n - 1)


def _metrics(result: backtest.Result, v: int) -> dict[str, Any]:
    s = result.summary
    return {
        "final_value": _number(result.value[-1, v]),
        "total_return": _number(s.total_return[v]),
        "cagr": _number(s.cagr[v]),
        "volatility": _number(s.volatility[v]),
        "sharpe": _ratio(s.sharpe[v]),
        "sortino": _ratio(s.sortino[v]),
        "max_drawdown": _number(s.drawdown.depth[v]),
        "drawdown_peak": _day(s.drawdown.peak[v]),
        "drawdown_trough": _day(s.drawdown.trough[v]),
        "drawdown_recovery": _day(s.drawdown.recovery[v]),
        "calmar": _ratio(s.calmar[v]),
        "turnover": _number(result.turnover[v]),
        "costs": _number(result.costs[v]),
        "trades": int(np.count_nonzero(result.trades.variant == v)),
    }


def _after_tax(taxed: backtest.Result, v: int) -> dict[str, Any]:
    tax = taxed.tax
    assert isinstance(tax, backtest_tax.TaxResult)
    return {
        "taxes_paid": _number(tax.tax_paid[v]),
        "tax_owed_at_end": _number(tax.owed[v] + tax.liquidation_tax[v]),
        "after_tax_value": _number(tax.after_tax_value[v]),
        "after_tax_cagr": _number(tax.after_tax_cagr[v]),
        "realised_short_term": _number(tax.realised_short_term[:, v].sum()),
        "realised_long_term": _number(tax.realised_long_term[:, v].sum()),
    }


def compute(inputs: selectors.BacktestInputs, *, progress: Any = None) -> dict[str, Any]:
    """Run the engine on the inputs and return the stored result (plain numbers)."""
    arguments = {
        "asset_class": inputs.asset_class, "start": inputs.start, "end": inputs.end,
        "initial": inputs.initial, "costs": inputs.costs, "convention": "calendar",
    }  # fmt: skip
    pretax = backtest.run(inputs.prices, inputs.target, inputs.policies, **arguments)  # type: ignore[arg-type]
    shown = pretax
    if progress:
        progress(55)
    if inputs.taxable:
        settings_ = backtest_tax.TaxSettings(
            short_term_rate=inputs.short_term_rate, long_term_rate=inputs.long_term_rate
        )
        shown = backtest_tax.run(
            inputs.prices,
            inputs.target,
            inputs.policies,
            tax=settings_,
            **arguments,  # type: ignore[arg-type]
        )
        if progress:
            progress(90)
    rows = _thin(len(shown.dates))
    drawdown = metrics.drawdown_series(shown.value)
    variants = []
    for v, variant in enumerate(inputs.variants):
        entry: dict[str, Any] = {"kind": variant.kind, "value": variant.value}
        entry.update(_metrics(shown, v))
        entry["pretax_cagr"] = _number(pretax.summary.cagr[v])
        if inputs.taxable:
            entry.update(_after_tax(shown, v))
        entry["series"] = [round(float(x), 2) for x in shown.value[rows, v]]
        entry["drawdown_series"] = [round(float(x), 5) for x in drawdown[rows, v]]
        variants.append(entry)
    return {
        "start": _day(shown.dates[0]),
        "end": _day(shown.dates[-1]),
        "days": len(shown.dates),
        "dates": [_day(d) for d in shown.dates[rows]],
        "initial": inputs.initial,
        "convention": shown.summary.convention,
        "taxable": inputs.taxable,
        "short_term_rate": inputs.short_term_rate,
        "long_term_rate": inputs.long_term_rate,
        "commission": inputs.costs.commission,
        "slippage_bps": inputs.costs.slippage_bps,
        "target": {t: float(w) for t, w in inputs.target.items()},
        "classes": {t: str(c) for t, c in inputs.asset_class.items()},
        "class_names": inputs.class_names,
        "variants": variants,
    }
