"""Pausing Python's cyclic garbage collector around the CPU-bound steps of a run (loading and planning)."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a CPU-bound step that allocates an object or more per
    record and makes no reference cycles: with it on, its full passes over the growing heap took 40 % of a
    full plan (docs/performance.md finding 2). Never around waits for people or QuickBooks: in
    `booksync serve` the whole process shares the collector."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
