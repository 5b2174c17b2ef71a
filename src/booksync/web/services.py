"""What the web pages show and change, as plain functions over the billing store and a QuickBooks snapshot.

The checks are the sync engine's own (:mod:`booksync.sync.planner` over
:func:`booksync.sync.engine.load_work`), so the dashboard warns about exactly what would stop a
run. Nothing here renders HTML or knows about HTTP.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from booksync import account_rules
from booksync.config import ConfigError, Home
from booksync.domain import Kind, Problem, QBAccount, QBCustomer, QBSnapshot
from booksync.store.models import CreditMemo, GLAccount, Invoice, JournalEntry, Link, Member, Payment, SyncRun, _now

DIRECT_KINDS = ("simulator", "rp2", "online")
"""Company kinds the web interface can open itself; any other is reached through the Web Connector."""

RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}(-[0-9]+)?$")


class MappingRefused(Exception):
    """A cross reference or Bill Info change was refused; the message says why and what to do."""


# ---------------------------------------------------------------------- QuickBooks


@dataclass
class Books:
    """What the web interface read from QuickBooks for one page: the snapshot, or why there is none."""

    snapshot: QBSnapshot | None
    company_key: str = ""
    error: str = ""
    advice: str = ""

    @property
    def reachable(self) -> bool:
        return self.snapshot is not None


class QuickBooksReader:
    """Reads the company's lists for the pages; keeps them a short while for companies that are slow to ask
    (QuickBooks Online, the request processor). The simulated company is read afresh each time."""

    def __init__(self, home: Home, ttl_seconds: float = 60.0) -> None:
        self.home = home
        self.ttl = ttl_seconds
        self._cached: tuple[float, Books] | None = None
        self._lock = threading.Lock()
        self.last_key = ""
        """The company key of the last successful read, for pages that do not read QuickBooks."""

    @property
    def kind(self) -> str:
        return str(self.home.settings["company"].get("kind", "simulator"))

    @property
    def direct(self) -> bool:
        """True when booksync opens the company itself. A home set up for the Web Connector (a Web Connector
        user, and no simulated company file) is not, whatever its company kind says."""
        if self.kind == "simulator" and not self.home.company_path.exists() \
                and self.home.settings.get("webconnector", {}).get("user"):
            return False
        return self.kind in DIRECT_KINDS

    def forget(self) -> None:
        with self._lock:
            self._cached = None

    def read(self, busy: bool = False) -> Books:
        """The snapshot; ``busy`` says a sync of this server holds the company, so do not knock."""
        if not self.direct:
            return Books(None, self.last_key,
                         error="QuickBooks is reached through the Web Connector, which reads it during each update; "
                               "booksync cannot read it from here.",
                         advice="Updates run when the Web Connector polls; confirm their plans in Run history.")
        with self._lock:
            if self._cached and self.kind != "simulator" and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
        if busy:
            return Books(None, self.last_key, error="A synchronization is running and holds the company file.",
                         advice="This page will show QuickBooks again when it has finished.")
        from booksync.books.registry import open_books
        from booksync.errors import BooksError

        try:
            with open_books(self.home) as port:
                snapshot = port.snapshot()
                books = Books(snapshot, port.company_key)
        except ConfigError as exc:
            return Books(None, self.last_key, error=str(exc))
        except BooksError as exc:
            return Books(None, self.last_key, error=getattr(exc, "message", str(exc)),
                         advice=getattr(exc, "advice", ""))
        except Exception as exc:  # noqa: BLE001 - a page must still show what it can
            import logging

            logging.getLogger("booksync.web").exception("reading QuickBooks failed")
            return Books(None, self.last_key, error=f"QuickBooks could not be read: {exc}")
        with self._lock:
            self._cached = (time.monotonic(), books)
            self.last_key = books.company_key
        return books

    def unread(self) -> Books:
        """No snapshot, but the company key last seen, for pages that only need the link table."""
        return Books(None, self.last_key)


def company_key(session: Session, books: Books) -> str:
    """The company's key: from QuickBooks when it was read, else the one of the latest run."""
    if books.company_key:
        return books.company_key
    return session.scalar(select(SyncRun.company_key).where(SyncRun.company_key != "")
                          .order_by(SyncRun.started_at.desc()).limit(1)) or ""


# ---------------------------------------------------------------------- dashboard


