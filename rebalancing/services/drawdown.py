"""Drawdown alerts: tell the investor, once per episode, when the household has fallen further
than they said they could bear.

The tolerance is the worst one-year result of the range the investor chose in their latest
questionnaire ("outcome_range"); a household without that answer is not checked. The fall is
measured on the household's time-weighted wealth index from the ledger (a withdrawal is not a
loss), episode by episode (portfolios.analytics.drawdown): an episode starts at a peak and
ends when the index is back there.

Once only: a `DrawdownEpisode` row per (household, peak day), unique, written with its
notification in one transaction. The daily check is safe to run twice or in two workers: the
second finds the row (or loses the insert race) and only refreshes its depth and recovery. An
episode first seen after it recovered (the check did not run meanwhile) is recorded without an
alert: news of a fall that is over would only alarm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from accounts.models import RiskAssessment
from advisor.core.chunks import chunks
from portfolios.analytics import drawdown
from portfolios.models import Portfolio
from portfolios.performance import selectors
from rebalancing.models import DrawdownEpisode, Notification
from rebalancing.services import dispatch

QUESTION = "outcome_range"
BATCH_HOUSEHOLDS = 200  # a history array is [days, accounts]: 10 years x 1,000 accounts ~ 21 MB
# The worst one-year result of each range offered (accounts/questionnaire.py). The "worst 0%"
# range alerts from a 5% fall: any fall is beyond it, and a dip of cents would be noise.
WORST_LOSS = {"r0": 0.05, "r1": 0.05, "r2": 0.12, "r3": 0.22, "r4": 0.32}
CHOSEN_WORST = {"r0": 0.0, "r1": 0.05, "r2": 0.12, "r3": 0.22, "r4": 0.32}


def tolerances() -> dict[int, tuple[float, float]]:
    """{user id: (alert threshold, worst loss they chose)} from each latest assessment."""
    latest: dict[int, list] = {}
    for user_id, answers in RiskAssessment.objects.order_by(
        "user_id", "submitted_at", "id"
    ).values_list("user_id", "answers"):
        latest[user_id] = answers
    out = {}
    for user_id, answers in latest.items():
        chosen = next((a.get("option") for a in answers if a.get("question") == QUESTION), None)
        if chosen in WORST_LOSS:
            out[user_id] = (WORST_LOSS[chosen], CHOSEN_WORST[chosen])
    return out


def _notify(episode: DrawdownEpisode, chosen_worst: float) -> Notification:
    note = Notification.objects.create(
        user_id=episode.household_id,
        kind=Notification.Kind.DRAWDOWN,
        title=f"Your household is {abs(float(episode.depth)) * 100:.1f}% below its high",
        body=render_to_string(
            "rebalancing/drawdown_alert.txt", {"episode": episode, "chosen_worst": chosen_worst}
        ).strip(),
        url="/performance/",
    )
    dispatch.send_on_commit(dispatch.SEND_NOTIFICATION_EMAIL, note.pk)
    return note


def _record(household_id: int, fields: dict, *, ongoing: bool, chosen_worst: float) -> bool:
    """Create the episode (and its alert when ongoing) or refresh it; True when created."""
    key = {"household_id": household_id, "peak_on": fields.pop("peak_on")}
    try:
        with transaction.atomic():
            episode = DrawdownEpisode.objects.create(**key, **fields)
            if ongoing:
                episode.notification = _notify(episode, chosen_worst)
                episode.save(update_fields=["notification"])
            return True
    except IntegrityError:
        DrawdownEpisode.objects.filter(**key).update(
            **{k: fields[k] for k in ("trough_on", "depth", "recovered_on")}
        )
        return False


def _check_batch(
    owner_ids: Sequence[int], limits: dict[int, tuple[float, float]], today: dt.date
) -> tuple[int, int, int]:
    """(households, episodes, alerts) of one batch of households, computed in one pass."""
    portfolios = list(Portfolio.objects.filter(owner_id__in=list(owner_ids)).active())
    data = selectors.household_returns(portfolios, today=today) if portfolios else None
    if data is None:
        return 0, 0, 0
    threshold = np.array([limits[o][0] for o in data.owner_ids])
    found = drawdown.drawdown_episodes(data.returns, threshold)
    days = [d.item() for d in data.dates]
    alerts = 0
    for i in range(len(found.series)):
        owner = data.owner_ids[int(found.series[i])]
        ongoing = int(found.recovery[i]) < 0
        fields = {
            "peak_on": days[max(int(found.peak[i]), 0)],
            "breached_on": days[int(found.breach[i])],
            "trough_on": days[int(found.trough[i])],
            "depth": Decimal(f"{float(found.depth[i]):.6f}"),
            "tolerance": Decimal(f"{limits[owner][0]:.4f}"),
            "recovered_on": None if ongoing else days[int(found.recovery[i])],
        }
        created = _record(owner, fields, ongoing=ongoing, chosen_worst=limits[owner][1])
        alerts += int(created and ongoing)
    return len(data.owner_ids), len(found.series), alerts


def check_drawdowns(*, today: dt.date) -> dict[str, int]:
    """The daily check over every household with a stated tolerance (see the module
    docstring), in batches of `BATCH_HOUSEHOLDS` so that memory stays bounded."""
    limits = tolerances()
    totals = np.zeros(3, dtype=np.int64)
    for batch in chunks(sorted(limits), BATCH_HOUSEHOLDS):
        totals += _check_batch(batch, limits, today)
    households, episodes, alerts = (int(v) for v in totals)
    return {"households": households, "episodes": episodes, "alerts": alerts}
