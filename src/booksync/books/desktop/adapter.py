"""QuickBooks Desktop books port: the engine's operations as qbXML 13.0 over a transport.

A transport is anything with ``process(message: bytes) -> bytes``: the
simulator's :class:`~booksync.simulator.CompanyFile`, a Web Connector session,
or the Windows request processor.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from lxml import etree

from booksync.books.desktop.answers import (company_key, customer_of, deposit_of, placeholder_payment, remote_txn,
                                            vendor_of)
from booksync.books.desktop.limits import DESKTOP_LIMITS
from booksync.books.desktop.requests import TXN_TYPES, request, restore_request
from booksync.books.port import Outcome, RemoteTxn, Resolver
from booksync.domain import Action, Kind, Operation, QBAccount, QBCompany, QBCustomer, QBDeposit, QBListEntry, QBSnapshot
from booksync.qbxml import build
from booksync.qbxml.parse import MalformedResponse, Response, boolean, date, decimal, parse_response, text

PAGE = 500
SNAPSHOT_CUSTOMER = ("ListID", "EditSequence", "Name", "FullName", "IsActive", "AccountNumber")
"""What booksync reads of a customer (QBCustomer, with "Balance" unless ``snapshot(balances=False)``): asked
with IncludeRetElement, since a large association has tens of thousands of customers (docs/performance.md,
fourth session)."""
SNAPSHOT_ACCOUNT = ("ListID", "FullName", "AccountType", "AccountNumber", "SpecialAccountType", "IsActive")
"""What a sync reads of each account (``snapshot(balances=False)``): no Balance, which the simulator sums from
every transaction posting to the account."""
QUERIES_PER_MESSAGE = 10
"""Queries sent together by :meth:`DesktopBooks.find_customers`."""
NAMES_LOOKED_UP = 100
"""Above this many names, :meth:`DesktopBooks.find_customers` reads the customer and vendor lists whole (a few
fields each) instead of asking for the names: QuickBooks answers a FullName lookup with one unknown name with
none of the names it has, and the names of new members are mostly unknown, so a first sync would split its
lookups down to one name each (400 names: 162 messages instead of 2)."""
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
"""Names compared as QuickBooks keeps them unique (status 3100): without the case of ASCII letters only, so
"Weiß GmbH" and "Weiss GmbH" stay two names (the simulator compares with SQLite's NOCASE)."""
WITH_LINES = ("Invoice", "CreditMemo", "SalesReceipt", "Deposit")
"""Transaction queries that answer lines only when asked (IncludeLineItems, qbxmlops130-annotated.xml)."""
LIST_QUERIES = {Kind.CUSTOMER: "CustomerQuery", Kind.ITEM: "ItemQuery", Kind.PAYMENT_METHOD: "PaymentMethodQuery"}
"""The query that finds a list record booksync adds, by ListID or FullName (ItemQuery covers every item type)."""
_NOT_HOLDABLE = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\xff]")
"""What no QuickBooks Desktop name holds: control characters and anything outside ISO-8859-1."""


def _holdable(name: str) -> bool:
    return _NOT_HOLDABLE.search(name) is None


class Transport(Protocol):
    def process(self, message: bytes) -> bytes: ...


