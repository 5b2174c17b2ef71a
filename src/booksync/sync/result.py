"""What a run reports (the last step): :class:`SyncResult`, and :class:`Stop`, what a step returns when the run
ends there (a check failed, the person declined, nothing to do)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from booksync.domain import Problem


@dataclass
class SyncResult:
    """What a run did. ``status``: nothing, stopped, declined, dry-run, completed, refused.

    ``exit_code`` is one of :mod:`booksync.exits` (0 fine, 3 checks stopped the run, 4 the user declined,
    5 QuickBooks refused an operation).
    """

    run_id: str
    status: str
    exit_code: int
    message: str
    problems: list[Problem] = field(default_factory=list)
    planned: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    folder: str = ""
    backup: str = ""
    adjustments: int = 0
    digest: str = ""
    """The plan's digest (:meth:`booksync.domain.Plan.digest`), when a plan was made."""
    settled: list[str] = field(default_factory=list)
    """Operations of interrupted runs settled at the start of this run."""
    message_web: str = ""
    """``message`` in the web interface's words, where they differ (pages, not commands); "" = the same."""
    backup_note: str = ""
    """Why the backup holds no copy of the company file ("" when it does)."""
    notices: list[Problem] = field(default_factory=list)
    """What the user must know that did not stop the run: records linked to QuickBooks that are gone from
    the billing store (code "gone", :func:`booksync.store.links.anchor_links`)."""

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "exit_code": self.exit_code, "message": self.message,
                "message_web": self.message_web, "backup_note": self.backup_note,
                "problems": [p.__dict__ for p in self.problems], "planned": self.planned, "applied": self.applied,
                "folder": self.folder, "backup": self.backup, "adjustments": self.adjustments,
                "digest": self.digest, "settled": self.settled, "notices": [p.__dict__ for p in self.notices]}


@dataclass
class Stop:
    """A step's word that the run ends here: the result's ``status``, exit code (:mod:`booksync.exits`), message
    and problems."""

    status: str
    code: int
    message: str
    problems: list[Problem] = field(default_factory=list)
