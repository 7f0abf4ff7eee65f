"""The household list with its flags, computed set-based in one SQL statement.

Each flag is a column computed for every household in scope at once (no per-household Python),
with the numbers that explain it; `HouseholdRow.flags` turns them into `Flag`s and the
templates word them (console/_flag.html). The thresholds are below, one home each.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection

from accounts.models import AdviserAssignment, RiskAssessment, User
from portfolios.models import (
    LotSale,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
    TaxLot,
    Transaction,
    WashSaleMatch,
)
from rebalancing.models import DrawdownEpisode, Proposal

STALE_AFTER = relativedelta(months=12)
PENDING_TOO_LONG = dt.timedelta(days=7)
REJECTIONS_WINDOW = dt.timedelta(days=180)
REPEATED_REJECTIONS = 3  # rejected proposals within the window
CONCENTRATION_LIMIT = 0.20  # one security's share of the household's value (cash included)
LARGE_LOSS_SHARE = 0.10  # losses on lots under water, as a share of the household's value
FAILED_WINDOW = dt.timedelta(days=90)
WASH_SALE_WINDOW = dt.timedelta(days=365)
FLAG_CODES = (
    "riskier", "stale", "pending", "rejections", "concentration", "losses", "drawdown",
    "failed", "wash_sales", "override",
)  # fmt: skip


@dataclass
class HouseholdRow:
    id: int
    email: str
    name: str
    value: float
    numbers: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # FLAG_CODES that fired; numbers say why


@dataclass
class HouseholdList:
    rows: list[HouseholdRow]
    total: int  # households matching the filter
    counts: dict[str, int]  # households in scope with each flag


@dataclass(frozen=True)
class Scope:
    """Whose households: every investor (`adviser_id` None) or those assigned to an adviser."""

    adviser_id: int | None

    @classmethod
    def for_user(cls, user: User, *, see_all: bool) -> "Scope":
        return cls(None if user.is_superuser or see_all else user.pk)


def _tables() -> dict[str, str]:
    models = {
        "user": User, "assignment": AdviserAssignment, "assessment": RiskAssessment,
        "portfolio": Portfolio, "model": ModelPortfolio, "price": Price, "lot": TaxLot,
        "proposal": Proposal, "lot_sale": LotSale, "transaction": Transaction,
        "wash_match": WashSaleMatch, "security": Security, "drawdown": DrawdownEpisode,
    }  # fmt: skip
    return {name: model._meta.db_table for name, model in models.items()}


# One statement: households in scope -> their values, holdings, latest assessment, proposals,
# wash sales -> one row per household with every flag's numbers. `%(one)s` narrows it to one
# household (the household page and the per-household benchmark use the same statement).
FLAG_SQL = """
WITH hh AS (
    SELECT u.id FROM {user} u
    WHERE NOT u.is_staff AND u.is_active
      AND (%(search)s = '' OR u.email ILIKE %(search_like)s
           OR (u.first_name || ' ' || u.last_name) ILIKE %(search_like)s)
      AND (%(one)s::bigint IS NULL OR u.id = %(one)s::bigint)
      AND (%(adviser)s::bigint IS NULL OR EXISTS (
          SELECT 1 FROM {assignment} a WHERE a.household_id = u.id AND a.adviser_id = %(adviser)s))
), px AS (
    SELECT DISTINCT ON (security_id) security_id, close FROM {price}
    WHERE date <= %(today)s ORDER BY security_id, date DESC
), pf AS (
    SELECT p.id, p.owner_id AS hh, p.cash, p.model_id FROM {portfolio} p
    JOIN hh ON hh.id = p.owner_id WHERE p.is_active
), lots AS (
    -- The open lots at the latest close (floats: display figures; Decimal stays stored).
    SELECT pf.hh, l.portfolio_id, l.security_id,
           l.quantity::float8 * px.close::float8 AS value, l.cost_basis::float8 AS basis,
           least(l.quantity::float8 * px.close::float8 - l.cost_basis::float8, 0) AS losses
    FROM {lot} l JOIN pf ON pf.id = l.portfolio_id JOIN px ON px.security_id = l.security_id
    WHERE l.quantity > 0
), pv AS (
    SELECT pf.hh, pf.id, pf.model_id, pf.cash::float8 + coalesce(held.value, 0) AS value
    FROM pf LEFT JOIN (
        SELECT portfolio_id, sum(value) AS value FROM lots GROUP BY portfolio_id
    ) held ON held.portfolio_id = pf.id
), hv AS (
    SELECT pv.hh, sum(pv.value) AS value,
           sum(pv.value * m.risk_level) FILTER (WHERE m.id IS NOT NULL)
               / nullif(sum(pv.value) FILTER (WHERE m.id IS NOT NULL), 0) AS model_level
    FROM pv LEFT JOIN {model} m ON m.id = pv.model_id GROUP BY pv.hh
), lv AS (
    SELECT hh, sum(value) AS invested, sum(basis) AS basis, sum(losses) AS losses
    FROM lots GROUP BY hh
), top AS (
    -- The largest holding of one security across the household's accounts.
    SELECT hh, max(value) AS value FROM (
        SELECT hh, security_id, sum(value) AS value FROM lots GROUP BY hh, security_id
    ) s GROUP BY hh
), ra AS (
    SELECT DISTINCT ON (r.user_id) r.user_id AS hh, r.risk_level, r.submitted_at,
           r.acknowledged_more_aggressive, am.risk_level AS accepted_level
    FROM {assessment} r JOIN hh ON hh.id = r.user_id
    LEFT JOIN {model} am ON am.id = r.accepted_model_id
    ORDER BY r.user_id, r.submitted_at DESC, r.id DESC
), pr AS (
    SELECT pf.hh,
        count(*) FILTER (WHERE p.status = 'pending' AND p.created_at < %(pending_before)s)
            AS pending_old,
        min(p.created_at) FILTER (WHERE p.status = 'pending') AS oldest_pending,
        count(*) FILTER (WHERE p.status = 'rejected' AND p.decided_at >= %(rejected_since)s)
            AS rejections,
        count(*) FILTER (WHERE p.status = 'failed' AND p.created_at >= %(failed_since)s)
            AS failures,
        max(p.created_at) FILTER (WHERE p.status = 'failed') AS last_failure
    FROM {proposal} p JOIN pf ON pf.id = p.portfolio_id GROUP BY pf.hh
), ws AS (
    SELECT pf.hh, count(*) AS matches, sum(w.disallowed)::float8 AS disallowed
    FROM {wash_match} w
    JOIN {lot_sale} s ON s.id = w.lot_sale_id
    JOIN {transaction} t ON t.id = s.transaction_id
    JOIN pf ON pf.id = t.portfolio_id
    LEFT JOIN {lot} rl ON rl.id = w.replacement_lot_id
    LEFT JOIN {transaction} rt ON rt.id = rl.opened_by_id
    WHERE w.created_at >= %(wash_since)s AND (t.source = 'import' OR rt.source = 'import')
    GROUP BY pf.hh
), dd AS (
    -- The drawdown alert's own record: an ongoing episode is a fall from the household's peak
    -- beyond the loss the investor said they could bear (rebalancing.DrawdownEpisode).
    SELECT DISTINCT ON (e.household_id) e.household_id AS hh, e.depth::float8 AS depth,
           e.tolerance::float8 AS tolerance, e.peak_on
    FROM {drawdown} e JOIN hh ON hh.id = e.household_id
    WHERE e.recovered_on IS NULL
    ORDER BY e.household_id, e.peak_on DESC
), flagged AS (
    SELECT hh.id, coalesce(hv.value, 0) AS value,
        hv.model_level, ra.risk_level, ra.submitted_at, ra.accepted_level,
        ra.acknowledged_more_aggressive AS acknowledged,
        dd.depth AS drawdown_depth, dd.tolerance AS drawdown_tolerance, dd.peak_on,
        coalesce(pr.pending_old, 0) AS pending_old, pr.oldest_pending,
        coalesce(pr.rejections, 0) AS rejections,
        coalesce(pr.failures, 0) AS failures, pr.last_failure,
        coalesce(top.value, 0) AS top_value,
        coalesce(lv.invested, 0) AS invested, coalesce(lv.basis, 0) AS basis,
        coalesce(lv.losses, 0) AS losses,
        coalesce(ws.matches, 0) AS wash_matches, coalesce(ws.disallowed, 0) AS wash_disallowed,
        hv.model_level > ra.risk_level + 1e-9 AS f_riskier,  -- float sums: no noise flags
        ra.submitted_at IS NULL OR ra.submitted_at < %(stale_before)s AS f_stale,
        coalesce(pr.pending_old, 0) > 0 AS f_pending,
        coalesce(pr.rejections, 0) >= %(repeated)s AS f_rejections,
        coalesce(top.value / nullif(hv.value, 0), 0) > %(concentration)s AS f_concentration,
        -coalesce(lv.losses, 0) >= %(loss_share)s * nullif(hv.value, 0) AS f_losses,
        dd.hh IS NOT NULL AS f_drawdown,
        coalesce(pr.failures, 0) > 0 AS f_failed,
        coalesce(ws.matches, 0) > 0 AS f_wash_sales,
        coalesce(ra.acknowledged_more_aggressive, false) AS f_override
    FROM hh
    LEFT JOIN hv ON hv.hh = hh.id LEFT JOIN lv ON lv.hh = hh.id LEFT JOIN top ON top.hh = hh.id
    LEFT JOIN ra ON ra.hh = hh.id LEFT JOIN pr ON pr.hh = hh.id LEFT JOIN ws ON ws.hh = hh.id
    LEFT JOIN dd ON dd.hh = hh.id
), counts AS (
    SELECT {flag_totals} FROM flagged
), page AS (
    SELECT f.*, u.email, trim(u.first_name || ' ' || u.last_name) AS name,
           ({flag_sum}) AS flag_count, count(*) OVER () AS total
    FROM flagged f JOIN {user} u ON u.id = f.id
    WHERE {flag_filter}
    ORDER BY flag_count DESC, u.email
    LIMIT %(limit)s OFFSET %(offset)s
), page_top AS (
    -- The ticker of each shown household's largest holding (read for the page only).
    SELECT DISTINCT ON (hh) hh, ticker FROM (
        SELECT p.owner_id AS hh, s.ticker, sum(l.quantity::float8 * px.close::float8) AS value
        FROM {lot} l JOIN {portfolio} p ON p.id = l.portfolio_id
        JOIN px ON px.security_id = l.security_id JOIN {security} s ON s.id = l.security_id
        WHERE p.owner_id IN (SELECT id FROM page) AND p.is_active AND l.quantity > 0
        GROUP BY p.owner_id, s.ticker
    ) held ORDER BY hh, value DESC, ticker
)
SELECT * FROM counts
LEFT JOIN (page LEFT JOIN page_top ON page_top.hh = page.id) ON true
ORDER BY page.flag_count DESC, page.email
"""


def _sql(flag: str | None) -> str:
    flag_sum = " + ".join(f"coalesce(f.f_{code}, false)::int" for code in FLAG_CODES)
    totals = ", ".join(f"count(*) FILTER (WHERE f_{code}) AS n_{code}" for code in FLAG_CODES)
    where = f"coalesce(f.f_{flag}, false)" if flag in FLAG_CODES else "true"
    return FLAG_SQL.format(
        **_tables(), flag_sum=flag_sum, flag_totals=totals, flag_filter=where,
    )  # fmt: skip


def _params(
    scope: Scope, *, now: dt.datetime, today: dt.date, one: int | None = None
) -> dict[str, Any]:
    return {
        "one": one, "adviser": scope.adviser_id, "today": today,
        "pending_before": now - PENDING_TOO_LONG, "rejected_since": now - REJECTIONS_WINDOW,
        "failed_since": now - FAILED_WINDOW, "wash_since": now - WASH_SALE_WINDOW,
        "stale_before": now - STALE_AFTER, "repeated": REPEATED_REJECTIONS,
        "concentration": CONCENTRATION_LIMIT, "loss_share": LARGE_LOSS_SHARE,
        "search": "", "search_like": "",
        "limit": None, "offset": 0,
    }  # fmt: skip


def flags_available() -> bool:
    """The flags statement is PostgreSQL's (DISTINCT ON, FILTER, casts); on the embedded SQLite default
    the console shows households and records without flags."""
    return connection.vendor == "postgresql"


def household_list(
    scope: Scope,
    *,
    now: dt.datetime,
    today: dt.date,
    flag: str | None = None,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> HouseholdList:
    """One page of the households in `scope` (most flags first), those with `flag` only when
    given, and how many households in scope (matching `search`) carry each flag. One query."""
    params = _params(scope, now=now, today=today)
    params.update(search=search, search_like=f"%{search}%", limit=limit, offset=offset)
    return _run(_sql(flag), params)


def household_flags(
    scope: Scope, household_id: int, *, now: dt.datetime, today: dt.date
) -> HouseholdRow | None:
    """The same statement for one household (None when it is not in `scope`)."""
    params = _params(scope, now=now, today=today, one=household_id)
    rows = _run(_sql(None), params).rows
    return rows[0] if rows else None


def _run(sql: str, params: dict[str, Any]) -> HouseholdList:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        records = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    counts = {code: int(records[0][f"n_{code}"]) if records else 0 for code in FLAG_CODES}
    rows = [_row(r) for r in records if r["id"] is not None]
    total = int(records[0]["total"]) if rows else 0
    return HouseholdList(rows=rows, total=total, counts=counts)


def _row(r: dict[str, Any]) -> HouseholdRow:
    value = float(r["value"] or 0)
    numbers = {
        "value": value,
        "model_level": _float(r["model_level"]),
        "risk_level": r["risk_level"],
        "submitted_at": r["submitted_at"],
        "accepted_level": r["accepted_level"],
        "pending_old": r["pending_old"],
        "oldest_pending": r["oldest_pending"],
        "rejections": r["rejections"],
        "failures": r["failures"],
        "last_failure": r["last_failure"],
        "top_ticker": r["ticker"],
        "top_share": float(r["top_value"] or 0) / value if value else 0.0,
        "losses": -float(r["losses"] or 0),
        "loss_share": -float(r["losses"] or 0) / value if value else 0.0,
        "drawdown": _float(r["drawdown_depth"]),
        "bearable": _float(r["drawdown_tolerance"]),
        "peak_on": r["peak_on"],
        "wash_matches": r["wash_matches"],
        "wash_disallowed": float(r["wash_disallowed"] or 0),
        "limits": LIMITS,
    }
    # Percentages for the wording (templates do no arithmetic).
    for name in ("top_share", "loss_share", "drawdown", "bearable"):
        share = numbers[name]
        numbers[f"{name}_pct"] = None if share is None else 100 * abs(share)
    flags = [code for code in FLAG_CODES if r[f"f_{code}"]]
    return HouseholdRow(r["id"], r["email"], r["name"], value, numbers, flags)


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


LIMITS = {
    "concentration_pct": 100 * CONCENTRATION_LIMIT,
    "loss_share_pct": 100 * LARGE_LOSS_SHARE,
    "repeated": REPEATED_REJECTIONS,
    "rejection_days": REJECTIONS_WINDOW.days,
    "failed_days": FAILED_WINDOW.days,
    "pending_days": PENDING_TOO_LONG.days,
}
