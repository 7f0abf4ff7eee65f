"""Risk questionnaire scoring: pure Python, no Django (a test checks).

Every scored answer carries its *points* on the question's scale 0..max_points, where more
points always means "more able or more willing to take risk". Two scores, each 0..100:

* **tolerance** - willingness: goal, experience, self-assessment, reaction to a fall, the
  loss-aversion trade-offs. The weighted mean of points / max_points, times 100.
* **capacity** - ability: age, horizon, income stability, emergency fund, liquidity needs,
  share of net worth invested. Same formula.

Combination (the rule serious advisers use: the lower of the two dominates):

    level_of(score)  = 1 + min(9, floor(score / 10))        # 0..9.99 -> 1, 90..100 -> 10
    capacity cap     = min(level_of(capacity), every answer's level_cap)
    risk level       = min(level_of(tolerance), capacity cap)

An answer option may carry a `level_cap` (a short horizon, money needed within a few years):
whatever the tolerance, the level never exceeds it. Caps must not decrease as an answer's
points increase, otherwise a riskier answer could lower the level (`score` raises ValueError).

Scoring reads only the answers it is given; profile facts such as sex or marital status are
never passed in (a test shows they cannot change the level).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TOLERANCE = "tolerance"
CAPACITY = "capacity"
DIMENSIONS = (TOLERANCE, CAPACITY)
MIN_LEVEL, MAX_LEVEL = 1, 10


@dataclass(frozen=True)
class Answer:
    """One scored answer. `points` in 0..max_points; `level_cap` None means no cap."""

    question: str
    dimension: str
    points: int
    max_points: int
    weight: float = 1.0
    level_cap: int | None = None
    question_text: str = ""
    answer_text: str = ""

    @property
    def fraction(self) -> float:
        """points / max_points, 0..1 (1 == the riskiest answer)."""
        return self.points / self.max_points if self.max_points else 0.0


@dataclass(frozen=True)
class Flag:
    """An inconsistency the adviser should review; `code` is stable, `message` plain words."""

    code: str
    message: str


@dataclass(frozen=True)
class Cap:
    question: str
    level: int
    answer_text: str = ""


@dataclass(frozen=True)
class RiskScore:
    tolerance: float  # 0..100
    capacity: float  # 0..100
    tolerance_level: int  # 1..10, what willingness alone would give
    capacity_level: int  # 1..10, what ability alone would give
    max_level: int  # 1..10, the capacity cap (capacity level and every answer cap)
    level: int  # 1..10, the recommended risk level
    limited_by: str  # "tolerance", "capacity" or "cap:<question>"
    caps: tuple[Cap, ...] = ()
    flags: tuple[Flag, ...] = ()
    raised_by: tuple[Answer, ...] = field(default=())  # answers pulling the binding score up
    held_back_by: tuple[Answer, ...] = field(default=())  # answers pulling it down


def level_of(score: float) -> int:
    """Map a 0..100 score to a risk level 1..10 (bands of 10 points; 100 is level 10)."""
    if not 0.0 <= score <= 100.0 or math.isnan(score):
        raise ValueError(f"score out of range: {score}")
    return MIN_LEVEL + min(9, math.floor(score / 10.0 + 1e-9))


def dimension_score(answers: Iterable[Answer]) -> float:
    """Weighted mean of points / max_points over the answers, times 100 (0 when none)."""
    total_weight = 0.0
    total = 0.0
    for answer in answers:
        total_weight += answer.weight
        total += answer.weight * answer.fraction
    if total_weight <= 0:
        return 0.0
    return min(100.0, max(0.0, 100.0 * total / total_weight))


def _validate(answers: list[Answer]) -> None:
    seen: set[str] = set()
    for a in answers:
        if a.dimension not in DIMENSIONS:
            raise ValueError(f"{a.question}: unknown dimension {a.dimension!r}")
        if a.max_points <= 0 or not 0 <= a.points <= a.max_points:
            raise ValueError(f"{a.question}: points {a.points} outside 0..{a.max_points}")
        if a.weight < 0:
            raise ValueError(f"{a.question}: negative weight")
        if a.level_cap is not None and not MIN_LEVEL <= a.level_cap <= MAX_LEVEL:
            raise ValueError(f"{a.question}: level cap {a.level_cap} outside 1..10")
        if a.question in seen:
            raise ValueError(f"{a.question}: answered twice")
        seen.add(a.question)


def check_caps_monotonic(caps_by_points: Mapping[int, int | None]) -> None:
    """Raise ValueError if a question's caps decrease as its points increase (None == no cap)."""
    previous = MIN_LEVEL - 1
    for points in sorted(caps_by_points):
        cap = caps_by_points[points]
        effective = MAX_LEVEL if cap is None else cap
        if effective < previous:
            raise ValueError("level caps must not decrease as an answer becomes riskier")
        previous = effective


