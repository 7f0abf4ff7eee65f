"""`field__any=ids`: membership in a list of integers (ids) passed as ONE parameter.

On PostgreSQL `col = ANY(%s::bigint[])` with the list as one array literal: the SQL text stays
the same for 10 or 10,000 ids, so building, sending and planning it does not grow with the
batch (an `__in` list of thousands of placeholders costs more than running the query). SQLite
reads the list as JSON. Registered on every field, foreign keys included
(`portfolio__owner_id__any=[...]`). For thousands of ids pass `Ids(values)`: Django walks a
list element by element (resolving and type-checking each id) before the lookup sees it.
"""

from collections.abc import Iterable

import numpy as np
from django.db import models
from django.db.models import Lookup


class Ids:
    """Integer ids as one comma-separated text, for `__any` (see the module docstring)."""

    __slots__ = ("text",)

    def __init__(self, values: "Ids | Iterable[int] | np.ndarray") -> None:
        self.text: str
        if isinstance(values, Ids):
            self.text = values.text
            return
        ids = values.tolist() if isinstance(values, np.ndarray) else [int(v) for v in values]
        self.text = ",".join(map(str, ids))


@models.ForeignObject.register_lookup
@models.Field.register_lookup
class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False
    get_db_prep_lookup_value_is_iterable = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [(value if isinstance(value, Ids) else Ids(value)).text]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, (ids,) = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, "{" + str(ids) + "}"]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, (ids,) = self.process_rhs(compiler, connection)
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, f"[{ids}]"]  # noqa: S608 - table and column names only; values are parameters
