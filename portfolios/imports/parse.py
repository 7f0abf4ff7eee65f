"""Parse and validate an uploaded CSV without touching the database.

`parse_csv` takes the raw bytes, the kind of data and what it needs to know about the world
(the known tickers, today's date) and returns every row with its normalised values and its
errors. Nothing here imports Django, so it is fast to test and to benchmark. Normalised values
are strings (ISO dates, plain decimals) so rows can be stored as JSON and copied to the
database unchanged.
"""

import csv
import datetime as dt
import hashlib
import io
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from advisor.core import inputs
from portfolios.imports import layouts
from portfolios.imports.layouts import Layout

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
HEADER_SCAN_LINES = 10
MAX_ERRORS_PER_FILE = 100_000
OLDEST_DATE = inputs.EARLIEST_DATE
QUANTITY = inputs.QUANTITY
PRICE = inputs.PRICE
MONEY = inputs.MONEY
MONEY_PLACES = MONEY.quantum

TRADE_KINDS = {"buy", "sell"}
CASH_IN_KINDS = {"dividend", "interest", "deposit"}
CASH_OUT_KINDS = {"fee", "withdrawal"}
KIND_ALIASES = {
    "buy": "buy", "bought": "buy", "purchase": "buy",
    "sell": "sell", "sold": "sell", "sale": "sell",
    "dividend": "dividend", "div": "dividend", "qualified dividend": "dividend",
    "interest": "interest", "fee": "fee", "deposit": "deposit", "contribution": "deposit",
    "withdrawal": "withdrawal", "distribution": "withdrawal",
}  # fmt: skip