class DesktopBooks:
    """The books port for QuickBooks Desktop (see :class:`booksync.books.port.BooksPort`)."""

    limits = DESKTOP_LIMITS

    def __init__(self, transport: Transport, backup_source: Any = None, owner_id: str = "") -> None:
        """``owner_id``: the OwnerID of booksync's .qwc (``webconnector.owner_id``), under which the Web Connector
        stored the company's FileID; "" when booksync was never added to the Web Connector."""
        self.transport = transport
        self._backup_source = backup_source
        self.owner_id = owner_id
        self._company_key = ""
        self.legacy_key = ""
        """The key booksync used before the company key came from a FileID ("company:" and the company's name),
        under which a home's links may still be (see :func:`booksync.store.keys.adopt_company_key`)."""

    # ------------------------------------------------------------------ reading

    def _ask(self, requests: list[etree._Element]) -> list[Response]:
        message = build.message(requests, on_error="continueOnError")
        responses = parse_response(self.transport.process(message), request=message)
        if len(responses) != len(requests):
            raise MalformedResponse(f"QuickBooks answered {len(responses)} of {len(requests)} requests")
        return responses

    def query(self, kind: str, body: dict[str, Any] | None = None, iterate: bool = True,
              include: tuple[str, ...] = ()) -> Iterator[etree._Element]:
        """Yield every Ret of a query, following iterators where the query supports them. ``include``: the
        only elements wanted in each Ret (IncludeRetElement, sent with every page; reference §1, "Query
        options"), all when empty."""
        body = dict(body or {})
        more = {"IncludeRetElement": list(include)} if include else {}
        body.update(more)
        if not iterate:
            (rs,) = self._ask([build.request(kind, body, 1)])
            if rs.code != 1:
                rs.raise_for_status()
            yield from rs.rets
            return
        body["MaxReturned"] = PAGE
        (rs,) = self._ask([build.request(kind, body, 1, iterator="Start")])
        while True:
            if rs.code == 1:
                return
            rs.raise_for_status()
            yield from rs.rets
            if rs.remaining <= 0 or not rs.iterator_id:
                return
            (rs,) = self._ask([build.request(kind, {"MaxReturned": PAGE, **more}, 1, iterator="Continue",
                                             iteratorID=rs.iterator_id)])

    def snapshot(self, balances: bool = True, customers: bool = True) -> QBSnapshot:
        """Read the company, accounts, items, payment methods, customers and vendors. ``balances=False``:
        customers and accounts without their Balance (None), which QuickBooks computes from every transaction of
        each customer. ``customers=False``: no customers and no vendors (the snapshot is not ``complete``); a sync
        reads the ones it needs with :meth:`find_customers`."""
        owners = [self.owner_id, "0"] if self.owner_id else ["0"]
        host, company, prefs = self._ask([build.request("HostQuery", None, 1),
                                          build.request("CompanyQuery", {"OwnerID": owners}, 2),
                                          build.request("PreferencesQuery", None, 3)])
        for rs in (host, company, prefs):
            rs.raise_for_status()
        company_ret = company.rets[0]
        info = QBCompany(
            name=text(company_ret, "CompanyName"),
            closing_date=date(prefs.rets[0], "AccountingPreferences/ClosingDate") if prefs.rets else None,
            product=text(host.rets[0], "ProductName"),
            qbxml_versions=tuple(e.text or "" for e in host.rets[0].findall("SupportedQBXMLVersion")),
            first_fiscal_month=text(company_ret, "FirstMonthFiscalYear") or "January",
            uses_classes=boolean(prefs.rets[0], "AccountingPreferences/IsUsingClassTracking", False)
            if prefs.rets else False)
        self._company_key = company_key(company_ret, self.owner_id)
        self.legacy_key = "company:" + info.name
        accounts = [QBAccount(list_id=text(r, "ListID"), full_name=text(r, "FullName"),
                              account_type=text(r, "AccountType"), number=text(r, "AccountNumber"),
                              special=text(r, "SpecialAccountType"), is_active=boolean(r, "IsActive", True),
                              balance=decimal(r, "Balance") if balances else None)
                    for r in self.query("AccountQuery", {"ActiveStatus": "All"}, iterate=False,
                                        include=() if balances else SNAPSHOT_ACCOUNT)]
        items = [QBListEntry(list_id=text(r, "ListID"), name=text(r, "FullName") or text(r, "Name"), kind=r.tag[:-3],
                             is_active=boolean(r, "IsActive", True),
                             account_list_id=(text(r, "SalesOrPurchase/AccountRef/ListID")
                                              or text(r, "SalesAndPurchase/IncomeAccountRef/ListID")))
                 for r in self.query("ItemQuery", {"ActiveStatus": "All"})]
        methods = [QBListEntry(list_id=text(r, "ListID"), name=text(r, "Name"), kind="PaymentMethod",
                               is_active=boolean(r, "IsActive", True))
                   for r in self.query("PaymentMethodQuery", {"ActiveStatus": "All"}, iterate=False)]
        classes = [QBListEntry(list_id=text(r, "ListID"), name=text(r, "FullName"), kind="Class",
                               is_active=boolean(r, "IsActive", True))
                   for r in self.query("ClassQuery", {"ActiveStatus": "All"}, iterate=False)]
        if not customers:
            return QBSnapshot(info, accounts, items, methods, [], [], complete=False, classes=classes)
        include = SNAPSHOT_CUSTOMER + (("Balance",) if balances else ())
        found = [customer_of(r, balances) for r in self.query("CustomerQuery", {"ActiveStatus": "All"},
                                                                 include=include)]
        vendors = [vendor_of(r) for r in self.query("VendorQuery", {"ActiveStatus": "All"})]
        return QBSnapshot(info, accounts, items, methods, found, vendors, classes=classes)

    def find_customers(self, list_ids: Iterable[str] = (),
                       names: Iterable[str] = ()) -> tuple[list[QBCustomer], list[QBListEntry]]:
        """The customers whose ListID is in ``list_ids`` or whose FullName is in ``names`` (without balances),
        and the vendors named in ``names``: what a sync needs of QuickBooks' names, so that its cost follows the
        run, not the company's size. Queries of :data:`PAGE` ListIDs or FullNames each, up to
        :data:`QUERIES_PER_MESSAGE` in a message (each message is a round trip through the Web Connector).

        Names are compared by QuickBooks, as it compares them when it keeps names unique (status 3100:
        without regard to case), not here. A name QuickBooks Desktop cannot hold (a character outside
        ISO-8859-1, a control character) names nothing there and is not asked for. A ListID or name QuickBooks
        does not have (a customer deleted or merged there) is not returned: see :meth:`_lookup`. More than
        :data:`NAMES_LOOKED_UP` names are found by reading the customer and vendor lists whole instead."""
        ids = sorted(set(list_ids))
        wanted = sorted({n for n in names if n and _holdable(n)})
        customers: dict[str, QBCustomer] = {}
        vendors: dict[str, QBListEntry] = {}
        if len(wanted) > NAMES_LOOKED_UP:
            self._read_names(wanted, customers, vendors)
            wanted = []
        lookups: list[tuple[str, str, list[str], dict[str, Any]]] = [
            ("CustomerQuery", "ListID", ids[i:i + PAGE], {"IncludeRetElement": list(SNAPSHOT_CUSTOMER)})
            for i in range(0, len(ids), PAGE)]
        for kind, include in (("CustomerQuery", SNAPSHOT_CUSTOMER), ("VendorQuery", ("ListID", "Name", "IsActive"))):
            lookups += [(kind, "FullName", wanted[i:i + PAGE], {"IncludeRetElement": list(include)})
                        for i in range(0, len(wanted), PAGE)]
        for kind, ret in self._lookup(lookups):
            if kind == "VendorQuery":
                vendor = vendor_of(ret)
                vendors[vendor.list_id] = vendor
            else:
                customer = customer_of(ret)
                customers[customer.list_id] = customer
        return list(customers.values()), list(vendors.values())

    def _read_names(self, wanted: list[str], customers: dict[str, QBCustomer],
                    vendors: dict[str, QBListEntry]) -> None:
        """Add to ``customers`` and ``vendors`` those whose full name is one of ``wanted``, compared without
        case as QuickBooks compares names (:data:`_ASCII_FOLD`), reading both lists whole with an iterator."""
        folded = {name.translate(_ASCII_FOLD) for name in wanted}
        for ret in self.query("CustomerQuery", include=SNAPSHOT_CUSTOMER):
            if text(ret, "FullName").translate(_ASCII_FOLD) in folded:
                customer = customer_of(ret)
                customers[customer.list_id] = customer
        for ret in self.query("VendorQuery", include=("ListID", "Name", "IsActive")):
            if text(ret, "Name").translate(_ASCII_FOLD) in folded:
                vendor = vendor_of(ret)
                vendors[vendor.list_id] = vendor

    def _lookup(self, lookups: list[tuple[str, str, list[str], dict[str, Any]]]
                ) -> Iterator[tuple[str, etree._Element]]:
        """(query kind, Ret) of every record found by ``lookups``: (query kind, "ListID"/"FullName"/"TxnID"/
        "RefNumber", the values, the rest of the body), sent :data:`QUERIES_PER_MESSAGE` to a message.

        QuickBooks answers a lookup naming something it lacks with no record at all, not even those it has: an
        unknown ListID with status 3120 (Error), an unknown FullName, TxnID or RefNumber with status 500 (Warn)
        (captured answers quoted in booksync/simulator/queries.py ``_not_found``; reference §9). Such a lookup
        is split in halves and asked again until each value missing stands alone and is left out, so a record
        deleted or merged in QuickBooks costs a few more queries, never the records asked with it. Other
        errors raise :class:`~booksync.errors.Refused`."""
        todo = [lookup for lookup in lookups if lookup[2]]
        while todo:
            chunk, todo = todo[:QUERIES_PER_MESSAGE], todo[QUERIES_PER_MESSAGE:]
            answers = self._ask([build.request(kind, {key: values, **body}, n)
                                 for n, (kind, key, values, body) in enumerate(chunk, 1)])
            for (kind, key, values, body), rs in zip(chunk, answers):
                if rs.code == 1:
                    continue
                if rs.code in (500, 3120) and not rs.rets:
                    if len(values) > 1:
                        half = len(values) // 2
                        todo += [(kind, key, values[:half], body), (kind, key, values[half:], body)]
                    continue
                rs.raise_for_status()
                for ret in rs.rets:
                    yield kind, ret

    @property
    def company_key(self) -> str:
        return self._company_key

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, RemoteTxn]:
        txn_type = TXN_TYPES[Kind(kind)]
        out: dict[str, RemoteTxn] = {}
        body: dict[str, Any] = {"IncludeLineItems": True} if txn_type in WITH_LINES else {}
        if txn_type == "Invoice":
            # The payments and credits applied to it (LinkedTxn), to name a payment entered in QuickBooks.
            body["IncludeLinkedTxns"] = True
        ids = list(dict.fromkeys(remote_ids))
        for _, ret in self._lookup([(f"{txn_type}Query", "TxnID", ids[i:i + PAGE], body)
                                    for i in range(0, len(ids), PAGE)]):
            txn = remote_txn(kind, txn_type, ret)
            out[txn.remote_id] = txn
        return out

    def versions(self, kind: str, remote_ids: list[str]) -> dict[str, str]:
        """The EditSequence of each transaction of ``kind`` found among ``remote_ids`` (TxnIDs), by TxnID.
        Asks only for TxnID and EditSequence (IncludeRetElement, reference §1 "Query options"): the answer
        follows the number of ids, not the size of the documents."""
        txn_type = TXN_TYPES[Kind(kind)]
        out: dict[str, str] = {}
        ids = list(dict.fromkeys(remote_ids))
        body = {"IncludeRetElement": ["TxnID", "EditSequence"]}
        for _, ret in self._lookup([(f"{txn_type}Query", "TxnID", ids[i:i + PAGE], body)
                                    for i in range(0, len(ids), PAGE)]):
            out[text(ret, "TxnID")] = text(ret, "EditSequence")
        return out

    def pre_images(self, kind: str, remote_ids: list[str]) -> dict[str, tuple[str, str]]:
        """The Ret of each record QuickBooks has among ``remote_ids`` (customers, items and payment methods by
        ListID; transactions by TxnID, with their lines), by id: (EditSequence, the Ret as qbXML text). See :meth:`BooksPort.pre_images`."""
        k = Kind(kind)
        out: dict[str, tuple[str, str]] = {}
        ids = sorted(set(remote_ids))
        for start in range(0, len(ids), PAGE):
            chunk = ids[start:start + PAGE]
            if k in LIST_QUERIES:
                rets = self.query(LIST_QUERIES[k], {"ListID": chunk}, iterate=False)
            else:
                txn_type = TXN_TYPES[k]
                body: dict[str, Any] = {"TxnID": chunk}
                if txn_type in WITH_LINES:
                    body["IncludeLineItems"] = True
                rets = self.query(f"{txn_type}Query", body, iterate=False)
            for ret in rets:
                out[text(ret, "ListID") or text(ret, "TxnID")] = (text(ret, "EditSequence"),
                                                                  etree.tostring(ret, encoding="unicode"))
        return out

    def deposits_holding(self, payment_ids: list[str], since: str) -> dict[str, QBDeposit]:
        wanted = set(payment_ids)
        out: dict[str, QBDeposit] = {}
        if not wanted:
            return out
        body = {"TxnDateRangeFilter": {"FromTxnDate": since}, "IncludeLineItems": True}
        for ret in self.query("DepositQuery", body, iterate=False):
            deposit = deposit_of(ret)
            for line in deposit.lines:
                if line.payment_id in wanted:
                    out[line.payment_id] = deposit
                for marker_id in placeholder_payment(line.memo):
                    out.setdefault(marker_id, deposit)
        return out

    def deposits(self, txn_ids: list[str]) -> list[QBDeposit]:
        """The deposits with these TxnIDs that QuickBooks still has (DepositQuery by TxnID, lines included)."""
        out: list[QBDeposit] = []
        for start in range(0, len(txn_ids), PAGE):
            body = {"TxnID": txn_ids[start:start + PAGE], "IncludeLineItems": True}
            out.extend(deposit_of(ret) for ret in self.query("DepositQuery", body, iterate=False))
        return out

    def find_added(self, kind: str, ref: str, external_guid: str) -> tuple[str, str, str] | None:
        """Find a record booksync added, after its answer was lost: by RefNumber (transactions) or
        name (lists), and by ExternalGUID where booksync sent one (no 13.0 query filters on it,
        reference §6). Returns (ListID/TxnID, EditSequence, name) or None."""
        k = Kind(kind)
        if k in TXN_TYPES:
            rets = self.query(f"{TXN_TYPES[k]}Query", {"RefNumber": [ref]}, iterate=False)
        else:
            rets = self.query(LIST_QUERIES[k], {"FullName": [ref]}, iterate=False)
        for ret in rets:
            if external_guid and text(ret, "ExternalGUID").upper() != external_guid.upper():
                continue
            return (text(ret, "ListID") or text(ret, "TxnID"), text(ret, "EditSequence"),
                    text(ret, "FullName") or text(ret, "Name"))
        return None

    # ------------------------------------------------------------------ writing

    def render(self, ops: list[Operation], resolve: Resolver) -> bytes:
        return build.message([request(op, resolve) for op in ops])

    def send(self, ops: list[Operation], resolve: Resolver) -> list[Outcome]:
        message = self.render(ops, resolve)
        responses = {rs.request_id: rs for rs in parse_response(self.transport.process(message), request=message)}
        outcomes = []
        for op in ops:
            rs = responses.get(str(op.seq))
            if rs is None:
                outcomes.append(Outcome(op.seq, "not processed"))
            elif not rs.ok:
                outcomes.append(Outcome(op.seq, "failed", error=rs.error()))
            else:
                outcomes.append(self._outcome(op, rs))
        return outcomes

    @staticmethod
    def _outcome(op: Operation, rs: Response) -> Outcome:
        if op.action in (Action.VOID, Action.DELETE):
            return Outcome(op.seq, "done", remote_id=op.remote_id or "")
        if not rs.rets:
            raise MalformedResponse(f"QuickBooks accepted request {op.seq} ({rs.kind}) but returned no record")
        ret = rs.rets[0]
        remote_id = text(ret, "ListID") or text(ret, "TxnID")
        if not remote_id:
            raise MalformedResponse(f"QuickBooks' answer to request {op.seq} ({rs.kind}) has no ListID or TxnID")
        return Outcome(op.seq, "done", remote_id=remote_id, edit_sequence=text(ret, "EditSequence"),
                       name=text(ret, "FullName") or text(ret, "Name"))

    def restore(self, kind: str, remote_id: str, version: str, record: str) -> Outcome:
        """Set a customer, invoice, credit memo or payment back to its pre-image (``record``: the Ret
        :meth:`pre_images` read before booksync changed it), with one Mod carrying ``version`` (its current
        EditSequence): the fields booksync writes, the lines (as new lines: QuickBooks gives them new
        TxnLineIDs) and a payment's applications (cash amounts; credits applied are not restored). Raises
        ValueError for a kind it cannot restore (deposits)."""
        message = build.message([restore_request(kind, remote_id, version, record)])
        (rs,) = parse_response(self.transport.process(message), request=message)
        if not rs.ok:
            return Outcome(1, "failed", error=rs.error())
        ret = rs.rets[0]
        return Outcome(1, "done", remote_id=remote_id, edit_sequence=text(ret, "EditSequence"))

    backup_note = ""
    """Why the last :meth:`backup` did not copy the company file ("" when it did or was not asked)."""

    def backup(self, target: str) -> str | None:
        """Copy the company file into ``target``: the simulator's through SQLite's backup API; QuickBooks
        Desktop's through the request processor (:meth:`RP2Transport.copy_company`) when nobody holds it, else
        None with :attr:`backup_note` saying why. Through the Web Connector booksync cannot copy it (None)."""
        copy = getattr(self.transport, "copy_company", None)
        if copy is not None:
            done, self.backup_note = copy(Path(target))
            return done
        if self._backup_source is None:
            return None
        path = Path(target) / Path(self._backup_source.path).name
        self._backup_source.backup_to(path)
        return str(path)


