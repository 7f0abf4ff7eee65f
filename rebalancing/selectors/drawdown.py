"""Households fallen beyond their stated tolerance, for the adviser console's flag."""

from __future__ import annotations

from collections.abc import Iterable

from rebalancing.models import DrawdownEpisode


def households_beyond_tolerance(
    household_ids: Iterable[int] | None = None,
) -> dict[int, DrawdownEpisode]:
    """{household id: its ongoing episode} for households whose time-weighted drawdown has
    passed the loss they said they could bear and not recovered yet (the daily check keeps
    the rows current; services/drawdown.py). One query; None means every household."""
    episodes = DrawdownEpisode.objects.ongoing().order_by("household_id", "-peak_on")
    if household_ids is not None:
        episodes = episodes.filter(household_id__in=list(household_ids))
    out: dict[int, DrawdownEpisode] = {}
    for episode in episodes:
        out.setdefault(episode.household_id, episode)
    return out
