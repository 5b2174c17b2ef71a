"""The confirm step: a dry run ends here; otherwise the person reviews the Corrections Log (when the plan corrects
anything) and confirms the update (:class:`booksync.sync.options.Interaction`). Nothing is written before."""
from __future__ import annotations

from pathlib import Path

from booksync.domain import Plan
from booksync.exits import EXIT_DECLINED, EXIT_OK
from booksync.sync.options import Interaction
from booksync.sync.result import Stop


def confirm(ui: Interaction, plan: Plan, folder: Path, log_files: dict[str, Path], dry_run: bool) -> Stop | None:
    """None when the update goes ahead; else how the run ends (dry run, cancelled at the log, declined)."""
    if dry_run:
        return Stop("dry-run", EXIT_OK, f"Dry run: {plan.size} operation(s) staged in {folder}; "
                    "nothing was sent to QuickBooks.")
    review = getattr(ui, "review_corrections", None)
    if plan.corrections and review is not None and not review(plan, log_files):
        return Stop("cancelled", EXIT_DECLINED, "Cancelled at the Corrections Log; nothing was written to QuickBooks.")
    if not ui.confirm_update(plan, folder):
        return Stop("declined", EXIT_DECLINED, "QuickBooks was not updated; the plan was discarded.")
    return None
