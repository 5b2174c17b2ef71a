"""Answer qbXML 13.0 request message sets as QuickBooks Desktop does.

Rules implemented here, with their sources (DESIGN.md, "The simulator's rules";
reference/quickbooks-desktop.md):

* children must come in schema order, or the whole message fails to parse
  (HRESULT 0x80040400, §1 "Element order");
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
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from lxml import etree

from ..qbxml import build
from ..qbxml.errors import ConnectionFailure
from ..qbxml.parse import MalformedResponse, parse_xml, text
from ..qbxml.schema import ITERABLE
from .store import amount, cents, now_text

HRESULT_PARSE = 0x80040400
PARSE_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
AMOUNT_RE = re.compile(r"^[+-]?[0-9]{1,13}(\.[0-9]{2})?$")
BANK_LIKE = ("Bank", "OtherCurrentAsset")
TXN_RET = {"Invoice": "InvoiceRet", "CreditMemo": "CreditMemoRet",
           "ReceivePayment": "ReceivePaymentRet", "Deposit": "DepositRet"}
ITEM_KINDS = ("ItemService",)
_UNSET: Any = object()
_INDEX = build.INDEX  # children's schema positions, for the element-order check
# The name space each kind of list entry is created in (``lists.name_space``): a FullName lookup
# names it so that SQLite can use the lists_name index instead of reading the whole list table.
NAME_SPACE = {"Account": "account", "ItemService": "item", "Customer": "entity", "Vendor": "entity",
              "PaymentMethod": "paymentmethod"}


def _name_spaces(kinds: tuple[str, ...]) -> tuple[str, ...] | None:
    """The name spaces of ``kinds`` (None when one is not known: no narrowing then)."""
    spaces = [NAME_SPACE.get(k) for k in kinds]
    if not spaces or None in spaces:
        return None
    return tuple(dict.fromkeys(spaces))


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


class Refusal(Exception):
    """A request QuickBooks refuses with a status code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_aggregate = build.aggregate  # answers are built as requests are: children in schema order


def _d(value: str, what: str) -> Decimal:
    if not AMOUNT_RE.match(value or ""):
        raise Refusal(3040, f'There is an invalid amount "{value}" in the {what} field.')
    return Decimal(value)


