"""The one loader of open tax lots for the scans: float64 arrays, no model instances.

On PostgreSQL each column arrives as one binary array read in place by numpy
(`advisor.core.copy.columns_frame`); elsewhere a plain query. Dates come back as
datetime64[D], money and quantities as float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from django.db import connection

from advisor.core.copy import columns_frame
from portfolios.models import Portfolio, TaxLot

EPOCH = np.datetime64("1970-01-01", "D")
DTYPES: dict[str, Any] = {
    "lot_id": np.int64,
    "portfolio_id": np.int64,
    "owner_id": np.int64,
    "security_id": np.int64,
    "quantity": np.float64,
    "cost_basis": np.float64,
    "holding_start": np.int64,  # days since 1970-01-01 in the query, datetime64[D] out
}
IdRange = tuple[int, int]


def sql(*, households: bool) -> str:
    """The query of `open_lots` (PostgreSQL): params (portfolio span) or, with `households`,
    (owner range, portfolio span)."""
    lot, portfolio = TaxLot._meta.db_table, Portfolio._meta.db_table
    select = (
        "SELECT l.id, l.portfolio_id, p.owner_id, l.security_id, l.quantity::float8, "
        "l.cost_basis::float8, (l.holding_start - DATE '1970-01-01')::int8 "
    )
    if not households:
        return (
            select.replace("p.owner_id", "0::int8")
            + f"FROM {lot} l WHERE l.quantity > 0 AND l.portfolio_id BETWEEN %s AND %s"
        )
    # The portfolio-id span is redundant for the result but lets PostgreSQL read just these
    # households' lots through the index: on the owner range alone it scans every lot.
    return select + (
        f"FROM {lot} l JOIN {portfolio} p ON p.id = l.portfolio_id "
        "WHERE l.quantity > 0 AND p.is_active AND p.tax_treatment = 'taxable' "
        "AND p.owner_id BETWEEN %s AND %s AND l.portfolio_id BETWEEN %s AND %s"
    )


def empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})
    frame["holding_start"] = frame["holding_start"].to_numpy().astype("datetime64[D]")
    return frame


def open_lots(portfolios: IdRange, *, households: IdRange | None = None) -> pd.DataFrame:
    """Open lots of the portfolios with ids in `portfolios` (inclusive), or, with `households`
    (an inclusive owner-id range), of the active taxable accounts of those households inside
    that portfolio span. Columns: DTYPES (owner_id is 0 without `households`)."""
    params: list[object] = [*portfolios] if households is None else [*households, *portfolios]
    if connection.vendor == "postgresql":
        frame = columns_frame(sql(households=households is not None), params, DTYPES)
    else:
        frame = _portable(portfolios, households)
    frame["holding_start"] = frame["holding_start"].to_numpy().astype("datetime64[D]")
    return frame


def _portable(portfolios: IdRange, households: IdRange | None) -> pd.DataFrame:
    """The same rows through the ORM (SQLite, the embedded default)."""
    lots = TaxLot.objects.filter(
        quantity__gt=0, portfolio_id__gte=portfolios[0], portfolio_id__lte=portfolios[1]
    )
    if households is not None:
        lots = lots.filter(
            portfolio__is_active=True,
            portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
            portfolio__owner_id__gte=households[0],
            portfolio__owner_id__lte=households[1],
        )
    rows = list(
        lots.values_list(
            "id", "portfolio_id", "portfolio__owner_id", "security_id", "quantity",
            "cost_basis", "holding_start",
        )
    )  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(DTYPES))
    if households is None:
        frame["owner_id"] = 0
    days = np.asarray(frame["holding_start"].tolist(), dtype="datetime64[D]") - EPOCH
    frame["holding_start"] = days.astype(np.int64)
    return frame.astype(DTYPES)
