"""What the dashboard shows, read in a fixed number of queries however many lots and accounts.

Asset-class weights are fractions of the INVESTED value (cash excluded), exactly as the drift
check weighs them, so a class the page shows outside its band is one the check acts on; cash
is shown as a fraction of the whole. Drift is current - target in fractions; a band is the
tolerance around a target (fractions).
Money shown is float (display only); the ledger stays Decimal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import Max, Sum

from accounts.models import AuditEvent, User
from portfolios import selectors
from portfolios.models import AssetClass, Portfolio, Price
from portfolios.performance import selectors as performance
from rebalancing.engine import policy as rules
from rebalancing.models import Notification, Proposal, RebalancePolicy
from rebalancing.selectors import drift as drift_selectors
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax_saved
from rebalancing.selectors.holdings import holdings_fingerprint

CASH = "cash"
HISTORY_DAYS = 365
CACHE_SECONDS = 300


@dataclass
class ClassRow:
    code: str
    name: str
    value: float
    weight: float
    target: float
    band: float | None

    @property
    def drift(self) -> float:
        return self.weight - self.target

    @property
    def outside(self) -> bool:
        return self.band is not None and abs(self.drift) > self.band + rules.TOLERANCE

    @property
    def weight_pct(self) -> float:
        return self.weight * 100

    @property
    def target_pct(self) -> float:
        return self.target * 100

    @property
    def drift_pts(self) -> float:
        return self.drift * 100

    @property
    def band_pts(self) -> float | None:
        return None if self.band is None else self.band * 100

    @property
    def marker(self) -> float:
        """Position of the drift on a -2 band .. +2 band scale, in percent of the bar width."""
        scale = 2 * (self.band or 0.05)
        return float(np.clip(50 + 50 * self.drift / scale, 0, 100))


@dataclass
class AccountBlock:
    portfolio: Portfolio
    total: float
    cash: float
    rows: list[ClassRow] = field(default_factory=list)
    band_note: str = ""

    @property
    def breaches(self) -> int:
        return sum(1 for r in self.rows if r.outside)

    @property
    def invested(self) -> float:
        return self.total - self.cash


def account_bands(portfolios: list[Portfolio], *, today: dt.date) -> dict[tuple[int, str], float]:
    """{(portfolio id, class code): band half-width} exactly as the drift check computes it
    (the engine's `bands` on the batch the check would load: own / model / default policy,
    relative bands on a zero target, volatility scaling). Classes without a band are absent."""
    batch = drift_selectors.load_drift_batch([p.pk for p in portfolios], today=today)
    width = rules.bands(batch.book.target, batch.policies, batch.vol_scale)
    return {
        (pid, code): float(width[i, k])
        for i, pid in enumerate(batch.portfolio_id_list)
        for k, code in enumerate(batch.book.classes)
        if np.isfinite(width[i, k])
    }


def default_band(target: float) -> float | None:
    """The default policy's band around a household-level `target` (the engine's rule)."""
    default = RebalancePolicy()
    fraction = {
        name: float(value) if value is not None else np.nan
        for name, value in (
            ("absolute_band", default.absolute_band),
            ("relative_band", default.relative_band),
        )
    }
    width = float(rules.bands(np.array([[target]]), rules.Policies.uniform(1, **fraction))[0, 0])
    return width if np.isfinite(width) else None


def band_note(policy: RebalancePolicy) -> str:
    parts = []
    if policy.absolute_band is not None:
        parts.append(f"±{float(policy.absolute_band) * 100:g} points")
    if policy.relative_band is not None:
        parts.append(f"±{float(policy.relative_band) * 100:g}% of the target")
    return " or ".join(parts) + (" (whichever is narrower)" if len(parts) == 2 else "")


def household(user: User, *, today: dt.date) -> dict[str, object]:
    """Everything the dashboard shows. The allocation part (lots x prices, targets, bands,
    history) is cached under a key made of what it depends on: the holdings fingerprint (lots
    and cash), the newest price row, the accounts' last change and the day; waiting proposals,
    activity and notifications are always read fresh."""
    portfolios = list(Portfolio.objects.for_user(user).active().order_by("name"))
    ids = [p.pk for p in portfolios]
    fingerprints = holdings_fingerprint(ids)
    newest_price = Price.objects.aggregate(newest=Max("id"))["newest"]
    changed = max((p.updated_at for p in portfolios), default=None)
    digest = hashlib.sha256(
        repr((sorted(fingerprints.items()), newest_price, changed, today)).encode()
    ).hexdigest()[:32]
    key = f"dashboard:{user.pk}:{digest}"
    data = cache.get(key)
    if data is None:
        data = _allocation(portfolios, today=today)
        data["chart"] = allocation_chart(data)
        data["alloc_key"] = key
        cache.set(key, data, CACHE_SECONDS)
    # Every waiting proposal with its trade total, in one query (a household has a few).
    waiting = list(
        Proposal.objects.filter(portfolio__owner=user, status=Proposal.Status.PENDING)
        .annotate(total=Sum("trades__amount"))
        .select_related("portfolio")
        .order_by("expires_at")
    )
    return {
        **data,
        "waiting_count": len(waiting),
        "waiting_total": sum((p.total or Decimal("0") for p in waiting), Decimal("0")),
        "waiting_list": waiting[:5],
        "activity": list(AuditEvent.objects.filter(household=user).order_by("-created_at")[:8]),
        "unread": Notification.objects.filter(user=user, read_at__isnull=True).count(),
        "tax_saved": tax_saved.household_tax_saved(user, today=today, newest=0),
    }


def _allocation(portfolios: list[Portfolio], *, today: dt.date) -> dict[str, object]:
    ids = [p.pk for p in portfolios]
    lots = selectors.lots(ids)
    security_ids = sorted(lots["security_id"].unique().tolist()) if not lots.empty else []
    prices = (
        selectors.latest_prices(security_ids)
        if security_ids
        else pd.DataFrame(columns=["close", "date"])
    )
    targets = (
        selectors.targets(ids)
        if ids
        else pd.DataFrame(columns=["portfolio_id", "asset_class", "weight"])
    )
    names = dict(AssetClass.objects.values_list("code", "name"))
    order = {code: i for i, code in enumerate(names)}
    policies = policy_selectors.policies_for(portfolios)
    bands = account_bands(portfolios, today=today) if portfolios else {}

    if not lots.empty:
        lots["price"] = lots["security_id"].map(prices["close"])
        lots["value"] = lots["quantity"] * lots["price"].fillna(0.0)
        by_class = lots.groupby(["portfolio_id", "asset_class"])["value"].sum()
    else:
        by_class = pd.Series(dtype=float)
    target_map: dict[int, dict[str, float]] = {}
    for pid, code, weight in targets[["portfolio_id", "asset_class", "weight"]].itertuples(
        index=False
    ):
        target_map.setdefault(int(pid), {})[str(code)] = float(weight)

    accounts: list[AccountBlock] = []
    household_values: dict[str, float] = {}
    household_targets: dict[str, float] = {}
    for p in portfolios:
        values = by_class.loc[p.pk].to_dict() if p.pk in by_class.index.get_level_values(0) else {}
        cash = float(p.cash)
        invested = sum(values.values())
        total = invested + cash
        account_targets = target_map.get(p.pk, {})
        policy = policies[p.pk]
        # An account with nothing invested has no allocation to drift: it needs funding, and
        # its targets would otherwise read as every class under target (-35 points for $0).
        codes = (
            sorted(set(values) | set(account_targets), key=lambda c: order.get(c, 999))
            if invested
            else []
        )
        block = AccountBlock(portfolio=p, total=total, cash=cash, band_note=band_note(policy))
        for code in codes:
            weight = values.get(code, 0.0) / invested if invested else 0.0
            target = account_targets.get(code, 0.0)
            block.rows.append(
                ClassRow(
                    code,
                    names.get(code, code),
                    values.get(code, 0.0),
                    weight,
                    target,
                    bands.get((p.pk, code)),
                )
            )
            household_values[code] = household_values.get(code, 0.0) + values.get(code, 0.0)
            household_targets[code] = household_targets.get(code, 0.0) + target * invested
        if cash:
            block.rows.append(
                ClassRow(CASH, "Cash", cash, cash / total if total else 0.0, 0.0, None)
            )
        household_values[CASH] = household_values.get(CASH, 0.0) + cash
        accounts.append(block)

    total = sum(household_values.values())
    invested = total - household_values.get(CASH, 0.0)
    default = RebalancePolicy()

    def share(code: str, amount: float) -> float:
        # Classes as shares of the invested value, as the rebalancing rules weigh them;
        # cash as a share of the whole.
        whole = total if code == CASH else invested
        return amount / whole if whole else 0.0

    house_rows = [
        ClassRow(
            code,
            "Cash" if code == CASH else names.get(code, code),
            value,
            share(code, value),
            share(code, household_targets.get(code, 0.0)),
            None if code == CASH else default_band(share(code, household_targets.get(code, 0.0))),
        )
        for code, value in sorted(
            household_values.items(), key=lambda kv: (kv[0] == CASH, order.get(kv[0], 999))
        )
        if value or household_targets.get(code)
    ]

    ledger_value = performance.household_value(portfolios, today=today, days=HISTORY_DAYS)
    invested_cost = float(lots["cost_basis"].sum()) if not lots.empty else 0.0

    price_date = prices["date"].max() if len(prices) else None
    return {
        "accounts": accounts,
        "house_rows": house_rows,
        "total": total,
        "cash": household_values.get(CASH, 0.0),
        "unrealised": (total - household_values.get(CASH, 0.0)) - invested_cost,
        "history": {
            "labels": [d.isoformat() for d in ledger_value.dates] if ledger_value else [],
            "values": ledger_value.daily_values if ledger_value else [],
        },
        "ledger_value": ledger_value,
        "price_date": price_date,
        "breaches": sum(b.breaches for b in accounts),
        "default_band_note": band_note(default),
    }


def allocation_chart(data: dict[str, object]) -> dict[str, object]:
    rows: list[ClassRow] = data["house_rows"]  # type: ignore[assignment]
    accounts: list[AccountBlock] = data["accounts"]  # type: ignore[assignment]
    codes = [r.code for r in rows]
    return {
        "labels": [r.name for r in rows],
        "current": [round(r.weight * 100, 2) for r in rows],
        "target": [round(r.target * 100, 2) for r in rows],
        "accounts": [b.portfolio.name for b in accounts],
        "per_account": [
            {
                "label": r.name,
                "data": [
                    round(next((x.weight for x in b.rows if x.code == r.code), 0.0) * 100, 2)
                    for b in accounts
                ],
            }
            for r in rows
        ],
        "codes": codes,
    }