class Processor:
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
            "ItemQuery": self.item_query, "ItemServiceQuery": self.item_query,
            "ItemServiceAdd": self.item_service_add,
            "PaymentMethodQuery": self.payment_method_query,
            "PaymentMethodAdd": self.payment_method_add,
            "CustomerQuery": self.customer_query, "CustomerAdd": self.customer_add,
            "CustomerMod": self.customer_mod,
            "VendorQuery": self.vendor_query, "VendorAdd": self.vendor_add,
            "InvoiceQuery": self.txn_query("Invoice"), "InvoiceAdd": self.sales_add("Invoice"),
            "InvoiceMod": self.sales_mod("Invoice"),
            "CreditMemoQuery": self.txn_query("CreditMemo"),
            "CreditMemoAdd": self.sales_add("CreditMemo"), "CreditMemoMod": self.sales_mod("CreditMemo"),
            "ReceivePaymentQuery": self.txn_query("ReceivePayment"),
            "ReceivePaymentAdd": self.payment_add, "ReceivePaymentMod": self.payment_mod,
            "DepositQuery": self.txn_query("Deposit"), "DepositAdd": self.deposit_add,
            "DepositMod": self.deposit_mod,
            "TxnDel": self.txn_del, "TxnVoid": self.txn_void,
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
        order = _INDEX.get(el.tag)
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
        if not kind.endswith("Query"):
            try:
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
        ret = _aggregate("CompanyRet", {
            "IsSampleCompany": False, "CompanyName": self.meta("company_name"),
            "LegalCompanyName": self.meta("company_name"),
            "FirstMonthFiscalYear": self.meta("first_fiscal_month", "January"),
            "FirstMonthIncomeTaxYear": self.meta("first_fiscal_month", "January"),
            "DataExtRet": [{"OwnerID": "0", "DataExtName": "FileID", "DataExtType": "STR255TYPE",
                            "DataExtValue": self.meta("file_id")}]})
        return self._ok([ret])

    def preferences_query(self, rq: etree._Element) -> etree._Element:
        accounting: dict[str, Any] = {
            "IsUsingAccountNumbers": True, "IsRequiringAccounts": True, "IsUsingClassTracking": False,
            "IsUsingAuditTrail": True, "IsAssigningJournalEntryNumbers": True}
        if self.meta("closing_date"):
            accounting["ClosingDate"] = self.meta("closing_date")
        ret = _aggregate("PreferencesRet", {"AccountingPreferences": accounting})
        return self._ok([ret])

    # ------------------------------------------------------------------ list queries

    def _list_query(self, rq: etree._Element, kinds: tuple[str, ...],
                    to_ret: Callable[[sqlite3.Row], etree._Element],
                    prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        iterator = rq.get("iterator")
        if iterator == "Continue":
            return self._continue(rq, to_ret, lambda ids: self._rows_by_id("lists", "list_id", ids), prepare)
        marks = ",".join("?" * len(kinds))
        sql = f"SELECT * FROM lists WHERE kind IN ({marks})"
        args: list[Any] = list(kinds)
        ids = [e.text for e in rq.findall("ListID")]
        names = [e.text for e in rq.findall("FullName")]
        if ids:
            sql += f" AND list_id IN ({','.join('?' * len(ids))})"
            args += ids
        elif names:
            spaces = _name_spaces(kinds)
            if spaces is not None:   # lets SQLite use the lists_name index
                sql += f" AND name_space IN ({','.join('?' * len(spaces))})"
                args += spaces
            sql += f" AND full_name COLLATE NOCASE IN ({','.join('?' * len(names))})"
            args += names
        else:
            status = text(rq, "ActiveStatus", "ActiveOnly")
            if status == "ActiveOnly":
                sql += " AND is_active=1"
            elif status == "InactiveOnly":
                sql += " AND is_active=0"
            if text(rq, "FromModifiedDate"):
                sql += " AND modified >= ?"
                args.append(text(rq, "FromModifiedDate")[:19])
            nf = rq.find("NameFilter")
            if nf is not None:
                crit, name = text(nf, "MatchCriterion"), text(nf, "Name")
                pattern = {"StartsWith": f"{name}%", "Contains": f"%{name}%", "EndsWith": f"%{name}"}[crit]
                sql += " AND full_name LIKE ?"
                args.append(pattern)
            for t in rq.findall("AccountType"):
                sql += " AND account_type=?"
                args.append(t.text)
        sql += " ORDER BY full_name COLLATE NOCASE"
        rows = self.db.execute(sql, args).fetchall()
        return self._page(rq, [r["list_id"] for r in rows], rows, to_ret, prepare)

    def _rows_by_id(self, table: str, key: str, ids: list[str]) -> list[sqlite3.Row]:
        if not ids:
            return []
        rows = self.db.execute(f"SELECT * FROM {table} WHERE {key} IN ({','.join('?' * len(ids))})",
                               ids).fetchall()
        by_id = {r[key]: r for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def _page(self, rq: etree._Element, ids: list[str], rows: list[Any],
              to_ret: Callable[[Any], etree._Element],
              prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        max_returned = int(text(rq, "MaxReturned") or 0)
        iterator = rq.get("iterator")
        if iterator == "Start":
            size = max_returned or 100
            iterator_id = "{" + str(uuid.uuid4()) + "}"
            self._iterators[iterator_id] = (rq.tag, ids[size:])
            page = rows[:size]
            if prepare is not None:
                prepare(page)
            return self._ok([to_ret(r) for r in page], retCount=str(len(page)),
                            iteratorRemainingCount=str(len(ids) - len(page)), iteratorID=iterator_id)
        if max_returned:
            rows = rows[:max_returned]
        if not rows:
            result = self._ok()
            result.set("statusCode", "1")
            result.set("statusMessage", "A query request did not find a matching object in QuickBooks")
            return result
        if prepare is not None:
            prepare(rows)
        return self._ok([to_ret(r) for r in rows], retCount=str(len(rows)))

    def _continue(self, rq: etree._Element, to_ret: Callable[[Any], etree._Element],
                  fetch: Callable[[list[str]], list[Any]],
                  prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        iterator_id = rq.get("iteratorID", "")
        state = self._iterators.get(iterator_id)
        if state is None or state[0] != rq.tag:
            raise Refusal(3000, f'The iteratorID "{iterator_id}" is invalid or has expired.')
        size = int(text(rq, "MaxReturned") or 100)
        ids = state[1]
        page_ids, rest = ids[:size], ids[size:]
        self._iterators[iterator_id] = (rq.tag, rest)
        if not rest:
            del self._iterators[iterator_id]
        rows = fetch(page_ids)
        if prepare is not None:
            prepare(rows)
        return self._ok([to_ret(r) for r in rows], retCount=str(len(rows)),
                        iteratorRemainingCount=str(len(rest)), iteratorID=iterator_id)

    def _list_base(self, row: sqlite3.Row) -> dict[str, Any]:
        return {"ListID": row["list_id"], "TimeCreated": row["created"], "TimeModified": row["modified"],
                "EditSequence": row["edit_seq"], "Name": row["name"], "FullName": row["full_name"],
                "IsActive": bool(row["is_active"])}

    # ------------------------------------------------------------------ accounts

    def account_ret(self, row: sqlite3.Row, only: frozenset[str] | None = None) -> etree._Element:
        """An AccountRet; with ``only`` (the request's IncludeRetElement names), just those top-level elements
        (and no balance computed unless asked for)."""
        fields = self._list_base(row)
        if row["parent_id"]:
            parent = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?",
                                     (row["parent_id"],)).fetchone()
            fields["ParentRef"] = {"ListID": parent["list_id"], "FullName": parent["full_name"]}
        fields["Sublevel"] = row["full_name"].count(":")
        fields["AccountType"] = row["account_type"]
        if row["special"]:
            fields["SpecialAccountType"] = row["special"]
        if row["number"]:
            fields["AccountNumber"] = row["number"]
        if row["descr"]:
            fields["Desc"] = row["descr"]
        if only is None or not only.isdisjoint(("Balance", "TotalBalance")):
            balance = self.account_balance(row)
            fields["Balance"] = str(balance)
            fields["TotalBalance"] = str(balance)
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate("AccountRet", fields)

    def account_balance(self, row: sqlite3.Row) -> Decimal:
        """The account's balance from the transactions the simulator holds."""
        acct, kind = row["list_id"], row["account_type"]
        q = self.db.execute
        if kind in ("Income", "OtherIncome", "OtherCurrentLiability", "Expense"):
            sales = q("SELECT COALESCE(SUM(CASE t.txn_type WHEN 'Invoice' THEN l.amount ELSE -l.amount END), 0) "
                      "FROM lines l JOIN txns t ON t.txn_id=l.txn_id JOIN lists i ON i.list_id=l.item_id "
                      "WHERE i.account_id=? AND t.txn_type IN ('Invoice','CreditMemo')", (acct,)).fetchone()[0]
            return amount(sales)
        if kind == "AccountsReceivable":
            return amount(q("SELECT COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) "
                            "FROM txns WHERE txn_type IN ('Invoice','CreditMemo','ReceivePayment')").fetchone()[0])
        if kind in BANK_LIKE:
            paid = q("SELECT COALESCE(SUM(total), 0) FROM txns WHERE txn_type='ReceivePayment' AND account_id=?",
                     (acct,)).fetchone()[0]
            moved_out = q("SELECT COALESCE(SUM(l.amount), 0) FROM lines l JOIN txns p ON p.txn_id=l.payment_id "
                          "WHERE p.account_id=?", (acct,)).fetchone()[0]
            deposited = q("SELECT COALESCE(SUM(total), 0) FROM txns WHERE txn_type='Deposit' AND account_id=?",
                          (acct,)).fetchone()[0]
            return amount(paid - moved_out + deposited)
        return Decimal("0.00")

    def account_query(self, rq: etree._Element) -> etree._Element:
        only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
        return self._list_query(rq, ("Account",), lambda row: self.account_ret(row, only))

    def account_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("AccountAdd")
        name = text(add, "Name")
        parent_id, full_name = None, name
        if add.find("ParentRef") is not None:
            parent = self._list_row(add.find("ParentRef"), ("Account",), "Account", "Account")
            parent_id, full_name = parent["list_id"], f"{parent['full_name']}:{name}"
        self._check_name_free("account", full_name)
        self._ar = _UNSET
        row = self._insert_list("Account", "account", name, full_name, parent_id=parent_id,
                                account_type=text(add, "AccountType"), number=text(add, "AccountNumber"),
                                descr=text(add, "Desc"))
        return self._ok([self.account_ret(row)])

    def _insert_list(self, kind: str, name_space: str, name: str, full_name: str, **cols: Any) -> sqlite3.Row:
        list_id, stamp = self.new_list_id(), now_text()
        cols = {k: v for k, v in cols.items() if v not in (None, "")}
        cols.update(list_id=list_id, kind=kind, name_space=name_space, name=name, full_name=full_name,
                    edit_seq=self.new_edit_seq(), created=stamp, modified=stamp)
        cols.setdefault("is_active", 1)
        keys = ",".join(cols)
        self.db.execute(f"INSERT INTO lists ({keys}) VALUES ({','.join('?' * len(cols))})", list(cols.values()))
        return self.db.execute("SELECT * FROM lists WHERE list_id=?", (list_id,)).fetchone()

    # ------------------------------------------------------------------ items and payment methods

    def item_ret(self, row: sqlite3.Row) -> etree._Element:
        fields = self._list_base(row)
        account = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?",
                                  (row["account_id"],)).fetchone()
        sop: dict[str, Any] = {}
        if row["descr"]:
            sop["Desc"] = row["descr"]
        sop["Price"] = "0.00"
        sop["AccountRef"] = {"ListID": account["list_id"], "FullName": account["full_name"]}
        fields["SalesOrPurchase"] = sop
        if row["external_guid"]:
            fields["ExternalGUID"] = row["external_guid"]
        return _aggregate("ItemServiceRet", fields)

    def item_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ITEM_KINDS, self.item_ret)

    def item_service_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("ItemServiceAdd")
        name = text(add, "Name")
        sop = add.find("SalesOrPurchase")
        if sop is None:
            raise Refusal(3140, "ItemServiceAdd needs SalesOrPurchase with an AccountRef "
                                "(booksync's simulator supports SalesOrPurchase only).")
        account = self._list_row(sop.find("AccountRef"), ("Account",), "Account", "ItemService")
        self._check_name_free("item", name)
        row = self._insert_list("ItemService", "item", name, name, account_id=account["list_id"],
                                descr=text(sop, "Desc"), external_guid=text(add, "ExternalGUID"),
                                is_active=0 if text(add, "IsActive") == "false" else 1)
        return self._ok([self.item_ret(row)])

    def payment_method_ret(self, row: sqlite3.Row) -> etree._Element:
        fields = {k: v for k, v in self._list_base(row).items() if k != "FullName"}
        fields["PaymentMethodType"] = row["method_type"] or "Other"
        return _aggregate("PaymentMethodRet", fields)

    def payment_method_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("PaymentMethod",), self.payment_method_ret)

    def payment_method_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("PaymentMethodAdd")
        name = text(add, "Name")
        self._check_name_free("paymentmethod", name)
        row = self._insert_list("PaymentMethod", "paymentmethod", name, name,
                                method_type=text(add, "PaymentMethodType") or "Other")
        return self._ok([self.payment_method_ret(row)])

    # ------------------------------------------------------------------ customers and vendors

    # "+txn_type": look the customers up through txns_customer; SQLite would otherwise pick txns_type
    # and read every invoice, credit memo and payment of the company for each page.
    _BALANCE_SQL = ("SELECT customer_id, COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) "
                    "FROM txns WHERE customer_id IN ({}) AND +txn_type IN ('Invoice','CreditMemo','ReceivePayment') "
                    "GROUP BY customer_id")

    def _customer_balances(self, rows: list[sqlite3.Row]) -> None:
        """The balances of a page of customers in one grouped query (read by :meth:`customer_ret`)."""
        self._balances = {r["list_id"]: 0 for r in rows}
        ids = list(self._balances)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for customer_id, total in self.db.execute(self._BALANCE_SQL.format(",".join("?" * len(chunk))), chunk):
                self._balances[customer_id] = total

    def customer_balance(self, list_id: str) -> Decimal:
        total = self.db.execute(
            "SELECT COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) FROM txns "
            "WHERE customer_id=? AND txn_type IN ('Invoice','CreditMemo','ReceivePayment')",
            (list_id,)).fetchone()[0]
        return amount(total)

    def customer_ret(self, row: sqlite3.Row, only: frozenset[str] | None = None) -> etree._Element:
        """A CustomerRet; with ``only`` (the request's IncludeRetElement names), just those top-level elements."""
        fields = self._list_base(row)
        fields["Sublevel"] = 0
        for col, tag in (("company_name", "CompanyName"), ("first_name", "FirstName"),
                         ("last_name", "LastName")):
            if row[col]:
                fields[tag] = row[col]
        address = {tag: row[col] for col, tag in (("addr1", "Addr1"), ("addr2", "Addr2"), ("city", "City"),
                                                  ("state", "State"), ("postal_code", "PostalCode")) if row[col]}
        if address:
            fields["BillAddress"] = address
        if row["phone"]:
            fields["Phone"] = row["phone"]
        if row["email"]:
            fields["Email"] = row["email"]
        if only is None or not only.isdisjoint(("Balance", "TotalBalance")):
            balances = self._balances
            cached = balances.pop(row["list_id"], None) if balances else None
            balance = str(amount(cached) if cached is not None else self.customer_balance(row["list_id"]))
            fields["Balance"] = balance
            fields["TotalBalance"] = balance
        if row["account_number"]:
            fields["AccountNumber"] = row["account_number"]
        fields["JobStatus"] = "None"
        if row["notes"]:
            fields["Notes"] = row["notes"]
        if row["external_guid"]:
            fields["ExternalGUID"] = row["external_guid"]
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate("CustomerRet", fields)

    def customer_query(self, rq: etree._Element) -> etree._Element:
        try:
            only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
            balances = only is None or not only.isdisjoint(("Balance", "TotalBalance"))
            return self._list_query(rq, ("Customer",), lambda row: self.customer_ret(row, only),
                                    self._customer_balances if balances else None)
        finally:
            self._balances = {}

    _CUSTOMER_COLS = (("CompanyName", "company_name"), ("FirstName", "first_name"), ("LastName", "last_name"),
                      ("Phone", "phone"), ("Email", "email"), ("AccountNumber", "account_number"),
                      ("Notes", "notes"))
    _ADDRESS_COLS = (("Addr1", "addr1"), ("Addr2", "addr2"), ("City", "city"), ("State", "state"),
                     ("PostalCode", "postal_code"))

    def _customer_cols(self, el: etree._Element) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for tag, col in self._CUSTOMER_COLS:
            found = el.find(tag)
            if found is not None:
                cols[col] = found.text or ""
        addr = el.find("BillAddress")
        if addr is not None:
            for tag, col in self._ADDRESS_COLS:
                cols[col] = text(addr, tag)
        if el.find("IsActive") is not None:
            cols["is_active"] = 0 if text(el, "IsActive") == "false" else 1
        return cols

    def customer_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("CustomerAdd")
        name = text(add, "Name")
        if ":" in name:
            raise Refusal(3020, f'The name "{name}" contains a colon, which QuickBooks reserves to '
                                "separate a parent from a sub-customer.")
        self._check_name_free("entity", name)
        row = self._insert_list("Customer", "entity", name, name, external_guid=text(add, "ExternalGUID"),
                                **self._customer_cols(add))
        self._balances = {row["list_id"]: 0}   # a new customer has no transactions yet
        try:
            return self._ok([self.customer_ret(row)])
        finally:
            self._balances = {}

    def customer_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("CustomerMod")
        row = self.db.execute("SELECT * FROM lists WHERE list_id=? AND kind='Customer'",
                              (text(mod, "ListID"),)).fetchone()
        if row is None:
            raise Refusal(3120, f'Object "{text(mod, "ListID")}" specified in the request cannot be found.')
        self._check_edit_seq(row["edit_seq"], mod)
        cols = self._customer_cols(mod)
        if mod.find("Name") is not None:
            name = text(mod, "Name")
            if ":" in name:
                raise Refusal(3020, f'The name "{name}" contains a colon.')
            self._check_name_free("entity", name, except_id=row["list_id"])
            cols.update(name=name, full_name=name)
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE lists SET {','.join(f'{k}=?' for k in cols)} WHERE list_id=?",
                        [*cols.values(), row["list_id"]])
        self._refs.pop(row["list_id"], None)
        row = self.db.execute("SELECT * FROM lists WHERE list_id=?", (row["list_id"],)).fetchone()
        return self._ok([self.customer_ret(row)])

    def vendor_ret(self, row: sqlite3.Row) -> etree._Element:
        fields = {k: v for k, v in self._list_base(row).items() if k != "FullName"}
        if row["company_name"]:
            fields["CompanyName"] = row["company_name"]
        return _aggregate("VendorRet", fields)

    def vendor_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("Vendor",), self.vendor_ret)

    def vendor_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("VendorAdd")
        name = text(add, "Name")
        self._check_name_free("entity", name)
        row = self._insert_list("Vendor", "entity", name, name, company_name=text(add, "CompanyName"))
        return self._ok([self.vendor_ret(row)])

    # ------------------------------------------------------------------ transactions: reading

    def _ref(self, list_id: str | None) -> dict[str, str] | None:
        if not list_id:
            return None
        ref = self._refs.get(list_id)
        if ref is not None:
            return ref
        row = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?", (list_id,)).fetchone()
        if row is None:
            return None
        ref = {"ListID": row["list_id"], "FullName": row["full_name"]}
        if self._meta is not None:   # cached while a message runs; a rename drops the entry
            self._refs[list_id] = ref
        return ref

    def _applied_to_invoice(self, txn_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE invoice_id=?",
                               (txn_id,)).fetchone()[0]

    def _credit_used(self, txn_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE credit_memo_id=?",
                               (txn_id,)).fetchone()[0]

    def _cash_applied(self, payment_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE payment_id=? "
                               "AND credit_memo_id IS NULL", (payment_id,)).fetchone()[0]

    def _deposit_of(self, payment_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT t.* FROM lines l JOIN txns t ON t.txn_id=l.txn_id "
                               "WHERE l.payment_id=?", (payment_id,)).fetchone()

    # The Ret elements read straight from a txns row, for IncludeRetElement (reference §1, "Query options").
    _TXN_HEADER = {"TxnID": "txn_id", "TimeCreated": "created", "TimeModified": "modified",
                   "EditSequence": "edit_seq", "TxnNumber": "txn_number", "TxnDate": "txn_date",
                   "RefNumber": "ref_number"}

    def txn_ret(self, row: sqlite3.Row, include_lines: bool = True,
                only: frozenset[str] | None = None, linked: bool = False) -> etree._Element:
        """The Ret of a transaction; with ``only`` (the request's IncludeRetElement names), just those
        top-level elements, as QuickBooks returns them; with ``linked`` (IncludeLinkedTxns), the LinkedTxn of
        each payment and credit applied (see :meth:`_linked_txns`)."""
        kind = row["txn_type"]
        if only is not None and only <= self._TXN_HEADER.keys():
            return _aggregate(TXN_RET[kind], {tag: row[col] for tag, col in self._TXN_HEADER.items()
                                              if tag in only and row[col] is not None})
        fields: dict[str, Any] = {"TxnID": row["txn_id"], "TimeCreated": row["created"],
                                  "TimeModified": row["modified"], "EditSequence": row["edit_seq"],
                                  "TxnNumber": row["txn_number"]}
        if kind != "Deposit":
            fields["CustomerRef"] = self._ref(row["customer_id"])
            fields["ARAccountRef"] = self._ref(self._ar_account())
        fields["TxnDate"] = row["txn_date"]
        if row["ref_number"]:
            fields["RefNumber"] = row["ref_number"]
        total = amount(row["total"])
        if kind in ("Invoice", "CreditMemo"):
            if row["due_date"]:
                fields["DueDate"] = row["due_date"]
            fields["Subtotal"] = str(total)
            fields["SalesTaxPercentage"] = "0.00"
            fields["SalesTaxTotal"] = "0.00"
        if kind == "Invoice":
            applied = self._applied_to_invoice(row["txn_id"])
            fields["AppliedAmount"] = str(-amount(applied))
            fields["BalanceRemaining"] = str(total - amount(applied))
            fields["Memo"] = row["memo"] or None
            fields["IsPaid"] = total - amount(applied) == 0
        elif kind == "CreditMemo":
            fields["TotalAmount"] = str(total)
            fields["CreditRemaining"] = str(total - amount(self._credit_used(row["txn_id"])))
            fields["Memo"] = row["memo"] or None
        elif kind == "ReceivePayment":
            fields["TotalAmount"] = str(total)
            fields["PaymentMethodRef"] = self._ref(row["method_id"])
            fields["Memo"] = row["memo"] or None
            fields["DepositToAccountRef"] = self._ref(row["account_id"])
            fields["UnusedPayment"] = str(total - amount(self._cash_applied(row["txn_id"])))
            fields["UnusedCredits"] = "0.00"
        elif kind == "Deposit":
            fields["DepositToAccountRef"] = self._ref(row["account_id"])
            fields["Memo"] = row["memo"] or None
            fields["DepositTotal"] = str(total)
        if row["external_guid"]:
            fields["ExternalGUID"] = row["external_guid"]
        if linked and kind in ("Invoice", "CreditMemo"):
            fields["LinkedTxn"] = self._linked_txns(row)
        if kind == "ReceivePayment":
            fields["AppliedToTxnRet"] = self._applied_rets(row["txn_id"])
        elif include_lines and kind in ("Invoice", "CreditMemo"):
            lines = self.db.execute("SELECT * FROM lines WHERE txn_id=? ORDER BY seq", (row["txn_id"],)).fetchall()
            fields[f"{kind}LineRet"] = [self._line_ret(line) for line in lines]
        elif include_lines and kind == "Deposit":
            lines = self.db.execute("SELECT * FROM lines WHERE txn_id=? ORDER BY seq", (row["txn_id"],)).fetchall()
            fields["DepositLineRet"] = [self._deposit_line_ret(line) for line in lines]
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate(TXN_RET[kind], fields)

    def _linked_txns(self, row: sqlite3.Row) -> list[dict[str, Any]]:
        """LinkedTxn of an invoice or a credit memo (IncludeLinkedTxns, qbxmlops130-annotated.xml InvoiceQueryRq;
        OSR: "the transactions linked to this one"): on an invoice, one per payment (TxnType ReceivePayment,
        the cash it applied) and one per credit memo applied (TxnType CreditMemo), amounts negative as they
        reduce the balance; on a credit memo, one per invoice it was applied to (TxnType Invoice). LinkType is
        AMTTYPE: the link is an amount, not a quantity."""
        if row["txn_type"] == "Invoice":
            sql = ("SELECT COALESCE(a.credit_memo_id, a.payment_id) AS other, SUM(a.amount) AS amount "
                   "FROM applications a WHERE a.invoice_id=? GROUP BY other ORDER BY MIN(a.rowid)")
            sign = -1
        else:
            sql = ("SELECT a.invoice_id AS other, SUM(a.amount) AS amount FROM applications a "
                   "WHERE a.credit_memo_id=? GROUP BY other ORDER BY MIN(a.rowid)")
            sign = 1
        out = []
        for link in self.db.execute(sql, (row["txn_id"],)).fetchall():
            other = self._txn_row(link["other"])
            out.append({"TxnID": other["txn_id"], "TxnType": other["txn_type"], "TxnDate": other["txn_date"],
                        "RefNumber": other["ref_number"] or None, "LinkType": "AMTTYPE",
                        "Amount": str(sign * amount(link["amount"]))})
        return out

    def _line_ret(self, line: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"TxnLineID": line["line_id"], "ItemRef": self._ref(line["item_id"])}
        if line["descr"]:
            out["Desc"] = line["descr"]
        if line["quantity"]:
            out["Quantity"] = line["quantity"]
        if line["rate"]:
            out["Rate"] = line["rate"]
        out["Amount"] = str(amount(line["amount"]))
        return out

    def _deposit_line_ret(self, line: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if line["payment_id"]:
            payment = self.db.execute("SELECT * FROM txns WHERE txn_id=?", (line["payment_id"],)).fetchone()
            out.update(TxnType="ReceivePayment", TxnID=line["payment_id"], TxnLineID=line["line_id"],
                       PaymentTxnLineID=line["line_id"], EntityRef=self._ref(payment["customer_id"]),
                       AccountRef=self._ref(payment["account_id"]))
        else:
            out.update(TxnLineID=line["line_id"], AccountRef=self._ref(line["account_id"]))
        if line["descr"]:
            out["Memo"] = line["descr"]
        out["Amount"] = str(amount(line["amount"]))
        return out

    def _applied_rets(self, payment_id: str) -> list[dict[str, Any]]:
        apps = self.db.execute("SELECT a.*, t.txn_date, t.ref_number, t.total FROM applications a "
                               "JOIN txns t ON t.txn_id=a.invoice_id WHERE a.payment_id=? ORDER BY a.seq",
                               (payment_id,)).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for app in apps:
            entry = out.setdefault(app["invoice_id"], {
                "TxnID": app["invoice_id"], "TxnType": "Invoice", "TxnDate": app["txn_date"],
                "RefNumber": app["ref_number"] or None,
                "BalanceRemaining": str(amount(app["total"] - self._applied_to_invoice(app["invoice_id"]))),
                "Amount": Decimal("0.00"), "LinkedTxn": []})
            if app["credit_memo_id"]:
                cm = self._txn_row(app["credit_memo_id"])
                entry["LinkedTxn"].append({"TxnID": cm["txn_id"], "TxnType": "CreditMemo",
                                           "TxnDate": cm["txn_date"], "RefNumber": cm["ref_number"] or None,
                                           "LinkType": "AMTTYPE", "Amount": str(-amount(app["amount"]))})
            else:
                entry["Amount"] += amount(app["amount"])
        for entry in out.values():
            entry["Amount"] = str(entry["Amount"])
        return list(out.values())

    def _ar_account(self) -> str | None:
        if self._ar is not _UNSET:
            return self._ar
        row = self.db.execute("SELECT list_id FROM lists WHERE kind='Account' AND account_type='AccountsReceivable' "
                              "ORDER BY list_id LIMIT 1").fetchone()
        found = row["list_id"] if row else None
        if self._meta is not None:   # cached while a message runs; an AccountAdd drops it
            self._ar = found
        return found

    def txn_query(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            include_lines = text(rq, "IncludeLineItems") == "true" or txn_type == "Deposit"
            only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
            linked = text(rq, "IncludeLinkedTxns") == "true"

            def to_ret(row: sqlite3.Row) -> etree._Element:
                return self.txn_ret(row, include_lines, only, linked)

            if rq.get("iterator") == "Continue":
                return self._continue(rq, to_ret, lambda ids: self._rows_by_id("txns", "txn_id", ids))
            sql, args = "SELECT * FROM txns WHERE txn_type=?", [txn_type]
            ids = [e.text for e in rq.findall("TxnID")]
            refs = [e.text for e in rq.findall("RefNumber")]
            if ids:
                # "+txn_type": find the rows by their TxnIDs. Given more than a few ids, SQLite would
                # otherwise walk txns_type and read every transaction of the type for each query.
                sql = "SELECT * FROM txns WHERE +txn_type=?"
                sql += f" AND txn_id IN ({','.join('?' * len(ids))})"
                args += ids
            elif refs:
                sql += f" AND ref_number IN ({','.join('?' * len(refs))})"
                args += refs
            else:
                mod = rq.find("ModifiedDateRangeFilter")
                if mod is not None:
                    if text(mod, "FromModifiedDate"):
                        sql += " AND modified >= ?"
                        args.append(text(mod, "FromModifiedDate")[:19])
                    if text(mod, "ToModifiedDate"):
                        sql += " AND modified <= ?"
                        args.append(text(mod, "ToModifiedDate")[:19])
                dates = rq.find("TxnDateRangeFilter")
                if dates is not None:
                    if text(dates, "FromTxnDate"):
                        sql += " AND txn_date >= ?"
                        args.append(text(dates, "FromTxnDate"))
                    if text(dates, "ToTxnDate"):
                        sql += " AND txn_date <= ?"
                        args.append(text(dates, "ToTxnDate"))
                entity = rq.find("EntityFilter")
                if entity is not None:
                    customer = self._list_row(entity, ("Customer",), "Customer", f"{txn_type}Query", active=False)
                    sql += " AND customer_id=?"
                    args.append(customer["list_id"])
            sql += " ORDER BY txn_number"
            rows = self.db.execute(sql, args).fetchall()
            return self._page(rq, [r["txn_id"] for r in rows], rows, to_ret)
        return handler

    # ------------------------------------------------------------------ invoices and credit memos

    def _sales_lines(self, el: etree._Element, txn_type: str, line_tag: str) -> list[dict[str, Any]]:
        lines = []
        for line in el.findall(line_tag):
            item = self._list_row(line.find("ItemRef"), ITEM_KINDS, "Item", txn_type)
            qty, rate = text(line, "Quantity"), text(line, "Rate")
            if line.find("Amount") is not None:
                value = _d(text(line, "Amount"), f"{line_tag} Amount")
            else:
                try:
                    value = (Decimal(qty or "1") * Decimal(rate or "0")).quantize(Decimal("0.01"))
                except InvalidOperation:
                    raise Refusal(3040, f"{line_tag} has an invalid quantity or rate.") from None
            lines.append({"item_id": item["list_id"], "descr": text(line, "Desc"), "quantity": qty,
                          "rate": rate, "amount": cents(value), "line_id": text(line, "TxnLineID")})
        return lines

    def _insert_lines(self, txn_id: str, lines: list[dict[str, Any]]) -> None:
        for seq, line in enumerate(lines, 1):
            line_id = line.get("line_id") or ""
            if not line_id or line_id == "-1":
                line_id = f"{self._counter('next_line'):X}-{int(time.time())}"
            self.db.execute("INSERT INTO lines (txn_id, line_id, seq, item_id, descr, quantity, rate, amount, "
                            "account_id, payment_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (txn_id, line_id, seq, line.get("item_id"), line.get("descr"), line.get("quantity"),
                             line.get("rate"), line["amount"], line.get("account_id"), line.get("payment_id")))

    def _new_txn(self, txn_type: str, **cols: Any) -> str:
        txn_id, number = self.new_txn_id()
        stamp = now_text()
        cols.update(txn_id=txn_id, txn_type=txn_type, txn_number=number, edit_seq=self.new_edit_seq(),
                    created=stamp, modified=stamp)
        keys = ",".join(cols)
        self.db.execute(f"INSERT INTO txns ({keys}) VALUES ({','.join('?' * len(cols))})", list(cols.values()))
        return txn_id

    def _txn_date(self, el: etree._Element) -> str:
        value = text(el, "TxnDate") or dt.date.today().isoformat()
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise Refusal(3020, f'The date "{value}" is invalid.') from None
        return value

    def sales_add(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            add = rq.find(f"{txn_type}Add")
            customer = self._list_row(add.find("CustomerRef"), ("Customer",), "Customer", txn_type)
            txn_date = self._txn_date(add)
            self._check_open_period(txn_type, txn_date)
            lines = self._sales_lines(add, txn_type, f"{txn_type}LineAdd")
            txn_id = self._new_txn(txn_type, customer_id=customer["list_id"], txn_date=txn_date,
                                   due_date=text(add, "DueDate") or None, ref_number=text(add, "RefNumber"),
                                   memo=text(add, "Memo"), total=sum(line["amount"] for line in lines),
                                   account_id=self._ar_account(), external_guid=text(add, "ExternalGUID"))
            self._insert_lines(txn_id, lines)
            return self._ok([self.txn_ret(self._txn_row(txn_id))])
        return handler

    def sales_mod(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            mod = rq.find(f"{txn_type}Mod")
            row = self._txn_row(text(mod, "TxnID"), txn_type)
            self._check_edit_seq(row["edit_seq"], mod)
            cols: dict[str, Any] = {}
            if mod.find("CustomerRef") is not None:
                customer = self._list_row(mod.find("CustomerRef"), ("Customer",), "Customer", txn_type)
                if customer["list_id"] != row["customer_id"] and (
                        (txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]))
                        or (txn_type == "CreditMemo" and self._credit_used(row["txn_id"]))):
                    raise Refusal(3170, f"The {txn_type} has payments or credits applied and cannot move to "
                                        "another customer.")
                cols["customer_id"] = customer["list_id"]
            if mod.find("TxnDate") is not None:
                cols["txn_date"] = self._txn_date(mod)
            self._check_open_period(txn_type, row["txn_date"], cols.get("txn_date"))
            for tag, col in (("RefNumber", "ref_number"), ("Memo", "memo"), ("DueDate", "due_date")):
                if mod.find(tag) is not None:
                    cols[col] = text(mod, tag)
            line_tag = f"{txn_type}LineMod"
            if mod.find(line_tag) is not None:
                existing = {r["line_id"] for r in self.db.execute("SELECT line_id FROM lines WHERE txn_id=?",
                                                                  (row["txn_id"],))}
                for line in mod.findall(line_tag):
                    line_id = text(line, "TxnLineID")
                    if line_id != "-1" and line_id not in existing:
                        raise Refusal(3120, f'Object "{line_id}" specified in the request cannot be found.')
                lines = self._sales_lines(mod, txn_type, line_tag)
                total = sum(line["amount"] for line in lines)
                used = (self._applied_to_invoice(row["txn_id"]) if txn_type == "Invoice"
                        else self._credit_used(row["txn_id"]))
                if total < used:
                    raise Refusal(3210, f"The {txn_type} total {amount(total)} would be less than the "
                                        f"{amount(used)} already applied to it. Remove or reduce the payments "
                                        "or credits applied first.")
                self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
                self._insert_lines(row["txn_id"], lines)
                cols["total"] = total
            cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
            self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                            [*cols.values(), row["txn_id"]])
            return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])
        return handler

    # ------------------------------------------------------------------ payments

    def _deposit_account(self, el: etree._Element) -> str:
        ref = el.find("DepositToAccountRef")
        if ref is None:
            row = self.db.execute("SELECT list_id FROM lists WHERE kind='Account' AND special='UndepositedFunds'"
                                  ).fetchone()
            if row is None:
                raise Refusal(3140, "There is no Undeposited Funds account in this company.")
            return row["list_id"]
        account = self._list_row(ref, ("Account",), "Account", "ReceivePayment")
        if account["account_type"] not in BANK_LIKE:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks Account "{account["full_name"]}" in '
                                "the ReceivePayment. QuickBooks error message: Payments can only be deposited "
                                "to a bank account or an Other Current Asset account such as Undeposited Funds.")
        return account["list_id"]

    def _apply(self, payment_id: str, customer_id: str, total: int, apps: list[etree._Element]) -> None:
        cash = 0
        for seq, app in enumerate(apps, 1):
            invoice = self._txn_row(text(app, "TxnID"))
            if invoice["txn_type"] != "Invoice" or invoice["customer_id"] != customer_id:
                raise Refusal(3140, f'There is an invalid reference to QuickBooks Invoice "{invoice["txn_id"]}" '
                                    "in the ReceivePayment: it is not an open invoice of this customer.")
            open_balance = invoice["total"] - self._applied_to_invoice(invoice["txn_id"])
            paid = cents(_d(text(app, "PaymentAmount") or "0.00", "PaymentAmount"))
            credit_total = 0
            for credit in app.findall("SetCredit"):
                memo = self._txn_row(text(credit, "CreditTxnID"))
                applied = cents(_d(text(credit, "AppliedAmount"), "AppliedAmount"))
                if memo["txn_type"] != "CreditMemo" or memo["customer_id"] != customer_id:
                    raise Refusal(3140, f'There is an invalid reference to QuickBooks CreditMemo "{memo["txn_id"]}" '
                                        "in the ReceivePayment.")
                if applied > memo["total"] - self._credit_used(memo["txn_id"]):
                    raise Refusal(3210, f'The "SetCredit AppliedAmount" field has an invalid value '
                                        f'"{amount(applied)}". QuickBooks error message: The credit amount '
                                        "exceeds the available credit.")
                credit_total += applied
                self.db.execute("INSERT INTO applications VALUES (?,?,?,?,?)",
                                (payment_id, invoice["txn_id"], memo["txn_id"], applied, seq))
            if paid + credit_total > open_balance:
                raise Refusal(3210, f'The "AppliedToTxnAdd PaymentAmount" field has an invalid value '
                                    f'"{amount(paid)}". QuickBooks error message: You cannot pay more than '
                                    "the amount due.")
            if paid:
                self.db.execute("INSERT INTO applications VALUES (?,?,?,?,?)",
                                (payment_id, invoice["txn_id"], None, paid, seq))
            cash += paid
        if cash > total:
            raise Refusal(3210, f"The amounts applied ({amount(cash)}) exceed the payment's total "
                                f"({amount(total)}).")

    def payment_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("ReceivePaymentAdd")
        if add.find("IsAutoApply") is None and add.find("AppliedToTxnAdd") is None:
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE,
                                    "ReceivePaymentAdd needs IsAutoApply or AppliedToTxnAdd")
        if text(add, "IsAutoApply") == "true":
            raise Refusal(3250, "IsAutoApply=true is not supported by booksync's simulator.")
        customer = self._list_row(add.find("CustomerRef"), ("Customer",), "Customer", "ReceivePayment")
        txn_date = self._txn_date(add)
        self._check_open_period("ReceivePayment", txn_date)
        total = cents(_d(text(add, "TotalAmount") or "0.00", "TotalAmount"))
        method = None
        if add.find("PaymentMethodRef") is not None:
            method = self._list_row(add.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                    "ReceivePayment")["list_id"]
        account = self._deposit_account(add)
        txn_id = self._new_txn("ReceivePayment", customer_id=customer["list_id"], txn_date=txn_date,
                               ref_number=text(add, "RefNumber"), memo=text(add, "Memo"), total=total,
                               account_id=account, method_id=method, external_guid=text(add, "ExternalGUID"))
        self._apply(txn_id, customer["list_id"], total, add.findall("AppliedToTxnAdd"))
        return self._ok([self.txn_ret(self._txn_row(txn_id))])

    def payment_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("ReceivePaymentMod")
        row = self._txn_row(text(mod, "TxnID"), "ReceivePayment")
        self._check_edit_seq(row["edit_seq"], mod)
        deposit = self._deposit_of(row["txn_id"])
        if deposit is not None:
            raise Refusal(3170, f"The payment {row['ref_number'] or row['txn_id']} has been deposited (deposit of "
                                f"{deposit['txn_date']}, {amount(deposit['total'])}). It cannot be changed until it "
                                "is removed from the deposit.")
        cols: dict[str, Any] = {}
        if mod.find("CustomerRef") is not None:
            cols["customer_id"] = self._list_row(mod.find("CustomerRef"), ("Customer",), "Customer",
                                                 "ReceivePayment")["list_id"]
        if mod.find("TxnDate") is not None:
            cols["txn_date"] = self._txn_date(mod)
        self._check_open_period("ReceivePayment", row["txn_date"], cols.get("txn_date"))
        if mod.find("TotalAmount") is not None:
            cols["total"] = cents(_d(text(mod, "TotalAmount"), "TotalAmount"))
        if mod.find("DepositToAccountRef") is not None:
            cols["account_id"] = self._deposit_account(mod)
        if mod.find("PaymentMethodRef") is not None:
            cols["method_id"] = self._list_row(mod.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                               "ReceivePayment")["list_id"]
        for tag, col in (("RefNumber", "ref_number"), ("Memo", "memo")):
            if mod.find(tag) is not None:
                cols[col] = text(mod, tag)
        apps = mod.findall("AppliedToTxnMod")
        customer_id = cols.get("customer_id", row["customer_id"])
        if apps or customer_id != row["customer_id"]:
            self.db.execute("DELETE FROM applications WHERE payment_id=?", (row["txn_id"],))
            self._apply(row["txn_id"], customer_id, cols.get("total", row["total"]), apps)
        elif "total" in cols and cols["total"] < self._cash_applied(row["txn_id"]):
            raise Refusal(3210, "The payment's total would be less than the amount applied to invoices.")
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                        [*cols.values(), row["txn_id"]])
        return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])

    # ------------------------------------------------------------------ deposits

    def _deposit_lines(self, el: etree._Element, tag: str, deposit_id: str | None) -> list[dict[str, Any]]:
        lines = []
        existing = {r["line_id"]: r for r in self.db.execute("SELECT * FROM lines WHERE txn_id=?", (deposit_id,))} \
            if deposit_id else {}
        for line in el.findall(tag):
            payment_id = text(line, "PaymentTxnID")
            line_id = text(line, "TxnLineID")
            if line_id and line_id != "-1" and line_id not in existing:
                raise Refusal(3120, f'Object "{line_id}" specified in the request cannot be found.')
            if line_id in existing and not payment_id and line.find("AccountRef") is None:
                kept = existing[line_id]   # only the TxnLineID: the line stays as it is
                lines.append({k: kept[k] for k in ("payment_id", "amount", "account_id", "line_id")}
                             | {"descr": kept["descr"]})
                continue
            if payment_id:
                payment = self._txn_row(payment_id, "ReceivePayment")
                uf = self.db.execute("SELECT special FROM lists WHERE list_id=?", (payment["account_id"],)).fetchone()
                if uf is None or uf["special"] != "UndepositedFunds":
                    raise Refusal(3140, f'The payment "{payment_id}" was not received into Undeposited Funds '
                                        "and cannot be deposited.")
                other = self._deposit_of(payment_id)
                if other is not None and other["txn_id"] != deposit_id:
                    raise Refusal(3140, f'The payment "{payment_id}" is already in another deposit.')
                lines.append({"payment_id": payment_id, "amount": payment["total"],
                              "descr": text(line, "OverrideMemo"), "line_id": text(line, "TxnLineID")})
            else:
                account = self._list_row(line.find("AccountRef"), ("Account",), "Account", "Deposit")
                lines.append({"account_id": account["list_id"], "amount": cents(_d(text(line, "Amount"), "Amount")),
                              "descr": text(line, "Memo"), "line_id": text(line, "TxnLineID")})
        return lines

    def deposit_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("DepositAdd")
        account = self._list_row(add.find("DepositToAccountRef"), ("Account",), "Account", "Deposit")
        if account["account_type"] not in BANK_LIKE:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks Account "{account["full_name"]}" '
                                "in the Deposit.")
        txn_date = self._txn_date(add)
        self._check_open_period("Deposit", txn_date)
        lines = self._deposit_lines(add, "DepositLineAdd", None)
        txn_id = self._new_txn("Deposit", txn_date=txn_date, memo=text(add, "Memo"), account_id=account["list_id"],
                               total=sum(line["amount"] for line in lines), external_guid=text(add, "ExternalGUID"))
        self._insert_lines(txn_id, lines)
        return self._ok([self.txn_ret(self._txn_row(txn_id))])

    def deposit_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("DepositMod")
        row = self._txn_row(text(mod, "TxnID"), "Deposit")
        self._check_edit_seq(row["edit_seq"], mod)
        cols: dict[str, Any] = {}
        if mod.find("TxnDate") is not None:
            cols["txn_date"] = self._txn_date(mod)
        self._check_open_period("Deposit", row["txn_date"], cols.get("txn_date"))
        if mod.find("DepositToAccountRef") is not None:
            cols["account_id"] = self._list_row(mod.find("DepositToAccountRef"), ("Account",), "Account",
                                                "Deposit")["list_id"]
        if mod.find("Memo") is not None:
            cols["memo"] = text(mod, "Memo")
        if mod.find("DepositLineMod") is not None:
            lines = self._deposit_lines(mod, "DepositLineMod", row["txn_id"])
            self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
            self._insert_lines(row["txn_id"], lines)
            cols["total"] = sum(line["amount"] for line in lines)
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                        [*cols.values(), row["txn_id"]])
        return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])

    # ------------------------------------------------------------------ delete and void

    @staticmethod
    def _del_ret(tag: str, type_tag: str, row: sqlite3.Row) -> list[etree._Element]:
        """The TxnDelRet / TxnVoidRet group: its elements sit directly inside the Rs (qbxmlops130.xsd)."""
        out = []
        for name, value in ((type_tag, row["txn_type"]), ("TxnID", row["txn_id"]),
                            ("TimeDeleted" if tag == "TxnDel" else "TimeModified", now_text()),
                            ("RefNumber", row["ref_number"])):
            if value:
                el = etree.Element(name)
                el.text = value
                out.append(el)
        return out

    def txn_del(self, rq: etree._Element) -> etree._Element:
        txn_type = text(rq, "TxnDelType")
        row = self._txn_row(text(rq, "TxnID"), txn_type)
        self._check_open_period(txn_type, row["txn_date"])
        if txn_type == "ReceivePayment" and self._deposit_of(row["txn_id"]) is not None:
            deposit = self._deposit_of(row["txn_id"])
            raise Refusal(3160, f"The payment {row['ref_number'] or row['txn_id']} cannot be deleted because it "
                                f"is part of the deposit of {deposit['txn_date']}. Remove it from the deposit first.")
        if txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]):
            raise Refusal(3160, f"The invoice {row['ref_number']} cannot be deleted because payments or credits "
                                "are applied to it.")
        if txn_type == "CreditMemo" and self._credit_used(row["txn_id"]):
            raise Refusal(3160, f"The credit memo {row['ref_number']} cannot be deleted because it is applied.")
        ret = self._del_ret("TxnDel", "TxnDelType", row)
        self.db.execute("DELETE FROM applications WHERE payment_id=?", (row["txn_id"],))
        self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
        self.db.execute("DELETE FROM txns WHERE txn_id=?", (row["txn_id"],))
        return self._ok(ret)

    def txn_void(self, rq: etree._Element) -> etree._Element:
        txn_type = text(rq, "TxnVoidType")
        if txn_type not in ("Invoice", "CreditMemo", "Deposit"):
            raise Refusal(3020, f'TxnVoid does not support "{txn_type}" in booksync\'s simulator.')
        row = self._txn_row(text(rq, "TxnID"), txn_type)
        self._check_open_period(txn_type, row["txn_date"])
        if txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]):
            raise Refusal(3170, f"The invoice {row['ref_number']} has payments or credits applied. Remove them "
                                "before voiding it.")
        if txn_type == "CreditMemo" and self._credit_used(row["txn_id"]):
            raise Refusal(3170, f"The credit memo {row['ref_number']} is applied to invoices. Remove the "
                                "application before voiding it.")
        self.db.execute("UPDATE lines SET amount=0 WHERE txn_id=?", (row["txn_id"],))
        memo = row["memo"] or ""
        self.db.execute("UPDATE txns SET total=0, is_voided=1, memo=?, edit_seq=?, modified=? WHERE txn_id=?",
                        ("VOID: " + memo if not memo.startswith("VOID:") else memo, self.new_edit_seq(),
                         now_text(), row["txn_id"]))
        return self._ok(self._del_ret("TxnVoid", "TxnVoidType", row))
