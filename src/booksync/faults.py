"""Fault points for the crash tests: ``BOOKSYNC_FAULT=NAME:N`` kills the process (SIGKILL) the N-th time
NAME is reached. Points: the sync engine's ``before-sent``, ``before-send``, ``after-send``,
``after-record``, ``backup``; the restore's ``restore-between`` (database restored, company file not yet)."""
from __future__ import annotations

import os
import signal

_FAULT_COUNTS: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die here as if killed (SIGKILL), when BOOKSYNC_FAULT is "NAME:N" and this is the N-th time
    NAME is reached. Used by the crash-recovery tests; does nothing otherwise."""
    spec = os.environ.get("BOOKSYNC_FAULT", "")
    if not spec:
        return
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return
    _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if _FAULT_COUNTS[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
