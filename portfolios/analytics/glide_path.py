"""Glide path: the risk level a dated goal should use as its date nears.

Schedule (years left until the goal date -> highest risk level allowed):

    20+ years: 10 | 15-20: 9 | 10-15: 8 | 7-10: 7 | 5-7: 6 | 3-5: 5 | 2-3: 4 | 1-2: 3 | < 1: 2

The goal's level is min(investor's level, cap for the years left), so a cautious investor is
never pushed up, and a 10-year goal held by an aggressive investor steps down one level at each
boundary. The reasoning is the same as target-date funds: with little time left a large fall
cannot be recovered, so the money moves towards bonds and cash (level 2, not 1, so that the
last year still earns more than cash). Emergency funds use the short end whatever the date.
"""

from __future__ import annotations

from dataclasses import dataclass

# (minimum years left, highest level); checked from the top.
SCHEDULE: tuple[tuple[float, int], ...] = (
    (20.0, 10),
    (15.0, 9),
    (10.0, 8),
    (7.0, 7),
    (5.0, 6),
    (3.0, 5),
    (2.0, 4),
    (1.0, 3),
    (0.0, 2),
)


def level_cap(years_left: float) -> int:
    """Highest risk level (1..10) for a goal `years_left` years away (negative == past due)."""
    for min_years, cap in SCHEDULE:
        if years_left >= min_years:
            return cap
    return SCHEDULE[-1][1]


def glide_level(base_level: int, years_left: float) -> int:
    """The risk level a goal uses: min(base_level, level_cap(years_left)), at least 1."""
    return max(1, min(int(base_level), level_cap(years_left)))


@dataclass(frozen=True)
class GlideStep:
    years_left: float  # years left at the start of this step
    level: int


def schedule(base_level: int, years_left: float) -> list[GlideStep]:
    """The steps from today to the goal date: each point (years left) where the level changes."""
    steps = [GlideStep(round(max(years_left, 0.0), 2), glide_level(base_level, years_left))]
    for min_years, _cap in SCHEDULE:
        if 0 < min_years < years_left:
            level = glide_level(base_level, min_years - 1e-9)  # the level just inside the boundary
            if level != steps[-1].level:
                steps.append(GlideStep(min_years, level))
    return steps


def monthly_levels(base_level: int, months: int) -> list[int]:
    """The level for each month 0..months-1 of a goal `months` months away."""
    return [glide_level(base_level, (months - t) / 12.0) for t in range(months)]
