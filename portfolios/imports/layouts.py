"""CSV column layouts: the canonical format and the broker exports we recognise.

A layout maps our field names to the header names a file may use (compared case-insensitively,
ignoring surrounding spaces). See docs/imports.md for the user-facing description.
"""

from dataclasses import dataclass, field

LOTS = "lots"
TRANSACTIONS = "transactions"
PRICES = "prices"
KINDS = (LOTS, TRANSACTIONS, PRICES)

ISO = "%Y-%m-%d"
US = "%m/%d/%Y"


@dataclass(frozen=True)
class Layout:
    key: str
    kind: str
    label: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    date_formats: tuple[str, ...] = (ISO,)
    #: Rows whose ticker cell matches one of these (upper-cased, prefix match) are not holdings
    #: (cash sweep, totals) and are shown as skipped instead of imported.
    skip_prefixes: tuple[str, ...] = ()
    #: Rows whose ticker cell matches one of these (or ends with "**", a broker's core position)
    #: are the account's cash (a money-market sweep): imported as cash, from their value.
    cash_prefixes: tuple[str, ...] = ()
    #: Broker files carry note/footer lines; the canonical format is strict.
    lenient: bool = False
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    def is_cash_line(self, ticker_cell: str) -> bool:
        return bool(self.cash_prefixes) and (
            ticker_cell.endswith("**") or ticker_cell.startswith(self.cash_prefixes)
        )

    def header_names(self) -> str:
        return ", ".join(names[0] for names in self.columns.values())


CANONICAL_LOTS = Layout(
    key="canonical",
    kind=LOTS,
    label="Canonical lots (ticker, quantity, cost_basis, acquired_on)",
    columns={
        "ticker": ("ticker", "symbol"),
        "quantity": ("quantity", "shares"),
        "cost_basis": ("cost_basis", "cost basis"),
        "cost_per_share": ("cost_per_share", "cost per share"),
        "acquired_on": ("acquired_on", "acquired", "date acquired"),
    },
    required=("ticker", "quantity", "acquired_on"),
    one_of=(("cost_basis", "cost_per_share"),),
)

FIDELITY_LOTS = Layout(
    key="fidelity",
    kind=LOTS,
    label="Fidelity positions by lot (Symbol, Date Acquired, Quantity, Cost Basis Total)",
    columns={
        "ticker": ("symbol",),
        "acquired_on": ("date acquired",),
        "quantity": ("quantity",),
        "cost_basis": ("cost basis total", "cost basis"),
        "cost_per_share": ("cost basis per share", "average cost basis"),
        "account": ("account number", "account name/number"),
        "market_value": ("current value",),
    },
    required=("ticker", "acquired_on", "quantity"),
    date_formats=(US, ISO),
    skip_prefixes=("PENDING ACTIVITY", "ACCOUNT TOTAL"),
    cash_prefixes=("SPAXX", "FDRXX", "FZFXX", "FCASH", "CORE", "CASH", "MONEY MARKET"),
    lenient=True,
    one_of=(("cost_basis", "cost_per_share"),),
)

SCHWAB_LOTS = Layout(
    key="schwab",
    kind=LOTS,
    label="Schwab unrealized gain/loss lot details (Symbol, Open Date, Quantity, Cost Basis)",
    columns={
        "ticker": ("symbol",),
        "acquired_on": ("open date",),
        "quantity": ("quantity", "qty"),
        "cost_basis": ("cost basis",),
        "cost_per_share": ("cost/share", "cost per share"),
        "market_value": ("market value",),
    },
    required=("ticker", "acquired_on", "quantity"),
    date_formats=(US, ISO),
    skip_prefixes=("ACCOUNT TOTAL",),
    cash_prefixes=("CASH & CASH INVESTMENTS", "CASH", "MONEY MARKET"),
    lenient=True,
    one_of=(("cost_basis", "cost_per_share"),),
)

CANONICAL_TRANSACTIONS = Layout(
    key="canonical",
    kind=TRANSACTIONS,
    label="Canonical transactions (date, kind, ticker, quantity, price, amount, fees, external_id)",
    columns={
        "date": ("date", "trade_date"),
        "kind": ("kind", "action", "type"),
        "ticker": ("ticker", "symbol"),
        "quantity": ("quantity", "shares"),
        "price": ("price",),
        "amount": ("amount",),
        "fees": ("fees", "fee", "commission"),
        "external_id": ("external_id", "id", "reference"),
        "note": ("note", "description"),
    },
    required=("date", "kind"),
)

CANONICAL_PRICES = Layout(
    key="canonical",
    kind=PRICES,
    label="Canonical daily prices (date, ticker, close, adjusted_close)",
    columns={
        "date": ("date",),
        "ticker": ("ticker", "symbol"),
        "close": ("close",),
        "adjusted_close": ("adjusted_close", "adj close", "adjclose"),
    },
    required=("date", "ticker", "close"),
)

LAYOUTS: dict[str, tuple[Layout, ...]] = {
    # Broker layouts first: their headers are more specific than the canonical ones.
    LOTS: (FIDELITY_LOTS, SCHWAB_LOTS, CANONICAL_LOTS),
    TRANSACTIONS: (CANONICAL_TRANSACTIONS,),
    PRICES: (CANONICAL_PRICES,),
}


def layout_choices(kind: str) -> list[tuple[str, str]]:
    return [("auto", "Detect automatically")] + [
        (layout.key, layout.label) for layout in LAYOUTS[kind]
    ]


def get_layout(kind: str, key: str) -> Layout:
    for layout in LAYOUTS[kind]:
        if layout.key == key:
            return layout
    raise KeyError(f"No {kind} layout {key!r}")
