"""Default replacement pairs and substantially identical groups (seeded; staff edit them)."""

from __future__ import annotations

from django.db import transaction

from portfolios.models import IdenticalGroupMember, Security, SubstantiallyIdenticalGroup
from rebalancing.models import ReplacementPair

# Pairs keep the asset-class exposure with funds tracking DIFFERENT indexes (so they are not
# substantially identical): CRSP vs S&P Total Market, FTSE vs MSCI, Bloomberg float-adjusted vs
# the Aggregate, and so on. Both directions are seeded, so the investor can harvest back.
DEFAULT_PAIRS = [
    ("VTI", "ITOT"),  # CRSP US Total Market vs S&P Total Market
    ("VTI", "SCHB"),
    ("ITOT", "SCHB"),
    ("VEA", "IEFA"),  # FTSE Developed All Cap ex US vs MSCI EAFE IMI
    ("VWO", "IEMG"),  # FTSE Emerging vs MSCI Emerging IMI
    ("BND", "AGG"),  # Bloomberg US Aggregate Float Adjusted vs US Aggregate
    ("BNDX", "IAGG"),
    ("SCHP", "VTIP"),  # all-maturity vs short-term TIPS
    ("VNQ", "SCHH"),  # MSCI US IMI Real Estate 25/50 vs Dow Jones Equity All REIT
    ("SGOV", "BIL"),  # 0-3 month Treasuries vs 1-3 month T-bills
    ("VOO", "VV"),
]
# Funds that hold the same thing (same index, or the same commodity): never swapped.
DEFAULT_IDENTICAL = [
    ("S&P 500 index funds", ["VOO", "IVV", "SPY", "SPLG"], "Track the same index."),
    ("Physical gold trusts", ["GLD", "IAU", "GLDM", "SGOL"], "Hold the same metal."),
    ("Nasdaq-100 index funds", ["QQQ", "QQQM"], "Track the same index."),
]


@transaction.atomic
def seed_default_replacements() -> dict[str, int]:
    """Idempotent: link the default pairs and identical groups for the securities that exist.

    Existing rows are left as staff edited them; missing tickers are skipped.
    """
    tickers = {t for pair in DEFAULT_PAIRS for t in pair} | {
        t for _, members, _ in DEFAULT_IDENTICAL for t in members
    }
    ids = dict(Security.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
    pairs = 0
    for a, b in DEFAULT_PAIRS:
        if a in ids and b in ids:
            for x, y in ((a, b), (b, a)):
                _, created = ReplacementPair.objects.get_or_create(
                    security_id=ids[x], replacement_id=ids[y], defaults={"priority": 1}
                )
                pairs += created
    groups = 0
    for name, members, note in DEFAULT_IDENTICAL:
        present = [ids[t] for t in members if t in ids]
        if not present:
            continue
        group, created = SubstantiallyIdenticalGroup.objects.get_or_create(
            name=name, defaults={"note": note}
        )
        groups += created
        taken = set(
            IdenticalGroupMember.objects.filter(security_id__in=present).values_list(
                "security_id", flat=True
            )
        )
        IdenticalGroupMember.objects.bulk_create(
            [
                IdenticalGroupMember(group=group, security_id=sid)
                for sid in present
                if sid not in taken
            ]
        )
    return {"pairs_created": pairs, "groups_created": groups}