@dataclass
class Waiting:
    """Records waiting to be synchronized: new ones and corrections of ones already in QuickBooks."""

    invoices: int = 0
    credit_memos: int = 0
    payments: int = 0
    changed_invoices: int = 0
    changed_credit_memos: int = 0
    changed_payments: int = 0
    changed_members: int = 0

    @property
    def new(self) -> int:
        return self.invoices + self.credit_memos + self.payments

    @property
    def corrections(self) -> int:
        return self.changed_invoices + self.changed_credit_memos + self.changed_payments + self.changed_members

    @property
    def total(self) -> int:
        return self.new + self.corrections


@dataclass
class RunInfo:
    """One sync run as the pages show it."""

    id: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str
    planned: dict[str, int]
    applied: dict[str, int]
    problems: list[dict[str, str]]
    folder: str
    backup: str
    dry_run: bool

    @property
    def planned_total(self) -> int:
        return sum(self.planned.values())

    @property
    def applied_total(self) -> int:
        return sum(self.applied.values())


@dataclass
class Dashboard:
    books: Books
    kind: str
    company_path: str
    last_run: RunInfo | None
    waiting: Waiting
    unmapped: list[Problem] = field(default_factory=list)
    missing_customers: list[tuple[str, str]] = field(default_factory=list)
    """(number, name) of members being billed that have no QuickBooks customer."""
    customer_problems: list[Problem] = field(default_factory=list)
    deposit_problems: list[Problem] = field(default_factory=list)
    awaiting: RunInfo | None = None
    gone: list[Problem] = field(default_factory=list)
    """Records linked to QuickBooks that are gone from the billing store (store/links.py)."""


def run_info(run: SyncRun) -> RunInfo:
    try:
        summary = json.loads(run.summary or "{}")
    except ValueError:
        summary = {}
    # The web shows the run's message in its own words (pages, not commands) where the engine gave them.
    message = str(summary.get("message_web") or summary.get("message", ""))
    return RunInfo(run.id, run.status, run.started_at, run.finished_at, message,
                   dict(summary.get("planned") or {}), dict(summary.get("applied") or {}),
                   list(summary.get("problems") or []), run.folder, str(summary.get("backup") or ""), run.dry_run)


