"""The one way to cut a list into batches (scan fan-outs, sweeps, management commands)."""

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items (at least one item each), in order."""
    if size < 1:
        raise ValueError("The batch size must be at least 1.")
    for start in range(0, len(items), size):
        yield items[start : start + size]