@dataclass(slots=True)
class Row:
    line: int
    raw: list[str]
    values: dict[str, str | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.skipped

    def as_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "raw": self.raw,
            "values": self.values,
            "errors": self.errors,
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "Row":
        return cls(
            line=int(data["line"]),  # type: ignore[call-overload]
            raw=list(data["raw"]),  # type: ignore[call-overload]
            values=dict(data["values"]),  # type: ignore[call-overload]
            errors=list(data["errors"]),  # type: ignore[call-overload]
            skipped=str(data.get("skipped", "")),
        )


@dataclass
class ParseResult:
    kind: str
    layout: str
    header: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    #: The fast path's result (every row valid), column by column: line, raw, and the values.
    #: `rows` is built from it only when someone asks for Row objects (the preview does).
    columns: dict[str, list] | None = None

    def _materialise(self) -> None:
        if self.columns is not None and not self.rows:
            c = self.columns
            names = [n for n in c if n not in ("line", "raw")]
            self.rows = [
                Row(line, raw, dict(zip(names, values, strict=True)), [], "")
                for line, raw, *values in zip(
                    c["line"], c["raw"], *(c[n] for n in names), strict=True
                )
            ]

    @property
    def error_count(self) -> int:
        if self.columns is not None:
            return len(self.file_errors)
        return len(self.file_errors) + sum(1 for row in self.rows if row.errors)

    @property
    def row_count(self) -> int:
        """Rows that would be imported."""
        if self.columns is not None:
            return len(self.columns["line"])
        return len(self.valid_rows)

    @property
    def valid_rows(self) -> list[Row]:
        self._materialise()
        return [row for row in self.rows if row.ok]

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and bool(self.valid_rows)

    def messages(self, limit: int = 20) -> list[str]:
        """The errors as sentences: file errors first, then `line N: ...`."""
        out = list(self.file_errors)
        self._materialise()
        for row in self.rows:
            out.extend(f"line {row.line}: {error}" for error in row.errors)
            if len(out) >= limit:
                break
        return out[:limit]


RowError = inputs.InputError


def plain(value: Decimal) -> str:
    """Decimal('12.50000000') -> '12.5'; Decimal('0E-8') -> '0' (for values and messages)."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


# --- cell parsers (the product's input layer, advisor.core.inputs) ----------------------------


def parse_decimal(text: str, name: str, precision: inputs.Precision) -> Decimal | None:
    """'$1,234.50' -> Decimal('1234.50'); '(12.5)' -> -12.5; empty or '--' -> None."""
    return inputs.parse_decimal(text, name, precision)


def parse_date(text: str, name: str, formats: Iterable[str], today: dt.date) -> dt.date | None:
    return inputs.parse_date(text, name, formats, latest=today, earliest=OLDEST_DATE)


# --- file level ------------------------------------------------------------------------------


def decode(data: bytes, *, max_bytes: int) -> tuple[str | None, list[str]]:
    """Bytes -> text, or None with the reason. UTF-8 (with or without BOM) only."""
    if len(data) > max_bytes:
        return None, [
            f"The file is {len(data) / 1_048_576:.1f} MB; the limit is {max_bytes / 1_048_576:.0f} MB."
        ]
    if not data.strip():
        return None, ["The file is empty."]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, ["The file is UTF-16 encoded; save it as UTF-8 CSV and upload it again."]
    if b"\x00" in data:
        return None, ["The file is not a text CSV file (it contains binary data)."]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "save it as 'CSV UTF-8' and upload it again."
        ]
    return text, []


def _normalise_header(cell: str) -> str:
    return " ".join(cell.strip().strip('"').lower().replace("_", " ").split())


def match_header(cells: list[str], layout: Layout) -> dict[str, int] | None:
    """Field -> column index when `cells` is a header row of `layout`, else None."""
    normalised = [_normalise_header(c) for c in cells]
    index: dict[str, int] = {}
    for name, aliases in layout.columns.items():
        for alias in aliases:
            key = _normalise_header(alias)
            if key in normalised:
                index[name] = normalised.index(key)
                break
    if not all(name in index for name in layout.required):
        return None
    if not all(any(name in index for name in group) for group in layout.one_of):
        return None
    return index


def find_header(
    records: list[list[str]], candidates: Iterable[Layout], scan: int = 10
) -> tuple[Layout, int, dict[str, int]] | None:
    """The first (layout, header line index, column map) found in the file's first lines."""
    candidates = list(candidates)
    for position, cells in enumerate(records[:scan]):
        for layout in candidates:
            index = match_header(cells, layout)
            if index is not None:
                return layout, position, index
    return None


def parse_csv(
    data: bytes,
    *,
    kind: str,
    known_tickers: Mapping[str, object],
    today: dt.date,
    layout: str = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ParseResult:
    """Parse and validate a whole file. Every row comes back, with its errors (if any)."""
    if kind not in layouts.KINDS:
        raise ValueError(f"Unknown import kind {kind!r}")
    result = ParseResult(kind=kind, layout=layout)
    text, result.file_errors = decode(data, max_bytes=max_bytes)
    if text is None:
        return result
    try:
        head = list(itertools.islice(csv.reader(io.StringIO(text, newline="")), HEADER_SCAN_LINES))
    except csv.Error as exc:
        result.file_errors.append(f"The file is not valid CSV: {exc}.")
        return result
    candidates = layouts.LAYOUTS[kind] if layout == "auto" else (layouts.get_layout(kind, layout),)
    found = find_header(head, candidates, scan=HEADER_SCAN_LINES)
    if found is None:
        expected = "; ".join(f"{c.label}" for c in candidates)
        result.file_errors.append(
            f"No header row with the expected columns was found. Expected: {expected}."
        )
        return result
    chosen, header_at, index = found
    result.layout = chosen.key
    result.header = [c.strip() for c in head[header_at]]
    validate = {
        layouts.LOTS: _lot_values,
        layouts.TRANSACTIONS: _transaction_values,
        layouts.PRICES: _price_values,
    }[kind]
    if kind == layouts.LOTS and not chosen.lenient:
        fast = _fast_canonical_lots(text, header_at, index, known_tickers, today)
        if fast is not None:
            result.columns = fast
            return result
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        result.file_errors.append(f"The file is not valid CSV: {exc}.")
        return result
    seen: dict[tuple[object, ...], int] = {}
    columns = list(index.items())
    width = max(index.values()) + 1
    append = result.rows.append
    for offset, cells in enumerate(records[header_at + 1 :], start=header_at + 2):
        if not "".join(cells).strip():
            continue  # blank line
        row = Row(offset, cells)
        append(row)
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        cell = {name: cells[i] for name, i in columns}
        ticker_cell = cell.get("ticker", "").strip().upper()
        if chosen.lenient:
            if ticker_cell and ticker_cell.startswith(chosen.skip_prefixes):
                row.skipped = "pending activity or total line, not a holding"
                continue
            if ticker_cell and chosen.is_cash_line(ticker_cell):
                try:
                    row.values = _cash_values(cell, ticker_cell)
                except RowError as exc:
                    row.errors.append(str(exc))
                if not row.values and not row.errors:
                    row.skipped = "cash line without an amount"
                continue
            data_fields = (
                "quantity",
                "acquired_on",
                "cost_basis",
                "cost_per_share",
                "date",
                "close",
            )
            if not ticker_cell or not any(cell.get(name, "").strip() for name in data_fields):
                row.skipped = "note or footer line"
                continue
        try:
            row.values, key = validate(cell, chosen, known_tickers, today)
        except RowError as exc:
            row.errors.append(str(exc))
            continue
        if chosen.cash_prefixes:
            row.values["cash"] = None  # the same columns as the cash lines, for the preview
        if key in seen:
            row.errors.append(f"duplicate of line {seen[key]}")
        else:
            seen[key] = offset
    if not result.rows:
        result.file_errors.append("The file has a header but no data rows.")
    elif not result.valid_rows and not result.error_count:
        result.file_errors.append("The file has no rows to import (every row was skipped).")
    return result


# --- the fast path: a clean canonical lots file, validated column by column -----------------

# [0-9], not \d: \d also matches Unicode digits, which the slow path refuses with a message.
_QUANTITY_RE = r"[0-9]{1,12}(?:\.[0-9]{1,8})?"
_MONEY_RE = r"[0-9]{1,16}(?:\.[0-9]{1,2})?"
_ISO_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _fast_canonical_lots(
    text: str, header_at: int, index: Mapping[str, int], known: Mapping[str, object], today: dt.date
) -> dict[str, list] | None:
    """Every row of a canonical lots file at once with pandas, when every row is plainly valid
    (plain numbers, ISO dates, known tickers, no duplicates). Returns None otherwise, and the
    row-by-row path produces the exact per-row messages."""
    import pandas as pd

    if "cost_basis" not in index:
        return None
    try:
        table = pd.read_csv(
            io.StringIO(text), skiprows=header_at + 1, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, engine="c",
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        return None  # ragged or odd rows: the row-by-row path explains them
    if table.empty or table.shape[1] <= max(index.values()):
        return None
    table = table.astype(object)
    if (table == "").all(axis=1).any():
        return None  # blank lines would shift line numbers
    names = ("ticker", "quantity", "cost_basis", "acquired_on")
    frame = pd.DataFrame({name: table.iloc[:, index[name]] for name in names})
    first_line = header_at + 2
    body = table.to_numpy().tolist()
    ticker = frame["ticker"].str.strip().str.upper()
    ok = (
        ticker.isin(list(known))
        & frame["quantity"].str.fullmatch(_QUANTITY_RE)
        & frame["cost_basis"].str.fullmatch(_MONEY_RE)
        & frame["acquired_on"].str.fullmatch(_ISO_RE)
    )
    if not ok.all():
        return None
    dates = pd.to_datetime(frame["acquired_on"], format="%Y-%m-%d", errors="coerce")
    quantity = pd.to_numeric(frame["quantity"])
    if (
        dates.isna().any()
        or (dates > pd.Timestamp(today)).any()
        or (dates < pd.Timestamp(OLDEST_DATE)).any()
    ):
        return None
    if not (quantity > 0).all():
        return None
    key = pd.DataFrame(
        {"t": ticker, "q": quantity, "b": pd.to_numeric(frame["cost_basis"]), "d": dates}
    )
    if key.duplicated().any():
        return None
    return {
        "line": list(range(first_line, first_line + len(body))),
        "raw": body,
        "ticker": ticker.tolist(),
        "quantity": frame["quantity"].tolist(),
        "cost_basis": frame["cost_basis"].tolist(),
        "acquired_on": frame["acquired_on"].tolist(),
    }


# --- per kind --------------------------------------------------------------------------------


def _cash_values(cell: Mapping[str, str], ticker_cell: str) -> dict[str, str | None]:
    """A money-market or cash line: the account's cash, from its value (or, for a $1 fund
    without a value, its quantity). Empty when the line has no amount."""
    amount = parse_decimal(cell.get("market_value", ""), "cash value", MONEY)
    if amount is None:
        amount = parse_decimal(cell.get("quantity", ""), "cash quantity", MONEY)
    if amount is None:
        return {}
    if amount < 0:
        raise RowError(f"the cash line {ticker_cell} is negative ({amount}); import it by hand")
    return {
        "ticker": ticker_cell.rstrip("*"),
        "quantity": None,
        "cost_basis": None,
        "acquired_on": None,
        "cash": str(amount.quantize(MONEY_PLACES)),
    }


def _ticker(
    cell: Mapping[str, str], known: Mapping[str, object], required: bool = True
) -> str | None:
    ticker = cell.get("ticker", "").strip().upper().rstrip("*")
    if not ticker:
        if required:
            raise RowError("ticker is missing")
        return None
    if ticker not in known:
        raise RowError(f"unknown ticker {ticker!r}")
    return ticker


T = TypeVar("T")


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise RowError(f"{name} is missing")
    return value


def _lot_values(
    cell: Mapping[str, str], layout: Layout, known: Mapping[str, object], today: dt.date
) -> tuple[dict[str, str | None], tuple[object, ...]]:
    errors: list[str] = []
    ticker = quantity = acquired = basis = None
    try:
        ticker = _ticker(cell, known)
    except RowError as exc:
        errors.append(str(exc))
    try:
        quantity = _required(
            parse_decimal(cell.get("quantity", ""), "quantity", QUANTITY), "quantity"
        )
        if quantity <= 0:
            raise RowError(f"quantity {plain(quantity)} must be more than zero")
    except RowError as exc:
        errors.append(str(exc))
    try:
        acquired = _required(
            parse_date(cell.get("acquired_on", ""), "acquired date", layout.date_formats, today),
            "acquired date",
        )
    except RowError as exc:
        errors.append(str(exc))
    try:
        basis = parse_decimal(cell.get("cost_basis", ""), "cost basis", MONEY)
        if basis is None:
            per_share = parse_decimal(cell.get("cost_per_share", ""), "cost per share", PRICE)
            if per_share is None:
                raise RowError("cost basis is missing")
            if quantity is not None:
                basis = inputs.check_fits(per_share * quantity, "cost basis", MONEY)
            else:
                basis = per_share
        if basis is not None and basis < 0:
            raise RowError(f"cost basis {basis} must not be negative")
    except RowError as exc:
        errors.append(str(exc))
    if errors:
        raise RowError("; ".join(errors))
    assert quantity is not None and acquired is not None  # each raised into `errors` otherwise
    values = {
        "ticker": ticker,
        "quantity": plain(quantity),
        "cost_basis": str(basis),
        "acquired_on": acquired.isoformat(),
    }
    return values, (ticker, quantity, basis, acquired)


def _transaction_values(
    cell: Mapping[str, str], layout: Layout, known: Mapping[str, object], today: dt.date
) -> tuple[dict[str, str | None], tuple[object, ...]]:
    errors: list[str] = []

    def attempt(func, *args):
        try:
            return func(*args)
        except RowError as exc:
            errors.append(str(exc))
            return None

    date = attempt(
        lambda: _required(
            parse_date(cell.get("date", ""), "date", layout.date_formats, today), "date"
        )
    )
    kind_text = cell.get("kind", "").strip().lower()
    kind = KIND_ALIASES.get(kind_text)
    if kind is None:
        errors.append(
            f"kind {kind_text!r} is not one of buy, sell, dividend, interest, fee, deposit, withdrawal"
        )
    quantity = attempt(parse_decimal, cell.get("quantity", ""), "quantity", QUANTITY)
    price = attempt(parse_decimal, cell.get("price", ""), "price", PRICE)
    amount = attempt(parse_decimal, cell.get("amount", ""), "amount", MONEY)
    fees = attempt(parse_decimal, cell.get("fees", ""), "fees", MONEY) or Decimal("0.00")
    ticker = attempt(_ticker, cell, known, kind in TRADE_KINDS)
    if fees < 0:
        errors.append(f"fees {fees} must not be negative")
    if kind in TRADE_KINDS:
        if quantity is None and not any("quantity" in e for e in errors):
            errors.append("quantity is missing")
        elif quantity is not None and quantity <= 0:
            errors.append(f"quantity {plain(quantity)} must be more than zero")
        if price is None and not any("price" in e for e in errors):
            errors.append("price is missing")
        elif price is not None and price <= 0:
            errors.append(f"price {plain(price)} must be more than zero")
        if not errors:
            try:
                gross = inputs.check_fits(quantity * price, "quantity x price", MONEY)
                computed = inputs.check_fits(
                    -(gross + fees) if kind == "buy" else gross - fees, "amount", MONEY
                )
            except RowError as exc:
                raise RowError(str(exc)) from None
            amount = (
                computed if amount is None else (-abs(amount) if kind == "buy" else abs(amount))
            )
    elif kind is not None:
        if amount is None and not any("amount" in e for e in errors):
            errors.append("amount is missing")
        elif amount is not None:
            if amount == 0:
                errors.append("amount must not be zero")
            amount = abs(amount) if kind in CASH_IN_KINDS else -abs(amount)
        if quantity is not None and quantity <= 0:
            errors.append(f"quantity {plain(quantity)} must be more than zero")
    if errors:
        raise RowError("; ".join(errors))
    values: dict[str, str | None] = {
        "date": date.isoformat(),
        "kind": kind,
        "ticker": ticker,
        "quantity": None if quantity is None else plain(quantity),
        "price": None if price is None else plain(price),
        "amount": str(amount),
        "fees": str(fees),
        "note": cell.get("note", "").strip()[:200],
    }
    external = cell.get("external_id", "").strip()[:100]
    if not external:
        digest = hashlib.sha1(
            repr(sorted(values.items())).encode(), usedforsecurity=False
        ).hexdigest()
        external = f"import:{digest}"
    values["external_id"] = external
    return values, (external,)


def _price_values(
    cell: Mapping[str, str], layout: Layout, known: Mapping[str, object], today: dt.date
) -> tuple[dict[str, str | None], tuple[object, ...]]:
    errors: list[str] = []
    ticker = date = close = adjusted = None
    try:
        ticker = _ticker(cell, known)
    except RowError as exc:
        errors.append(str(exc))
    try:
        date = _required(
            parse_date(cell.get("date", ""), "date", layout.date_formats, today), "date"
        )
    except RowError as exc:
        errors.append(str(exc))
    try:
        close = _required(parse_decimal(cell.get("close", ""), "close", PRICE), "close")
        if close <= 0:
            raise RowError(f"close {plain(close)} must be more than zero")
    except RowError as exc:
        errors.append(str(exc))
    try:
        adjusted = parse_decimal(cell.get("adjusted_close", ""), "adjusted close", PRICE)
        if adjusted is not None and adjusted <= 0:
            raise RowError(f"adjusted close {plain(adjusted)} must be more than zero")
    except RowError as exc:
        errors.append(str(exc))
    if errors:
        raise RowError("; ".join(errors))
    assert date is not None and close is not None  # each raised into `errors` otherwise
    values = {
        "ticker": ticker,
        "date": date.isoformat(),
        "close": plain(close),
        "adjusted_close": None if adjusted is None else plain(adjusted),
    }
    return values, (ticker, date)
