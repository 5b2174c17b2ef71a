"""What a caller gives a run: its options (:class:`SyncOptions`) and the answers to its questions
(:class:`Interaction`: a person at the command line or in the browser, or unattended flags)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from booksync.domain import Plan
from booksync.sync.corrections import CorrectionPolicy


class Interaction(Protocol):
    """The questions a run asks, answered by a person or by unattended flags."""

    def ask_create_customers(self, members: list[str]) -> bool: ...

    def review_corrections(self, plan: Plan, log_files: dict[str, Path]) -> bool:
        """The Corrections Log gate: True once the log was previewed or printed; False cancels."""
        ...

    def confirm_update(self, plan: Plan, folder: Path) -> bool: ...

    def progress(self, phase: str, done: int, total: int) -> None: ...


@dataclass
class SyncOptions:
    dry_run: bool = False
    message_size: int = 50
    keep_backups: int = 10
    policy: CorrectionPolicy = field(default_factory=CorrectionPolicy)
    full_scan: bool = False
    """Examine every billing record, not only those changed since the change mark (load_work everything)."""
    default_class: str = ""
    """The class of lines whose G/L account names none (the home's ``[sync] default_class``; issue 21 item 4)."""
    create_payment_methods: bool = True
    """Create the QuickBooks payment method of a billing method without a mapping when QuickBooks has none of its
    name (the home's ``[sync] create_payment_methods``); False: such payments stop the run before anything is
    written (issue 21 item 6)."""
