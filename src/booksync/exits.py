"""The exit codes of the ``booksync`` command: one table, used by the command line and the sync engine.

Scripts rely on these numbers; the README and every command's ``--help`` print :func:`table`. With
``--json`` each code comes with one JSON object on standard output whose ``exit_code`` is the same number.
This module imports nothing of booksync, so every layer may use it.
"""
from __future__ import annotations

import textwrap
from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``booksync`` command's exit status means."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CHECKS = 3
    DECLINED = 4
    REFUSED = 5
    CONNECTION = 6
    DISAGREE = 7
    BUSY = 8
    BAD_ANSWER = 9


MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "done, or nothing to do",
    ExitCode.UNEXPECTED: "an unexpected error (the details are in the home's logs/booksync.log), or interrupted",
    ExitCode.USAGE: "usage or set-up: a wrong option or value, not a booksync home, a question nobody could "
                    "answer (add --yes), an unattended run with corrections but no --corrections-log",
    ExitCode.CHECKS: "a check stopped the run before anything was written",
    ExitCode.DECLINED: "you declined at a question; nothing was written",
    ExitCode.REFUSED: "QuickBooks refused an operation during the update",
    ExitCode.CONNECTION: "QuickBooks could not be reached (file in use, not authorized, missing)",
    ExitCode.DISAGREE: "reconcile: the books disagree; deposits suggest: no set of waiting payments adds up to "
                       "the bank line",
    ExitCode.BUSY: "another sync is running for this home",
    ExitCode.BAD_ANSWER: "QuickBooks' answer could not be read (the next sync settles what it can)",
}

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_CHECKS, EXIT_DECLINED = 0, 1, 2, 3, 4
EXIT_REFUSED, EXIT_CONNECTION, EXIT_DISAGREE, EXIT_BUSY, EXIT_BAD_ANSWER = 5, 6, 7, 8, 9
"""The codes as plain ints, for ``sys.exit`` and comparisons (equal to the members of :class:`ExitCode`)."""


def table(width: int = 76) -> str:
    """The table as text, one code a line (``"  0  done, or nothing to do"``), wrapped to ``width`` columns."""
    return "\n".join(textwrap.fill(MEANING[code], width, initial_indent=f"  {int(code)}  ", subsequent_indent=" " * 5)
                     for code in ExitCode)


def help_epilog() -> str:
    """The table for a Click ``--help`` epilog (``\\b`` keeps Click from rewrapping it)."""
    return "\b\nExit codes:\n" + table()
