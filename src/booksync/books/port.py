"""The books port: the interface between the sync engine and an accounting system."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Protocol

from booksync.domain import Operation, QBCustomer, QBDeposit, QBListEntry, QBSnapshot, Ref
from booksync.fields import Limits

Resolver = Callable[[Ref], str | None]
"""Returns the ListID/TxnID of a reference, or None when the record does not exist yet."""


@dataclass
class Outcome:
    """What became of one operation sent to the accounting system.

    Attributes:
        seq: the operation's ``seq``.
        status: "done", "failed" or "not processed" (a request after a failure in the same message).
        remote_id: ListID/TxnID after the operation (done).
        edit_sequence: EditSequence/SyncToken after the operation (done).
        name: the record's name as stored (lists).
        error: the typed error (failed).
    """

    seq: int
    status: str
    remote_id: str = ""
    edit_sequence: str = ""
    name: str = ""
    error: Exception | None = None


@dataclass
class RemoteTxn:
    """A transaction as the accounting system holds it, for reconciliation and corrections.

    ``lines`` are (item ListID, amount); ``applied`` are (invoice TxnID, amount applied to it, credits included).
    For invoices, ``balance`` is what is left to pay as QuickBooks holds it (BalanceRemaining, Balance) and
    ``linked`` the transactions applied to it as (TxnID, type, RefNumber, amount applied or None when the
    accounting system does not say), e.g. ("1A-123", "ReceivePayment", "5501", Decimal("100.00")).
    """

    remote_id: str
    kind: str
    edit_sequence: str
    customer_id: str
    date: str
    total: Decimal
    ref_number: str = ""
    lines: list[tuple[str, Decimal]] = field(default_factory=list)
    deposit_account_id: str = ""
    applied: list[tuple[str, Decimal]] = field(default_factory=list)
    balance: Decimal | None = None
    linked: list[tuple[str, str, str, Decimal | None]] = field(default_factory=list)


class BooksPort(Protocol):
    """What the sync engine needs from an accounting system."""

    limits: Limits
    """Field limits the engine fits values to before planning."""

    def snapshot(self, balances: bool = True, customers: bool = True) -> QBSnapshot:
        """Read the company, chart of accounts, items, payment methods, customers and other names.
        ``balances=False``: customers' balances may be left out (None) where that saves QuickBooks work.
        ``customers=False``: customers and other names may be left out (``QBSnapshot.complete`` is then False);
        the caller reads what it needs with :meth:`find_customers`."""

    def find_customers(self, list_ids: Iterable[str] = (),
                       names: Iterable[str] = ()) -> tuple[list[QBCustomer], list[QBListEntry]]:
        """The customers with these ids (ListID, Id) or names (FullName, compared as QuickBooks compares names:
        without regard to case), balances left out, and the other names (vendors, employees) holding any of
        ``names``. Ids and names QuickBooks does not have are not returned."""

    @property
    def company_key(self) -> str:
        """A stable identifier of the company (QuickBooks Desktop: the FileID)."""

    def render(self, ops: list[Operation], resolve: Resolver) -> bytes:
        """The request message that would carry ``ops`` (for the working files)."""

    def send(self, ops: list[Operation], resolve: Resolver) -> list[Outcome]:
        """Send ``ops`` in one message; return one outcome per operation, in order."""

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, RemoteTxn]:
        """Read transactions of ``kind`` ("invoice", "credit_memo", "payment") by id."""

    def versions(self, kind: str, remote_ids: list[str]) -> dict[str, str]:
        """The current version (EditSequence, SyncToken) of each transaction of ``kind`` found, by id."""

    def pre_images(self, kind: str, remote_ids: list[str]) -> dict[str, tuple[str, str]]:
        """What each record of ``kind`` looks like now, as the accounting system answers a query for it, by id:
        (version, record) — QuickBooks Desktop: EditSequence and the Ret element as qbXML text; Online: SyncToken
        and the entity as JSON text. Records not found are left out. Read just before booksync changes them
        (the pre-images ``booksync runs undo`` restores)."""

    def deposits_holding(self, payment_ids: list[str], since: str) -> dict[str, "QBDeposit"]:
        """The deposits dated on or after ``since`` (YYYY-MM-DD), by the TxnID of each payment they hold."""

    def deposits(self, txn_ids: list[str]) -> list["QBDeposit"]:
        """The deposits with these ids (TxnID, Id) that still exist, with their lines."""

    def find_added(self, kind: str, ref: str, external_guid: str) -> tuple[str, str, str] | None:
        """Find a record booksync added whose answer was lost: (remote id, version, name), or None."""

    def backup(self, target: str) -> str | None:
        """Copy the company file into folder ``target``; return the copy's path, or None when unreachable."""
