"""Starting a sync, for every face: the run's options built in one place, the sync lock, the run.

The command line, the web interface and the Web Connector each answer the run's questions their own way
(an :class:`Interaction`) and report its :class:`SyncResult` in their own words; what the run is given
(:class:`SyncOptions`: message size, backups kept, the correction policy, dry run, full scan) comes from
:func:`sync_options` alone, from the home's settings and the caller's choices.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.orm import Session, sessionmaker

from booksync.books.port import BooksPort
from booksync.config import Home
from booksync.qbxml.parse import MalformedResponse
from booksync.sync.corrections import correction_policy
from booksync.sync.load import load_work
from booksync.sync.lock import SyncBusy, sync_lock
from booksync.sync.options import Interaction, SyncOptions
from booksync.sync.result import SyncResult
from booksync.sync.run import synchronize

__all__ = ["Interaction", "MalformedResponse", "SyncBusy", "SyncOptions", "SyncResult", "nothing_to_sync", "run_sync",
           "sync_lock", "sync_options"]


def sync_options(settings: dict[str, Any], *, dry_run: bool = False, full_scan: bool = False,
                 on_conflict: str | None = None, closed_period: str | None = None,
                 allow_deposit_changes: bool = False) -> SyncOptions:
    """The options of a run from the home's ``settings`` (``[sync]`` message_size, keep_backups,
    create_payment_methods; ``[corrections]``)
    and the caller's choices (command line flags, the web's form; None: the home's setting).

    Raises ValueError when BOOKSYNC_TODAY is not a date (YYYY-MM-DD)."""
    policy = correction_policy(settings, on_conflict, closed_period, allow_deposit_changes)
    sync = settings["sync"]
    return SyncOptions(dry_run=dry_run, message_size=int(sync.get("message_size", 50)),
                       keep_backups=int(sync.get("keep_backups", 10)), policy=policy, full_scan=full_scan,
                       create_payment_methods=bool(sync.get("create_payment_methods", True)),
                       default_class=str(sync.get("default_class") or ""))


def run_sync(sessions: sessionmaker[Session], port: BooksPort, home: Home, interaction: Interaction,
             options: SyncOptions, engine: Callable[..., SyncResult] | None = None) -> SyncResult:
    """One run over the open company ``port``; the caller holds :func:`sync_lock`.

    ``engine`` stands in for the run in tests (the Web Connector's); by default the sync itself. Raises what
    the run raises: :class:`booksync.errors.ConnectionFailure` when the company is lost,
    :class:`MalformedResponse` for an answer from QuickBooks Desktop that cannot be read."""
    return (engine or synchronize)(sessions, port, home, interaction, options)


def nothing_to_sync(session: Session, company_key: str) -> bool:
    """True when no billing record of ``company_key``'s company waits to be written (new or changed)."""
    return load_work(session, company_key).is_empty()