def dashboard(session: Session, home: Home, books: Books, kind: str) -> Dashboard:
    from booksync.sync import planner
    from booksync.store.links import gone_links
    from booksync.sync.engine import gone_notices, load_work

    key = company_key(session, books)
    latest = session.scalar(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
    awaiting = session.scalar(select(SyncRun).where(SyncRun.status == "awaiting confirm")
                              .order_by(SyncRun.started_at.desc()).limit(1))
    work = load_work(session, key)
    waiting = Waiting(work.count(Kind.INVOICE), work.count(Kind.CREDIT_MEMO), work.count(Kind.PAYMENT),
                      len(work.changed_invoices),
                      len(work.changed_credit_memos), len(work.changed_payments) + len(work.deleted_payments),
                      len(work.changed_members))
    board = Dashboard(books, kind, str(home.company_path) if kind == "simulator" else "",
                      run_info(latest) if latest else None, waiting,
                      awaiting=run_info(awaiting) if awaiting else None)
    board.gone = gone_notices(gone_links(session, key)) if key else []
    if books.snapshot is not None and not work.is_empty():
        board.unmapped = planner.check_accounts(work, books.snapshot)
        customers = planner.resolve_customers(work, books.snapshot)
        board.missing_customers = [(m.number, m.name) for m in customers.missing]
        board.customer_problems = customers.problems
        board.deposit_problems = planner.check_deposit_accounts(work, books.snapshot)
    return board


# ---------------------------------------------------------------------- cross reference


@dataclass
class XrefRow:
    gl: GLAccount
    mapped: bool
    state: str
    """"mapped", "none" (no cross reference), "missing" (names an account QuickBooks does not have) or
    "wrong-type" (names an account of a type the G/L account must not post to: :mod:`booksync.account_rules`)."""
    selected: str
    """The QuickBooks account preselected in the dropdown: the current one, else the suggestion."""
    suggested: bool
    choices: list[QBAccount] = field(default_factory=list)
    """The active QuickBooks accounts of a type this G/L account may post to (the only ones offered)."""
    refused: str = ""
    """Why the current cross reference is refused (state "wrong-type")."""


def xref_rows(session: Session, snapshot: QBSnapshot) -> list[XrefRow]:
    """Every G/L account with its cross reference and the accounts it may choose, unmapped ones first,
    suggestions preselected."""
    accounts = sorted(snapshot.accounts, key=lambda a: a.full_name.casefold())
    by_name = {a.full_name.casefold(): a for a in accounts}
    rows = []
    for gl in session.scalars(select(GLAccount).order_by(GLAccount.number)):
        choices = account_rules.compatible_accounts(gl.type, accounts)
        current = by_name.get((gl.qb_account or "").casefold())
        refused = account_rules.incompatibility(gl, current) if current is not None else None
        if current is not None and current.is_active and refused is None:
            rows.append(XrefRow(gl, True, "mapped", current.full_name, False, choices))
            continue
        hint = account_rules.suggest(gl, accounts)
        state = "wrong-type" if refused else "missing" if gl.qb_account else "none"
        rows.append(XrefRow(gl, False, state, hint.full_name if hint is not None else "", hint is not None,
                            choices, refused or ""))
    rows.sort(key=lambda r: (r.mapped, r.gl.number))
    return rows


def account_choices(snapshot: QBSnapshot) -> list[QBAccount]:
    return sorted((a for a in snapshot.accounts if a.is_active), key=lambda a: a.full_name.casefold())


def save_xref(session: Session, snapshot: QBSnapshot, wanted: dict[str, str]) -> list[tuple[str, str, str]]:
    """Set the cross reference of each G/L account number in ``wanted`` to the QuickBooks account named
    (full name; "" clears it). Returns (number, before, after) for each account that changed. All or nothing.

    Raises :class:`MappingRefused` for an unknown G/L account, an account QuickBooks does not have (or holds
    inactive), and an account of a type the G/L account must not post to (the page offers only the others;
    a forged form is refused by the same rule: :func:`booksync.account_rules.incompatibility`)."""
    by_name = {a.full_name.casefold(): a for a in snapshot.accounts if a.is_active}
    gls = {g.number: g for g in session.scalars(select(GLAccount))}
    changes = []
    for number, name in wanted.items():
        gl = gls.get(number)
        if gl is None:
            raise MappingRefused(f"There is no G/L account numbered {number}.")
        name = name.strip()
        if name and name.casefold() not in by_name:
            session.rollback()
            raise MappingRefused(f"QuickBooks has no active account named \"{name}\" (for G/L account {number}). "
                                 "Reload the page to see the current chart of accounts.")
        if name:
            refused = account_rules.incompatibility(gl, by_name[name.casefold()])
            if refused is not None:
                session.rollback()
                raise MappingRefused(f"Nothing was saved: {refused}. Choose "
                                     f"{account_rules.allowed_types(gl.type)}.")
        full = by_name[name.casefold()].full_name if name else ""
        if full != (gl.qb_account or ""):
            changes.append((number, gl.qb_account or "", full))
            gl.qb_account = full
    session.commit()
    return changes


# ---------------------------------------------------------------------- members


@dataclass
class MemberRow:
    member: Member
    customer: str
    """The QuickBooks customer the member maps to (linked or named by Bill Info), or ""."""
    state: str
    """"linked" (synchronized), "bill-info" (named, linked at the next sync) or "create" (none yet)."""


def customer_links(session: Session, key: str, member_ids: list[int] | None = None) -> dict[int, Link]:
    stmt = select(Link).where(Link.company_key == key, Link.kind == Kind.CUSTOMER.value)
    if member_ids is not None:
        stmt = stmt.where(Link.local_id.in_(member_ids))
    return {link.local_id: link for link in session.scalars(stmt)}


def search_members(session: Session, key: str, query: str, page: int, per_page: int,
                   without_customer: bool = False) -> tuple[list[MemberRow], int]:
    """Members whose number, name, company, contact, email or Bill Info contains ``query`` (with
    ``without_customer``, only those with neither a linked customer nor Bill Info); one page of them and how
    many there are."""
    stmt = select(Member)
    if without_customer:
        linked = select(Link.local_id).where(Link.company_key == key, Link.kind == Kind.CUSTOMER.value)
        stmt = stmt.where(Member.id.not_in(linked), Member.qb_customer == "")
    query = query.strip()
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Member.number.ilike(like), Member.name.ilike(like), Member.company.ilike(like),
                              Member.email.ilike(like), Member.qb_customer.ilike(like),
                              Member.contact_last.ilike(like), Member.contact_first.ilike(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    members = list(session.scalars(stmt.order_by(Member.number).offset((page - 1) * per_page).limit(per_page)))
    links = customer_links(session, key, [m.id for m in members])
    rows = []
    for m in members:
        link = links.get(m.id)
        if link is not None:
            rows.append(MemberRow(m, link.qb_name or m.qb_customer, "linked"))
        elif m.qb_customer:
            rows.append(MemberRow(m, m.qb_customer, "bill-info"))
        else:
            rows.append(MemberRow(m, "", "create"))
    return rows, total


@dataclass
class TxnState:
    """One transaction of a member with its synchronization state."""

    kind: str
    number: str
    date: dt.date
    amount: Any
    status: str
    state: str
    """"synchronized", "waiting" (not in QuickBooks yet), "changed" (changed since synchronized),
    or "not-sent" (voided or deleted before it was ever synchronized)."""
    label: str
    run_id: str = ""
    synced_at: dt.datetime | None = None


def sync_state(record: Any, link: Link | None) -> tuple[str, str]:
    """The synchronization state of a billing record given its link (see :class:`TxnState`) and a detail for
    people. The engine's rule: a link whose recorded ``updated_at`` differs from the record's is a correction
    waiting to be sent."""
    if link is None:
        if record.status == "open":
            return "waiting", "not in QuickBooks yet"
        return "not-sent", f"{'voided' if record.status == 'void' else 'deleted'} before it reached QuickBooks"
    if link.fingerprint in ("void", "deleted"):
        return "synchronized", f"{'voided' if link.fingerprint == 'void' else 'deleted'} in QuickBooks"
    if link.source_updated_at is not None and link.source_updated_at != record.updated_at:
        what = {"void": "voided", "deleted": "deleted"}.get(record.status, "changed")
        return "changed", f"{what} here; the next synchronization corrects QuickBooks"
    return "synchronized", "in QuickBooks"


def member_transactions(session: Session, key: str, member: Member) -> list[TxnState]:
    out: list[TxnState] = []
    groups = ((Kind.INVOICE, Invoice, "Invoice", selectinload(Invoice.lines)),
              (Kind.CREDIT_MEMO, CreditMemo, "Credit memo", selectinload(CreditMemo.lines)),
              (Kind.PAYMENT, Payment, "Payment", None))
    for kind, model, label, option in groups:
        stmt = select(model).where(model.member_id == member.id)
        if option is not None:
            stmt = stmt.options(option)
        records = list(session.scalars(stmt))
        links = {link.local_id: link for link in session.scalars(
            select(Link).where(Link.company_key == key, Link.kind == kind.value,
                               Link.local_id.in_([r.id for r in records])))} if records else {}
        for r in records:
            link = links.get(r.id)
            state, text = sync_state(r, link)
            amount = r.amount if model is Payment else r.total
            out.append(TxnState(label, r.number, r.date, amount, r.status, state, text,
                                link.run_id if link is not None else "", link.synced_at if link is not None else None))
    out.sort(key=lambda t: (t.date, t.number), reverse=True)
    return out


def find_customers(snapshot: QBSnapshot, query: str, limit: int = 25) -> list[QBCustomer]:
    """Active QuickBooks customers whose name contains every word of ``query``."""
    words = query.casefold().split()
    found = [c for c in snapshot.customers
             if c.is_active and all(w in c.full_name.casefold() for w in words)]
    return sorted(found, key=lambda c: c.full_name.casefold())[:limit]


def link_member(session: Session, snapshot: QBSnapshot, key: str, member: Member, customer_name: str) -> str:
    """Link ``member`` to the existing QuickBooks customer named ``customer_name`` (its Bill Info), as
    'booksync members map' does. Returns what was done; raises :class:`MappingRefused`."""
    by_name = {c.full_name.casefold(): c for c in snapshot.customers}
    target = by_name.get(customer_name.strip().casefold())
    if target is None:
        raise MappingRefused(f"QuickBooks has no customer named \"{customer_name.strip()}\". Search for it and "
                             "choose one from the list.")
    links = customer_links(session, key)
    holder = next((lk for lk in links.values() if lk.remote_id == target.list_id), None)
    if holder is not None and holder.local_id != member.id:
        other = session.get(Member, holder.local_id)
        who = f"member {other.number} {other.name}" if other is not None else "another member"
        raise MappingRefused(f"QuickBooks customer \"{target.full_name}\" is already linked to {who}; each member "
                             "needs its own customer.")
    stamp = _now()
    member.qb_customer, member.updated_at = target.full_name, stamp
    link = links.get(member.id)
    if link is None:
        link = Link(company_key=key, kind=Kind.CUSTOMER.value, local_id=member.id, local_key=member.number)
        session.add(link)
    # As with 'booksync members map': a customer linked by hand keeps its QuickBooks details until the member
    # changes, so the member is not seen as changed.
    link.remote_id, link.qb_name, link.source_updated_at = target.list_id, target.full_name, stamp
    link.written, link.fingerprint = "", ""
    session.commit()
    return f"Member {member.number} {member.name} is linked to QuickBooks customer \"{target.full_name}\"."


def clear_member(session: Session, key: str, member: Member) -> str:
    """Clear the member's Bill Info, so the next sync creates its customer. Refused when transactions of the
    member are already in QuickBooks under its customer (they would stay with the old customer)."""
    link = customer_links(session, key, [member.id]).get(member.id)
    synced = 0
    for kind, model in ((Kind.INVOICE, Invoice), (Kind.CREDIT_MEMO, CreditMemo), (Kind.PAYMENT, Payment)):
        synced += session.scalar(
            select(func.count()).select_from(Link).join(model, model.id == Link.local_id)
            .where(Link.company_key == key, Link.kind == kind.value, model.member_id == member.id)) or 0
    if synced:
        name = link.qb_name if link is not None else member.qb_customer
        raise MappingRefused(f"{synced} transaction(s) of member {member.number} are in QuickBooks under customer "
                             f"\"{name}\"; a new customer would split the member's balance. Link the member to "
                             "another existing customer instead, or merge the customers in QuickBooks.")
    if link is None and not member.qb_customer:
        return f"Member {member.number} {member.name} has no QuickBooks customer yet; the next synchronization " \
               "offers to create it."
    if link is not None:
        session.delete(link)
    member.qb_customer, member.updated_at = "", _now()
    session.commit()
    return (f"Member {member.number} {member.name} is marked for creation: the next synchronization offers to create "
            "its QuickBooks customer.")


# ---------------------------------------------------------------------- runs


@dataclass
class RunFile:
    path: str
    """Relative to the run folder, with "/"."""
    size: int


@dataclass
class RunDetail:
    info: RunInfo
    files: list[RunFile]
    requests: list[RunFile]
    backup: list[RunFile]
    journal: dict[str, int]
    failed: list[JournalEntry]
    confirmable: bool
    awaiting: dict[str, Any] | None
    confirmed: dict[str, Any] | None
    has_corrections_log: bool


def list_runs(session: Session, limit: int = 200) -> list[RunInfo]:
    runs = session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
    return [run_info(r) for r in runs]


def run_folder(home: Home, run: SyncRun) -> Path:
    return home.run_folder(run.id)


def _files(folder: Path) -> list[RunFile]:
    if not folder.is_dir():
        return []
    return [RunFile(p.relative_to(folder).as_posix(), p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_detail(session: Session, home: Home, run: SyncRun) -> RunDetail:
    from booksync.webconnector.confirm import AWAITING, AWAITING_FILE, CONFIRMED_FILE

    folder = run_folder(home, run)
    files = _files(folder)
    counts: dict[str, int] = {}
    failed = []
    for entry in session.scalars(select(JournalEntry).where(JournalEntry.run_id == run.id)
                                 .order_by(JournalEntry.seq)):
        counts[entry.status] = counts.get(entry.status, 0) + 1
        if entry.status in ("failed", "sent"):
            failed.append(entry)
    awaiting = _read_json(folder / AWAITING_FILE)
    return RunDetail(
        run_info(run),
        [f for f in files if not f.path.startswith("requests/")],
        [f for f in files if f.path.startswith("requests/")],
        _files(home.backups_dir / run.id),
        counts, failed,
        run.status == AWAITING and bool(awaiting and awaiting.get("digest")),
        awaiting, _read_json(folder / CONFIRMED_FILE),
        (folder / "corrections_log.html").is_file())


def safe_file(base: Path, relative: str) -> Path | None:
    """``base/relative`` when it is a file inside ``base`` (no way out with .. or links), else None."""
    try:
        root = base.resolve(strict=True)
        target = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if root not in target.parents or not target.is_file():
        return None
    return target


def log_lines(home: Home, run_id: str | None, limit: int = 400) -> list[str]:
    """The last lines of booksync's log (the current file and the one rotated before it, booksync.log.1: each
    at most ``logs.max_bytes``); with ``run_id``, only those that mention the run."""
    lines: list[str] = []
    for name in ("booksync.log.1", "booksync.log"):
        try:
            lines += (home.logs_dir / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    if run_id:
        lines = [line for line in lines if run_id in line]
    return lines[-limit:]
