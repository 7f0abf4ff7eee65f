"""Wash-sale detection (IRC section 1091), pure numpy.

A loss sale is a wash sale to the extent that substantially identical shares are acquired
within 30 days before or after the sale date (day 30 counts, day 31 does not), in ANY account
of the household. Replacement shares are matched to loss sales in chronological order (sales by
date, replacement lots by acquisition date), each replacement share at most once.

For each matched share:
- the loss on it is disallowed: ``disallowed = loss * matched_quantity / sold_quantity``;
- replacement in a taxable account: the disallowed loss is added to the replacement's basis and
  the sold shares' holding period (days from their holding start to the sale) carries over;
- replacement in a tax-advantaged account (IRA, 401(k)): the loss is disallowed permanently and
  nothing is added to any basis.

Inputs are parallel arrays; dates are numpy datetime64[D], quantities in shares, money in
currency units (float64). `group` is any integer key that is equal for substantially identical
securities (the security id when a security is in no group). The sold lot itself is never its
own replacement; shares sold in the same sale are not available (pass open quantities).
"""

from dataclasses import dataclass

import numpy as np

WINDOW_DAYS = 30


@dataclass(frozen=True)
class Matches:
    """One row per (loss sale, replacement lot) match, in the order they were made."""

    sale: np.ndarray  # index into the sales arrays
    lot: np.ndarray  # index into the purchase arrays
    quantity: np.ndarray  # shares matched
    disallowed: np.ndarray  # loss disallowed on those shares (currency, >= 0)
    permanent: np.ndarray  # bool: replacement in a tax-advantaged account
    holding_days: np.ndarray  # days of holding period carried to the replacement (0 if permanent)

    def __len__(self) -> int:
        return int(self.sale.size)


def in_window(
    sale_date: np.datetime64, acquired: np.ndarray, days: int = WINDOW_DAYS
) -> np.ndarray:
    """True where `acquired` is within `days` days before or after `sale_date` (inclusive)."""
    delta = (
        np.asarray(acquired, dtype="datetime64[D]")
        - np.datetime64(sale_date.astype("datetime64[D]"))
    ).astype(int)
    return np.abs(delta) <= days


def match(
    *,
    sale_group: np.ndarray,
    sale_date: np.ndarray,
    sale_quantity: np.ndarray,
    sale_unmatched: np.ndarray,
    sale_loss: np.ndarray,
    sale_lot: np.ndarray,
    sale_holding_start: np.ndarray,
    lot_id: np.ndarray,
    lot_group: np.ndarray,
    lot_acquired: np.ndarray,
    lot_available: np.ndarray,
    lot_tax_advantaged: np.ndarray,
) -> Matches:
    """Match loss sales to replacement lots.

    Sales: `sale_quantity` shares sold with total loss `sale_loss` (> 0, currency), of which
    `sale_unmatched` shares are not yet matched by an earlier run; `sale_lot` is the id of the
    lot sold. Purchases: lots with `lot_available` shares not yet used as a replacement.
    Returns the new matches; the caller applies them (basis, holding period, gain).
    """
    sale_group = np.asarray(sale_group)
    sale_date = np.asarray(sale_date, dtype="datetime64[D]")
    sale_quantity = np.asarray(sale_quantity, dtype=float)
    remaining_sale = np.asarray(sale_unmatched, dtype=float).copy()
    sale_loss = np.asarray(sale_loss, dtype=float)
    sale_lot = np.asarray(sale_lot)
    sale_start = np.asarray(sale_holding_start, dtype="datetime64[D]")
    lot_id = np.asarray(lot_id)
    lot_group = np.asarray(lot_group)
    lot_acquired = np.asarray(lot_acquired, dtype="datetime64[D]")
    available = np.asarray(lot_available, dtype=float).copy()
    advantaged = np.asarray(lot_tax_advantaged, dtype=bool)

    out: dict[str, list[object]] = {
        k: [] for k in ("sale", "lot", "quantity", "disallowed", "permanent", "days")
    }
    # Lots in (acquired, id) order; dates as integer days once, so each sale's candidates are
    # a few integer comparisons (this runs once per recorded trade of an imported history).
    lot_order = np.lexsort((lot_id, lot_acquired))
    ordered_group = lot_group[lot_order]
    ordered_id = lot_id[lot_order]
    ordered_day = lot_acquired[lot_order].astype("int64")
    sale_day = sale_date.astype("int64")
    for s in np.lexsort((np.arange(sale_date.size), sale_date)):
        if remaining_sale[s] <= 1e-12 or sale_loss[s] <= 0:
            continue
        ordered = lot_order[
            (ordered_group == sale_group[s])
            & (ordered_id != sale_lot[s])
            & (available[lot_order] > 1e-12)
            & (np.abs(ordered_day - sale_day[s]) <= WINDOW_DAYS)
        ]
        held_days = int(sale_day[s] - sale_start[s].astype("int64"))
        for j in ordered.tolist():
            take = min(remaining_sale[s], available[j])
            if take <= 1e-12:
                break
            remaining_sale[s] -= take
            available[j] -= take
            out["sale"].append(int(s))
            out["lot"].append(j)
            out["quantity"].append(float(take))
            out["disallowed"].append(float(sale_loss[s] * take / sale_quantity[s]))
            out["permanent"].append(bool(advantaged[j]))
            out["days"].append(0 if advantaged[j] else held_days)
            if remaining_sale[s] <= 1e-12:
                break
    return Matches(
        sale=np.asarray(out["sale"], dtype=int),
        lot=np.asarray(out["lot"], dtype=int),
        quantity=np.asarray(out["quantity"], dtype=float),
        disallowed=np.asarray(out["disallowed"], dtype=float),
        permanent=np.asarray(out["permanent"], dtype=bool),
        holding_days=np.asarray(out["days"], dtype=int),
    )


def carried_holding_start(acquired: np.datetime64, holding_days: int) -> np.datetime64:
    """Holding start of replacement shares: their acquisition date minus the days the sold
    shares were held (so the two holding periods add up)."""
    return np.subtract(
        np.datetime64(acquired.astype("datetime64[D]")), np.timedelta64(int(holding_days), "D")
    )


def replacement_basis(
    lot_basis: np.ndarray, lot_quantity: np.ndarray, matches: Matches
) -> tuple[np.ndarray, np.ndarray]:
    """Basis of the matched replacement shares before and after the adjustment, per match.

    before = lot basis x matched / lot quantity; after = before + disallowed (unchanged when the
    replacement is in a tax-advantaged account: the loss is gone for good).
    """
    lot_basis = np.asarray(lot_basis, dtype=float)
    lot_quantity = np.asarray(lot_quantity, dtype=float)
    before = lot_basis[matches.lot] * matches.quantity / lot_quantity[matches.lot]
    after = before + np.where(matches.permanent, 0.0, matches.disallowed)
    return before, after
