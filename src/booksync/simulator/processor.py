"""Answer qbXML 13.0 request message sets as QuickBooks Desktop does.

Rules implemented here, with their sources (DESIGN.md, "The simulator's rules";
reference/quickbooks-desktop.md):

* children must come in schema order, and enumerated values be the schema's, or the
  whole message fails to parse (HRESULT 0x80040400, §1 "Element order"; :mod:`.validation`);
* a string longer than its field's schema limit is refused with 3070, nothing stored
  (:mod:`.validation`);
* ListID/TxnID are assigned on add; EditSequence changes on every change; a Mod
  with an old EditSequence is refused with 3200 (§6);
* names are unique across customers, vendors and other names (3100, §5);
* references must exist, be active and have the right type (3140), e.g. a
  payment's DepositToAccountRef must be a Bank or Other Current Asset account;
* a payment without DepositToAccountRef goes to Undeposited Funds; a payment
  inside a deposit cannot be deleted or changed (§5 DepositAdd, rule 9);
* changes dated on or before the closing date are refused (3171);
* applications cannot exceed an invoice's open balance (3210);
* amounts carry at most two decimals (AMTTYPE);
* ``stopOnError`` stops at the first failed request; earlier requests stay
  committed because QuickBooks has no rollback (§1 ``onError``).

A message runs in one SQLite transaction (``BEGIN`` … ``COMMIT``), and each
request inside it in its own savepoint, so a refused request leaves nothing half
written, the requests before a ``stopOnError`` stop are committed with the
message, and a process killed in the middle of a message leaves the company file
as it was before the message (SQLite discards the uncommitted transaction).
While a message runs, the ``meta`` values (counters, edit clock, closing date,
busy writes) are read once into the processor and written back before the
commit; they are read again for every message, so whatever changed them between
messages (``CompanyFile.set_meta``, ``booksync simulator closing-date``/``busy``)
is honoured.

The handlers live by responsibility in :mod:`.lists` (accounts, items, payment
methods, customers, vendors), :mod:`.queries` (queries, filters, iterators, the
Ret aggregates) and :mod:`.transactions` (adds, mods, delete, void); this module
holds the message level, ids and clocks, and reference resolution.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import time
from typing import Any, Callable

from lxml import etree

from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import MalformedResponse, parse_xml, text
from booksync.qbxml.schema import ITERABLE
from booksync.simulator.common import _UNSET, HRESULT_PARSE, PARSE_MESSAGE, Refusal, _aggregate, _name_spaces
from booksync.simulator.lists import Lists
from booksync.simulator.queries import Queries
from booksync.simulator.transactions import Transactions
from booksync.simulator.validation import check_enums, check_lengths

__all__ = ["FileLocked", "Processor", "Refusal", "HRESULT_PARSE", "PARSE_MESSAGE", "is_lock_error"]


HRESULT_CANNOT_LOCK = 0x8004041B
CANNOT_LOCK_MESSAGE = ("Unable to lock the necessary information to allow this application to access this company "
                       "data file. Try again later.")
"""QuickBooks' COM error when another program holds the company file (reference/quickbooks-desktop.md §10,
0x8004041B "Unable to lock required information; try later", RETRY; the full wording is the one public Web
Connector integrations print for it, e.g. a PHP ``_quickbooks_error_catchall`` error table)."""


class FileLocked(ConnectionFailure):
    """The company file is locked by another program (a whole-file lock on the SQLite file: another
    connection's exclusive transaction, a database tool, a copy in progress): HRESULT 0x8004041B.

    ``unprocessed`` is True: QuickBooks wrote nothing of the message it could not lock the file for (the
    simulator rolls the message's transaction back), so its operations can be sent again safely."""

    unprocessed = True

    def __init__(self, path: str = "") -> None:
        where = f" ({path})" if path else ""
        super().__init__(
            HRESULT_CANNOT_LOCK, CANNOT_LOCK_MESSAGE,
            f"Another program holds the company file{where}: QuickBooks open in single-user mode on another "
            "computer, another user's QuickBooks, a backup or copy program, or a database tool. Ask them to "
            "close it (or wait for the backup to finish), then synchronize again.")


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's answer to a file another connection holds ("database is locked", busy)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text_ = str(exc).lower()
    return "locked" in text_ or "busy" in text_



def data_ext_owner(owner: str) -> str:
    """An OwnerID as data extensions are kept: "0", or the GUID in braces, upper case."""
    owner = owner.strip()
    return "0" if owner == "0" else "{" + owner.strip("{}").upper() + "}"


class Processor(Queries, Lists, Transactions):
    """Processes request message sets against one open company database."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._iterators: dict[str, tuple[str, list[Any]]] = {}
        # Per message (see the module docstring): the meta table, the keys changed, the
        # ListID -> (ListID, FullName) of references answered, the A/R account.
        self._meta: dict[str, str] | None = None
        self._dirty: set[str] = set()
        self._refs: dict[str, dict[str, str]] = {}
        self._ar: Any = _UNSET
        self._balances: dict[str, int] = {}   # a page of CustomerRets being answered: ListID -> cents
        self._handlers: dict[str, Callable[[etree._Element], etree._Element]] = {
            "HostQuery": self.host_query, "CompanyQuery": self.company_query,
            "PreferencesQuery": self.preferences_query,
            "AccountQuery": self.account_query, "AccountAdd": self.account_add,
            "ItemQuery": self.item_query, "ItemServiceQuery": self.item_service_query,
            "ItemServiceAdd": self.item_service_add, "ItemNonInventoryAdd": self.item_service_add,
            "ItemOtherChargeAdd": self.item_service_add, "ItemGroupAdd": self.item_group_add,
            "ClassQuery": self.class_query, "ClassAdd": self.class_add,
            "PaymentMethodQuery": self.payment_method_query,
            "PaymentMethodAdd": self.payment_method_add,
            "CustomerQuery": self.customer_query, "CustomerAdd": self.customer_add,
            "CustomerMod": self.customer_mod,
            "VendorQuery": self.vendor_query, "VendorAdd": self.vendor_add,
            "InvoiceQuery": self.txn_query("Invoice"), "InvoiceAdd": self.sales_add("Invoice"),
            "InvoiceMod": self.sales_mod("Invoice"),
            "CreditMemoQuery": self.txn_query("CreditMemo"),
            "CreditMemoAdd": self.sales_add("CreditMemo"), "CreditMemoMod": self.sales_mod("CreditMemo"),
            "SalesReceiptQuery": self.txn_query("SalesReceipt"), "SalesReceiptAdd": self.receipt_add,
            "SalesReceiptMod": self.receipt_mod,
            "ReceivePaymentQuery": self.txn_query("ReceivePayment"),
            "ReceivePaymentAdd": self.payment_add, "ReceivePaymentMod": self.payment_mod,
            "DepositQuery": self.txn_query("Deposit"), "DepositAdd": self.deposit_add,
            "DepositMod": self.deposit_mod,
            "TxnDel": self.txn_del, "TxnVoid": self.txn_void,
            "ListDel": self.list_del, "ListMerge": self.list_merge,
            "ReceivePaymentToDepositQuery": self.payments_to_deposit_query,
        }

    # ------------------------------------------------------------------ message level

    def process(self, message: bytes | str) -> bytes:
        """Answer one request message set; see the module docstring. Raises :class:`FileLocked` (HRESULT
        0x8004041B, nothing of the message written) when another program holds the company file locked, as
        QuickBooks' request processor raises that COM error rather than answering."""
        try:
            return self._process(message)
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc):
                raise
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise FileLocked() from None

    def _process(self, message: bytes | str) -> bytes:
        try:
            root = parse_xml(message, "qbXML request")
        except MalformedResponse as exc:
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE, str(exc)) from None
        msgs = root.find("QBXMLMsgsRq") if root.tag == "QBXML" else None
        if msgs is None:
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE, "no QBXML/QBXMLMsgsRq element")
        on_error = msgs.get("onError")
        if on_error not in ("stopOnError", "continueOnError", "rollbackOnError"):
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE, "onError is missing or invalid")
        requests = [rq for rq in msgs if isinstance(rq.tag, str)]  # comments and PIs are not requests
        for rq in requests:
            if rq.get("iterator") is not None and rq.tag not in ITERABLE:
                raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE, f"<{rq.tag}> does not accept an iterator")
            self._check_order(rq)
            check_enums(rq)
        out_root = etree.Element("QBXML")
        out = etree.SubElement(out_root, "QBXMLMsgsRs")
        own = self._begin_message()
        try:
            for rq in requests:
                rs = self._one(rq.tag[:-2], rq)
                out.append(rs)
                if int(rs.get("statusCode")) >= 1000 and on_error != "continueOnError":
                    break
        finally:
            # Also when a request raised: the requests before it stay committed, as before.
            self._end_message(own)
        return etree.tostring(out_root, encoding="utf-8", xml_declaration=True, pretty_print=True)

    def _begin_message(self) -> bool:
        """Open the message's transaction (unless the caller holds one) and read ``meta`` once."""
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        self._meta = {r[0]: r[1] for r in self.db.execute("SELECT key, value FROM meta")}
        self._dirty = set()
        self._refs = {}
        self._ar = _UNSET
        return own

    def _end_message(self, own: bool) -> None:
        """Write the changed ``meta`` values and commit the message."""
        meta, dirty = self._meta or {}, self._dirty
        self._meta, self._dirty, self._refs, self._ar = None, set(), {}, _UNSET
        try:
            if dirty:
                self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                    [(k, meta[k]) for k in sorted(dirty)])
        except BaseException:
            if own and self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        if own and self.db.in_transaction:
            self.db.execute("COMMIT")

    def _check_order(self, el: etree._Element) -> None:
        if not isinstance(el.tag, str):
            return
        order = build.INDEX.get(el.tag)  # children's schema positions
        children = [c for c in el if isinstance(c.tag, str)]
        if order is None:
            if children:
                raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE, f"<{el.tag}> cannot have children")
            return
        last = -1
        for child in children:
            pos = order.get(child.tag)
            if pos is None:
                raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE,
                                        f"<{child.tag}> is not allowed in <{el.tag}>")
            if pos < last:
                raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE,
                                        f"<{child.tag}> is out of order in <{el.tag}>")
            last = pos
            if len(child):   # a childless element has nothing to check
                self._check_order(child)

    def _one(self, kind: str, rq: etree._Element) -> etree._Element:
        rs = etree.Element(f"{kind}Rs")
        if rq.get("requestID") is not None:
            rs.set("requestID", rq.get("requestID"))
        handler = self._handlers.get(kind)
        if handler is None:
            return self._status(rs, 1030, "Error", f"The request {kind}Rq is not supported by this implementation.")
        try:
            check_lengths(rq)
            if not kind.endswith("Query"):
                self._other_user_holds_lock(kind)
        except Refusal as exc:
            return self._status(rs, exc.code, "Error", exc.message)
        meta = dict(self._meta) if self._meta is not None else None
        dirty = set(self._dirty)
        ar = self._ar
        self.db.execute("SAVEPOINT rq")
        try:
            result = handler(rq)
        except BaseException as exc:
            self.db.execute("ROLLBACK TO rq")
            self.db.execute("RELEASE rq")
            # the request's meta changes (counters, edit clock) go with it; cached references too
            self._meta, self._dirty, self._ar = meta, dirty, ar
            self._refs.clear()
            if isinstance(exc, Refusal):
                return self._status(rs, exc.code, "Error", exc.message)
            raise
        self.db.execute("RELEASE rq")
        for attr in ("statusCode", "statusSeverity", "statusMessage", "retCount",
                     "iteratorRemainingCount", "iteratorID"):
            if result.get(attr) is not None:
                rs.set(attr, result.get(attr))
        for child in result:
            rs.append(child)
        return rs

    @staticmethod
    def _status(rs: etree._Element, code: int, severity: str, message: str) -> etree._Element:
        rs.set("statusCode", str(code))
        rs.set("statusSeverity", severity)
        rs.set("statusMessage", message)
        return rs

    @staticmethod
    def _ok(rets: list[etree._Element] | None = None, **attrs: str) -> etree._Element:
        result = etree.Element("Result", statusCode="0", statusSeverity="Info", statusMessage="Status OK")
        for k, v in attrs.items():
            result.set(k, v)
        for r in rets or []:
            result.append(r)
        return result

    def _other_user_holds_lock(self, kind: str) -> None:
        """Plays another QuickBooks user editing records: while the meta counter "busy_writes" is
        above zero, each write is refused with QuickBooks' lock status (reference §9, 3175)."""
        busy = int(self.meta("busy_writes", "0"))
        if busy > 0:
            self.set_meta("busy_writes", str(busy - 1))   # kept: the refusal writes nothing else
            raise Refusal(3175, f"The {kind} request could not be completed: the record could not be locked; "
                                "it is in use by another user.")

    # ------------------------------------------------------------------ ids, clocks, meta

    def meta(self, key: str, default: str = "") -> str:
        if self._meta is not None:
            return self._meta.get(key, default)
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value: in the message's copy while a message runs (written before its commit),
        else in the company file at once."""
        if self._meta is not None:
            self._meta[key] = value
            self._dirty.add(key)
        else:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _counter(self, key: str) -> int:
        n = int(self.meta(key, "0")) + 1
        self.set_meta(key, str(n))
        return n

    def new_list_id(self) -> str:
        return f"{0x80000000 + self._counter('next_list'):X}-{int(time.time())}"

    def new_txn_id(self) -> tuple[str, int]:
        n = self._counter("next_txn")
        return f"{n:X}-{int(time.time())}", n

    def new_edit_seq(self) -> str:
        """EditSequence: seconds since the epoch, forced to grow on every change."""
        last = int(self.meta("edit_clock", "0"))
        value = max(int(time.time()), last + 1)
        self.set_meta("edit_clock", str(value))
        return str(value)

    def closing_date(self) -> dt.date | None:
        value = self.meta("closing_date")
        return dt.date.fromisoformat(value) if value else None

    def _check_open_period(self, txn_type: str, *dates: str | None) -> None:
        closing = self.closing_date()
        for d in dates:
            if closing and d and dt.date.fromisoformat(d) <= closing:
                raise Refusal(3171, f"An attempt was made to modify a {txn_type} dated {d}, on or before "
                                    f"the closing date of the company ({closing.isoformat()}).")

    # ------------------------------------------------------------------ reference resolution

    def _list_row(self, ref: etree._Element | None, kinds: tuple[str, ...], type_name: str,
                  context: str, active: bool = True) -> sqlite3.Row:
        if ref is None:
            raise Refusal(3140, f"There is a missing reference to QuickBooks {type_name} in the {context}.")
        list_id, full_name = text(ref, "ListID"), text(ref, "FullName")
        marks = ",".join("?" * len(kinds))
        if list_id:
            row = self.db.execute(f"SELECT * FROM lists WHERE list_id=? AND kind IN ({marks})",
                                  (list_id, *kinds)).fetchone()
        elif (spaces := _name_spaces(kinds)) is not None:
            row = self.db.execute(f"SELECT * FROM lists WHERE name_space IN ({','.join('?' * len(spaces))}) "
                                  f"AND full_name=? COLLATE NOCASE AND kind IN ({marks})",
                                  (*spaces, full_name, *kinds)).fetchone()
        else:
            row = self.db.execute(f"SELECT * FROM lists WHERE full_name=? COLLATE NOCASE AND kind IN ({marks})",
                                  (full_name, *kinds)).fetchone()
        label = list_id or full_name
        if row is None:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks {type_name} "{label}" in the '
                                f"{context}. QuickBooks error message: Invalid argument. The specified record "
                                "does not exist in the list.")
        if active and not row["is_active"]:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks {type_name} "{row["full_name"]}" '
                                f"in the {context}. QuickBooks error message: The {type_name.lower()} is inactive.")
        return row

    def _txn_row(self, txn_id: str, txn_type: str | None = None) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM txns WHERE txn_id=?", (txn_id,)).fetchone()
        if row is None or (txn_type and row["txn_type"] != txn_type):
            raise Refusal(3120, f'Object "{txn_id}" specified in the request cannot be found.')
        return row

    def _check_edit_seq(self, current: str, el: etree._Element) -> None:
        sent = text(el, "EditSequence")
        if sent != current:
            raise Refusal(3200, f'The provided edit sequence "{sent}" is out-of-date.')

    def _check_name_free(self, name_space: str, full_name: str, except_id: str | None = None) -> None:
        row = self.db.execute(
            "SELECT list_id FROM lists WHERE name_space=? AND full_name=? COLLATE NOCASE",
            (name_space, full_name)).fetchone()
        if row is not None and row["list_id"] != except_id:
            raise Refusal(3100, f'The name "{full_name}" of the list element is already in use.')

    # ------------------------------------------------------------------ host, company, preferences

    def host_query(self, rq: etree._Element) -> etree._Element:
        ret = _aggregate("HostRet", {
            "ProductName": "QuickBooks Pro 2024 (booksync simulator)", "MajorVersion": "34",
            "MinorVersion": "0", "Country": "US",
            "SupportedQBXMLVersion": ["1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "8.0",
                                      "9.0", "10.0", "11.0", "12.0", "13.0"],
            "IsAutomaticLogin": False, "QBFileMode": "SingleUser"})
        return self._ok([ret])

    def company_query(self, rq: etree._Element) -> etree._Element:
        """CompanyRet, with a DataExtRet for each data extension of the OwnerIDs the request names, and no others:
        private data is returned only to who asks with its OwnerID (QBWC guide p.36: "If you were to do a
        CompanyQuery, specifying your web service's OwnerID value in the query in the OwnerID query field, you
        would see [the FileID DataExtRet]"; reference §1 "Query options": OwnerID "returns private DataExt").

        The simulated company carries its own FileID as a public data extension (OwnerID 0), standing for the
        identity a company file has; a FileID the Web Connector stored under a .qwc's OwnerID is kept by
        :meth:`~booksync.simulator.company.CompanyFile.set_data_ext`."""
        exts = []
        for owner in dict.fromkeys(e.text or "" for e in rq.findall("OwnerID")):
            for name, value in self.data_exts(owner):
                exts.append({"OwnerID": owner, "DataExtName": name, "DataExtType": "STR255TYPE",
                             "DataExtValue": value})
        ret = _aggregate("CompanyRet", {
            "IsSampleCompany": False, "CompanyName": self.meta("company_name"),
            "LegalCompanyName": self.meta("company_name"),
            "FirstMonthFiscalYear": self.meta("first_fiscal_month", "January"),
            "FirstMonthIncomeTaxYear": self.meta("first_fiscal_month", "January"),
            "DataExtRet": exts})
        return self._ok([ret])

    def data_exts(self, owner: str) -> list[tuple[str, str]]:
        """(DataExtName, DataExtValue) of the company's data extensions under ``owner`` (a GUID, any case, or "0")."""
        key = data_ext_owner(owner)
        prefix = f"dataext:{key}:"
        out = [(k[len(prefix):], v) for k, v in sorted((self._meta or self._all_meta()).items())
               if k.startswith(prefix)]
        if key == "0" and self.meta("file_id"):
            out.insert(0, ("FileID", self.meta("file_id")))
        return out

    def _all_meta(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT key, value FROM meta")}

    def preferences_query(self, rq: etree._Element) -> etree._Element:
        # IsUsingClassTracking: the company's "Use class tracking" preference (Intuit's PreferencesQuery page; off in
        # a new company), set here by 'booksync simulator class-tracking on'.
        accounting: dict[str, Any] = {
            "IsUsingAccountNumbers": True, "IsRequiringAccounts": True,
            "IsUsingClassTracking": self.meta("class_tracking") == "true",
            "IsUsingAuditTrail": True, "IsAssigningJournalEntryNumbers": True}
        if self.meta("closing_date"):
            accounting["ClosingDate"] = self.meta("closing_date")
        ret = _aggregate("PreferencesRet", {"AccountingPreferences": accounting})
        return self._ok([ret])
