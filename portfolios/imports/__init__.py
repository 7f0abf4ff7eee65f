"""CSV imports of positions with lots, transaction history and prices (see docs/imports.md).

`parse` is pure (bytes in, validated rows out); `services` stores previews and writes
confirmed imports all-or-nothing.
"""