def _flags(by_code: Mapping[str, Answer], tolerance: float, capacity: float) -> list[Flag]:
    """Inconsistencies worth an adviser's look. Only reads answers that are present."""
    flags: list[Flag] = []

    def frac(code: str) -> float | None:
        a = by_code.get(code)
        return a.fraction if a is not None else None

    reaction, attitude, outcomes = (
        frac("drawdown_reaction"),
        frac("risk_attitude"),
        frac("outcome_range"),
    )
    if (
        reaction is not None
        and reaction == 0.0
        and any(f is not None and f >= 0.75 for f in (attitude, outcomes))
    ):
        flags.append(
            Flag(
                "panic_vs_high_risk",
                "Says they would sell everything after a fall, yet describes a high appetite for risk.",
            )
        )
    experience = frac("experience")
    if experience is not None and experience == 0.0 and attitude is not None and attitude >= 0.75:
        flags.append(
            Flag(
                "no_experience_high_attitude",
                "No investing experience, yet rates their own risk appetite as high.",
            )
        )
    goal, horizon = frac("goal"), frac("horizon")
    if goal is not None and horizon is not None and goal >= 0.75 and horizon <= 0.25:
        flags.append(
            Flag(
                "growth_goal_short_horizon",
                "Wants aggressive growth but needs the money within a few years.",
            )
        )
    gamble = frac("loss_gamble")
    if reaction is not None and gamble is not None and abs(reaction - gamble) >= 0.99:
        flags.append(
            Flag(
                "loss_answers_disagree",
                "The two loss-aversion answers point in opposite directions.",
            )
        )
    if tolerance - capacity >= 40.0:
        flags.append(
            Flag(
                "tolerance_exceeds_capacity",
                "Willingness to take risk is far above the ability to bear it (40+ points).",
            )
        )
    return flags


def score(answers: Iterable[Answer], *, top: int = 3) -> RiskScore:
    """Score a submitted questionnaire. See the module docstring for the rules.

    `top` is how many answers are listed as raising / holding back the binding score.
    """
    answers = list(answers)
    _validate(answers)
    tol_answers = [a for a in answers if a.dimension == TOLERANCE]
    cap_answers = [a for a in answers if a.dimension == CAPACITY]
    tolerance = dimension_score(tol_answers)
    capacity = dimension_score(cap_answers)
    tolerance_level = level_of(tolerance)
    capacity_level = level_of(capacity)
    caps = tuple(
        sorted(
            (
                Cap(a.question, a.level_cap, a.answer_text)
                for a in answers
                if a.level_cap is not None
            ),
            key=lambda c: c.level,
        )
    )
    max_level = min([capacity_level, *(c.level for c in caps)])
    level = min(tolerance_level, max_level)

    if tolerance_level <= max_level:
        limited_by, binding = TOLERANCE, tol_answers
    elif caps and caps[0].level < capacity_level:
        limited_by, binding = f"cap:{caps[0].question}", cap_answers
    else:
        limited_by, binding = CAPACITY, cap_answers

    ranked = sorted(binding, key=lambda a: (a.fraction, -a.weight, a.question))
    # held back: the answers that cost the most points; raised: the strongest of the rest
    held_back = tuple(a for a in ranked if a.fraction < 1.0)[:top]
    raised = tuple(a for a in reversed(ranked) if a.fraction >= 0.5 and a not in held_back)[:top]
    flags = _flags({a.question: a for a in answers}, tolerance, capacity)
    return RiskScore(
        tolerance=round(tolerance, 2),
        capacity=round(capacity, 2),
        tolerance_level=tolerance_level,
        capacity_level=capacity_level,
        max_level=max_level,
        level=level,
        limited_by=limited_by,
        caps=caps,
        flags=tuple(flags),
        raised_by=raised,
        held_back_by=held_back,
    )


def whole_score(x: float) -> int:
    """A 0..100 score as the investor reads it, rounded half up (62.5 -> 63).

    The one rounding of a score: the explanation, the pages (template filter `score`) and the
    audit summaries all call it, so the same assessment never reads 63 on one page and 62 on
    another (Python's round() and "%.0f" round half to even: 62.5 -> 62)."""
    return math.floor(float(x) + 0.5)


def explain(result: RiskScore, *, dimension_names: Mapping[str, str] | None = None) -> list[str]:
    """Plain-words sentences saying which answers drove the level (for the result page)."""
    names = dimension_names or {
        TOLERANCE: "willingness to take risk",
        CAPACITY: "capacity to take risk",
    }
    lines = [
        f"Your {names[TOLERANCE]} scores {whole_score(result.tolerance)} of 100 and your {names[CAPACITY]} "
        f"{whole_score(result.capacity)} of 100.",
    ]
    if result.limited_by == TOLERANCE:
        lines.append(
            f"Your willingness is the lower of the two, so it sets your level at {result.level} of 10."
        )
    elif result.limited_by == CAPACITY:
        lines.append(
            f"Your capacity is the lower of the two and caps your level at {result.level} of 10, "
            f"even though your willingness alone would allow {result.tolerance_level}."
        )
    else:
        cap = result.caps[0]
        lines.append(
            f"Your answer \u201c{cap.answer_text}\u201d limits the level to {cap.level} of 10 whatever "
            "your other answers, because money needed soon cannot wait for markets to recover."
        )
    if result.held_back_by:
        lines.append(
            "Answers that held it back: "
            + "; ".join(
                f"\u201c{a.answer_text}\u201d ({a.question_text})" for a in result.held_back_by
            )
            + "."
        )
    if result.raised_by:
        lines.append(
            "Answers that raised it: "
            + "; ".join(
                f"\u201c{a.answer_text}\u201d ({a.question_text})" for a in result.raised_by
            )
            + "."
        )
    return lines
