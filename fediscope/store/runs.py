"""Items in runs within a count and a byte size: the keys a store sends in one request (MariaDB's
``DELETE … WHERE key IN (…)`` within ``max_allowed_packet``, HBase's reads of many rows within a framed server's
frame)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def sized_runs(items: Iterable[T], size_of: Callable[[T], int], fixed: int, longest: int | None,
               most: int | None) -> Iterator[list[T]]:
    """``items`` in runs of at most ``most`` (None or 0: any number) whose ``fixed`` bytes and each item's
    ``size_of`` come to at most ``longest`` (None: any size); an item that would take a run over starts the next
    one, and an item too big for a run alone is a run of its own (the server refuses it as it would anyway)."""
    run: list[T] = []
    size = fixed
    for item in items:
        added = size_of(item)
        if run and ((most and len(run) >= most) or (longest is not None and size + added > longest)):
            yield run
            run, size = [], fixed
        run.append(item)
        size += added
    if run:
        yield run
