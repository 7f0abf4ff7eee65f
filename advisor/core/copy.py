"""Bulk reads and writes through PostgreSQL's COPY, with a portable path for SQLite.

- `columns_frame(sql, params, dtypes)`: rows of a query straight into a DataFrame (each column
  sent as one binary array).
- `copy_rows(table, columns, records)`: COPY FROM STDIN, the fastest bulk insert.
- `insert_rows(model, rows)` / `insert_rows_with_ids(model, rows)`: rows given as
  {attname: value} inserted without building model instances (COPY on PostgreSQL,
  bulk_create elsewhere); unnamed fields take their defaults, JSON fields are encoded here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import psycopg
from django.db import connection, models
from psycopg.types.json import Jsonb


def columns_frame(sql: str, params: Sequence[object], dtypes: dict[str, Any]) -> pd.DataFrame:
    """Run `sql` on PostgreSQL and return its rows as a DataFrame with the columns (and dtypes)
    of `dtypes`, each of which the query must give as a NOT NULL int8 (bigint) or float8.

    The rows come back as ONE row of arrays: PostgreSQL aggregates each column into an array
    (one pass, so the i-th element of every array is the same row) and sends it in its binary
    wire format (`array_send`), which numpy reads in place: a length and a big-endian 8-byte
    value per element. No per-row message, tuple or Python object on the way, so reading 40,000
    lots costs about what the database spends producing them.
    """
    names = list(dtypes)
    arrays = ", ".join(f"array_send(array_agg(q.{name}))" for name in names)
    wrapped = f"SELECT count(*), {arrays} FROM ({sql}) AS q({', '.join(names)})"  # noqa: S608 - column names only; values are parameters
    # A server-side-binding cursor: Django's client-side cursors cannot return binary.
    with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as raw:
        raw.execute(wrapped, params, binary=True)
        row = raw.fetchone()
    assert row is not None  # an aggregate always returns one row
    count, *blobs = row
    return pd.DataFrame(
        {name: _array(blob, count, dtypes[name]) for name, blob in zip(names, blobs, strict=True)}
    )


def _array(blob: bytes | None, count: int, dtype: Any) -> np.ndarray:
    """The elements of a one-dimensional int8/float8 array in PostgreSQL's binary format."""
    if not count:
        return np.zeros(0, dtype=dtype)
    kind = "i" if np.dtype(dtype).kind in "iu" else "f"
    element = np.dtype([("length", ">i4"), ("value", f">{kind}8")])
    # Header: ndim, has-nulls flag, element type, then (size, lower bound) of the one dimension.
    header = np.frombuffer(blob, dtype=">i4", count=5) if blob else np.zeros(5, dtype=">i4")
    if header[0] != 1 or header[1] != 0 or header[3] != count:
        raise ValueError("expected one-dimensional arrays without NULLs")
    data = np.frombuffer(blob, dtype=element, offset=20)  # type: ignore[arg-type]
    if len(data) != count or not (data["length"] == 8).all():
        raise ValueError("expected 8-byte int8 or float8 elements")
    return data["value"].astype(dtype)


def copy_rows(table: str, columns: list[str], records: Iterable[Sequence[object]]) -> None:
    """COPY FROM STDIN on PostgreSQL: the fastest bulk insert (no ON CONFLICT, no returned ids)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)


def _json_bytes(value: Any) -> bytes:
    # orjson: several times faster than json.dumps for the thousands of JSON values a scan
    # batch writes; `default=str` keeps a stray Decimal or date readable instead of failing.
    return orjson.dumps(value, default=str)


def insert_rows(
    model: type[models.Model], rows: list[dict[str, Any]], *, with_id: bool = False
) -> None:
    """INSERT rows given as {attname: value} (unnamed fields take their defaults; the id comes
    from the table's identity unless `with_id`) without building model instances."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows])
        return
    fields = [
        f
        for f in model._meta.concrete_fields
        if f.column is not None and (with_id or not f.primary_key)
    ]
    defaults = [(f.attname, f.get_default()) for f in fields]
    json_columns = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]

    def records() -> Iterable[list[object]]:
        for row in rows:
            values = [row.get(name, default) for name, default in defaults]
            for i in json_columns:
                values[i] = Jsonb(values[i], dumps=_json_bytes)
            yield values

    copy_rows(model._meta.db_table, [f.column for f in fields if f.column is not None], records())


def insert_rows_with_ids(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """`insert_rows`, setting each row's "id" first (drawn from the table's sequence in one
    query on PostgreSQL), so the caller can insert the rows that point at them."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create([model(**row) for row in rows])
        for row, instance in zip(rows, created, strict=True):
            row["id"] = instance.pk
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = pk
    insert_rows(model, rows, with_id=True)
