"""Progress on standard error: a Rich progress line (spinner, phase, count, elapsed time) when standard error is
a terminal, so that a long read is never silent; one line per phase otherwise (logs and scripts)."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class PhaseProgress:
    """``update(phase, done, total)`` as the sync engine's ``Interaction.progress`` calls it; ``close()`` at the end.

    On a terminal the phase, its count and the elapsed time stay on one live line (transient: it is gone when
    the command prints its result); elsewhere each new phase prints ``"<phase>..."`` and large counts print
    ``"  <phase>: <done> of <total>"`` every ~500."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self._phase = ""
        self._progress: Progress | None = None
        self._task: Any = None

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.live:
            if phase != self._phase:
                self._phase = phase
                self.console.print(f"{phase}...")
            elif total > 1 and (done == total or done % 500 < 50):
                self.console.print(f"  {phase}: {done} of {total}")
            return
        if self._progress is None:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(phase, total=None)
        if phase != self._phase:
            self._phase = phase
            self._progress.reset(self._task, description=phase, total=total if total > 1 else None, completed=0)
        self._progress.update(self._task, completed=done, total=total if total > 1 else None)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._phase = ""
