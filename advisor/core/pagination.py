"""The API's pagination: `?limit=` and `?offset=` read through the input layer.

DRF's LimitOffsetPagination passes any integer to the database, so `?offset=99999999999999999999`
overflowed PostgreSQL's bigint (a 500). Here both are ASCII digits, clamped: limit to 1..MAX_LIMIT,
offset to 0..MAX_OFFSET; anything else is the default.
"""

from rest_framework.pagination import LimitOffsetPagination

from advisor.core import inputs

MAX_LIMIT = 1000
MAX_OFFSET = 10**12


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        default = self.default_limit or MAX_LIMIT
        try:
            return inputs.parse_int(
                request.query_params.get(self.limit_query_param),
                default=default,
                minimum=1,
                maximum=self.max_limit,
            )
        except inputs.InputError:
            return default

    def get_offset(self, request) -> int:
        try:
            return inputs.parse_int(
                request.query_params.get(self.offset_query_param),
                default=0,
                minimum=0,
                maximum=MAX_OFFSET,
            )
        except inputs.InputError:
            return 0
