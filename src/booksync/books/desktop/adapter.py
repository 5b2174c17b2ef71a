"""QuickBooks Desktop books port: the engine's operations as qbXML 13.0 over a transport.

A transport is anything with ``process(message: bytes) -> bytes``: the
simulator's :class:`~booksync.simulator.CompanyFile`, a Web Connector session,
or the Windows request processor.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from lxml import etree

from booksync.domain import (PLACEHOLDER_MEMO, Action, ApplicationData, CustomerData, DepositData, ItemData, Kind, Operation, PaymentData,
                      PaymentMethodData, QBAccount, QBCompany, QBCustomer, QBDeposit, QBDepositLine, QBListEntry,
                      QBSnapshot, Ref, SalesData)
from booksync.money import fmt
from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import MalformedResponse, Response, boolean, date, decimal, parse_response, text
from booksync.qbxml.schema import MAX_LENGTH
from booksync.fields import Limits
from booksync.books.port import Outcome, RemoteTxn, Resolver

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
_NOT_HOLDABLE = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\xff]")
"""What no QuickBooks Desktop name holds: control characters and anything outside ISO-8859-1."""
LIST_DEL_TYPES = {Kind.CUSTOMER: "Customer", Kind.ITEM: "ItemService", Kind.PAYMENT_METHOD: "PaymentMethod"}
"""ListDelType of the lists booksync adds to (qbxml130.xsd ``ListDelType``), for undoing its adds."""
CUSTOMER_FIELDS = ("Name", "IsActive", "CompanyName", "FirstName", "LastName", "BillAddress", "Phone", "Email",
                   "AccountNumber", "Notes")
"""The customer fields booksync writes (``_customer``): what a restore from a pre-image sets back."""
ADDRESS_FIELDS = ("Addr1", "Addr2", "City", "State", "PostalCode")
TXN_TYPES = {Kind.INVOICE: "Invoice", Kind.CREDIT_MEMO: "CreditMemo", Kind.PAYMENT: "ReceivePayment",
             Kind.DEPOSIT: "Deposit"}

DESKTOP_LIMITS = Limits(
    customer_name=MAX_LENGTH["CustomerAdd"]["Name"], company_name=MAX_LENGTH["CustomerAdd"]["CompanyName"],
    first_name=MAX_LENGTH["CustomerAdd"]["FirstName"], last_name=MAX_LENGTH["CustomerAdd"]["LastName"],
    address_line=MAX_LENGTH["BillAddress"]["Addr1"], city=MAX_LENGTH["BillAddress"]["City"],
    state=MAX_LENGTH["BillAddress"]["State"], postal_code=MAX_LENGTH["BillAddress"]["PostalCode"],
    phone=MAX_LENGTH["CustomerAdd"]["Phone"], email=MAX_LENGTH["CustomerAdd"]["Email"],
    account_number=MAX_LENGTH["CustomerAdd"]["AccountNumber"], item_name=MAX_LENGTH["ItemServiceAdd"]["Name"],
    payment_method_name=MAX_LENGTH["PaymentMethodAdd"]["Name"],
    invoice_ref_number=MAX_LENGTH["InvoiceAdd"]["RefNumber"],
    payment_ref_number=MAX_LENGTH["ReceivePaymentAdd"]["RefNumber"], memo=MAX_LENGTH["InvoiceAdd"]["Memo"],
    line_description=MAX_LENGTH["InvoiceLineAdd"]["Desc"], latin1_only=True)


class CompanyUnidentified(ConnectionFailure):
    """QuickBooks reported no FileID for the company: booksync cannot tell it from another company file."""


def _same_owner(a: str, b: str) -> bool:
    return a.strip().strip("{}").lower() == b.strip().strip("{}").lower()


def company_key(company_ret: etree._Element, owner_id: str) -> str:
    """The key of booksync's records for this company (the link table's ``company_key``): the FileID the Web
    Connector stored under booksync's OwnerID (QBWC guide p.36: stored "the first time the Web Connector connects
    to the company", returned to a CompanyQuery naming the OwnerID), else the company's public FileID (OwnerID 0;
    the simulated company carries one). Never the company's name, which a user may change in QuickBooks.

    Raises :class:`CompanyUnidentified` when the company carries neither."""
    found = [(text(ext, "OwnerID"), text(ext, "DataExtValue")) for ext in company_ret.findall("DataExtRet")
             if text(ext, "DataExtName") == "FileID" and text(ext, "DataExtValue")]
    for wanted in ([owner_id] if owner_id else []) + ["0"]:
        for owner, value in found:
            if _same_owner(owner, wanted):
                return value
    raise CompanyUnidentified(
        0, f"QuickBooks did not report a FileID for the company \"{text(company_ret, 'CompanyName')}\", so booksync "
           "cannot tell it from another company file; nothing was read or written.",
        "Add booksync to the QuickBooks Web Connector once ('booksync qwc', then add the .qwc file in the Web "
        "Connector): the Web Connector stores the FileID in the company under booksync's OwnerID.")


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
            first_fiscal_month=text(company_ret, "FirstMonthFiscalYear") or "January")
        self._company_key = company_key(company_ret, self.owner_id)
        self.legacy_key = "company:" + info.name
        accounts = [QBAccount(list_id=text(r, "ListID"), full_name=text(r, "FullName"),
                              account_type=text(r, "AccountType"), number=text(r, "AccountNumber"),
                              special=text(r, "SpecialAccountType"), is_active=boolean(r, "IsActive", True),
                              balance=decimal(r, "Balance") if balances else None)
                    for r in self.query("AccountQuery", {"ActiveStatus": "All"}, iterate=False,
                                        include=() if balances else SNAPSHOT_ACCOUNT)]
        items = [QBListEntry(list_id=text(r, "ListID"), name=text(r, "FullName"), kind=r.tag[:-3],
                             is_active=boolean(r, "IsActive", True),
                             account_list_id=(text(r, "SalesOrPurchase/AccountRef/ListID")
                                              or text(r, "SalesAndPurchase/IncomeAccountRef/ListID")))
                 for r in self.query("ItemQuery", {"ActiveStatus": "All"})]
        methods = [QBListEntry(list_id=text(r, "ListID"), name=text(r, "Name"), kind="PaymentMethod",
                               is_active=boolean(r, "IsActive", True))
                   for r in self.query("PaymentMethodQuery", {"ActiveStatus": "All"}, iterate=False)]
        if not customers:
            return QBSnapshot(info, accounts, items, methods, [], [], complete=False)
        include = SNAPSHOT_CUSTOMER + (("Balance",) if balances else ())
        found = [self._customer(r, balances) for r in self.query("CustomerQuery", {"ActiveStatus": "All"},
                                                                 include=include)]
        vendors = [self._vendor(r) for r in self.query("VendorQuery", {"ActiveStatus": "All"})]
        return QBSnapshot(info, accounts, items, methods, found, vendors)

    @staticmethod
    def _customer(ret: etree._Element, balances: bool = False) -> QBCustomer:
        return QBCustomer(list_id=text(ret, "ListID"), name=text(ret, "Name"), full_name=text(ret, "FullName"),
                          edit_sequence=text(ret, "EditSequence"),
                          balance=decimal(ret, "Balance") if balances else None,
                          is_active=boolean(ret, "IsActive", True), account_number=text(ret, "AccountNumber"))

    @staticmethod
    def _vendor(ret: etree._Element) -> QBListEntry:
        return QBListEntry(list_id=text(ret, "ListID"), name=text(ret, "Name"), kind="Vendor",
                           is_active=boolean(ret, "IsActive", True))

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
                vendor = self._vendor(ret)
                vendors[vendor.list_id] = vendor
            else:
                customer = self._customer(ret)
                customers[customer.list_id] = customer
        return list(customers.values()), list(vendors.values())

    def _read_names(self, wanted: list[str], customers: dict[str, QBCustomer],
                    vendors: dict[str, QBListEntry]) -> None:
        """Add to ``customers`` and ``vendors`` those whose full name is one of ``wanted``, compared without
        case as QuickBooks compares names (:data:`_ASCII_FOLD`), reading both lists whole with an iterator."""
        folded = {name.translate(_ASCII_FOLD) for name in wanted}
        for ret in self.query("CustomerQuery", include=SNAPSHOT_CUSTOMER):
            if text(ret, "FullName").translate(_ASCII_FOLD) in folded:
                customer = self._customer(ret)
                customers[customer.list_id] = customer
        for ret in self.query("VendorQuery", include=("ListID", "Name", "IsActive")):
            if text(ret, "Name").translate(_ASCII_FOLD) in folded:
                vendor = self._vendor(ret)
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
        body: dict[str, Any] = {"IncludeLineItems": True} if txn_type in ("Invoice", "CreditMemo", "Deposit") else {}
        if txn_type == "Invoice":
            # The payments and credits applied to it (LinkedTxn), to name a payment entered in QuickBooks.
            body["IncludeLinkedTxns"] = True
        ids = list(dict.fromkeys(remote_ids))
        for _, ret in self._lookup([(f"{txn_type}Query", "TxnID", ids[i:i + PAGE], body)
                                    for i in range(0, len(ids), PAGE)]):
            txn = self._remote_txn(kind, txn_type, ret)
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
            lists = {Kind.CUSTOMER: "CustomerQuery", Kind.ITEM: "ItemQuery", Kind.PAYMENT_METHOD: "PaymentMethodQuery"}
            if k in lists:
                rets = self.query(lists[k], {"ListID": chunk}, iterate=False)
            else:
                txn_type = TXN_TYPES[k]
                body: dict[str, Any] = {"TxnID": chunk}
                if txn_type in ("Invoice", "CreditMemo", "Deposit"):
                    body["IncludeLineItems"] = True
                rets = self.query(f"{txn_type}Query", body, iterate=False)
            for ret in rets:
                out[text(ret, "ListID") or text(ret, "TxnID")] = (text(ret, "EditSequence"),
                                                                  etree.tostring(ret, encoding="unicode"))
        return out

    @staticmethod
    def _remote_txn(kind: str, txn_type: str, ret: etree._Element) -> RemoteTxn:
        total_path = {"Invoice": "Subtotal", "CreditMemo": "TotalAmount", "ReceivePayment": "TotalAmount",
                      "Deposit": "DepositTotal"}[txn_type]
        txn = RemoteTxn(remote_id=text(ret, "TxnID"), kind=kind, edit_sequence=text(ret, "EditSequence"),
                        customer_id=text(ret, "CustomerRef/ListID"), date=text(ret, "TxnDate"),
                        total=decimal(ret, total_path), ref_number=text(ret, "RefNumber"),
                        deposit_account_id=text(ret, "DepositToAccountRef/ListID"))
        for line in ret.findall(f"{txn_type}LineRet"):
            txn.lines.append((text(line, "ItemRef/ListID"), decimal(line, "Amount")))
        for app in ret.findall("AppliedToTxnRet"):
            # Amount is the cash; each credit memo applied with it is a LinkedTxn of the application.
            credits = sum((abs(decimal(link, "Amount")) for link in app.findall("LinkedTxn")
                           if text(link, "TxnType") == "CreditMemo"), Decimal("0.00"))
            txn.applied.append((text(app, "TxnID"), decimal(app, "Amount") + credits))
        if txn_type == "Invoice":
            txn.balance = decimal(ret, "BalanceRemaining")
            txn.linked = [(text(link, "TxnID"), text(link, "TxnType"), text(link, "RefNumber"),
                           abs(decimal(link, "Amount"))) for link in ret.findall("LinkedTxn")]
        return txn

    def deposits_holding(self, payment_ids: list[str], since: str) -> dict[str, QBDeposit]:
        wanted = set(payment_ids)
        out: dict[str, QBDeposit] = {}
        if not wanted:
            return out
        body = {"TxnDateRangeFilter": {"FromTxnDate": since}, "IncludeLineItems": True}
        for ret in self.query("DepositQuery", body, iterate=False):
            deposit = _deposit_of(ret)
            for line in deposit.lines:
                if line.payment_id in wanted:
                    out[line.payment_id] = deposit
                for marker_id in _placeholder_payment(line.memo):
                    out.setdefault(marker_id, deposit)
        return out

    def deposits(self, txn_ids: list[str]) -> list[QBDeposit]:
        """The deposits with these TxnIDs that QuickBooks still has (DepositQuery by TxnID, lines included)."""
        out: list[QBDeposit] = []
        for start in range(0, len(txn_ids), PAGE):
            body = {"TxnID": txn_ids[start:start + PAGE], "IncludeLineItems": True}
            out.extend(_deposit_of(ret) for ret in self.query("DepositQuery", body, iterate=False))
        return out

    def find_added(self, kind: str, ref: str, external_guid: str) -> tuple[str, str, str] | None:
        """Find a record booksync added, after its answer was lost: by RefNumber (transactions) or
        name (lists), and by ExternalGUID where booksync sent one (no 13.0 query filters on it,
        reference §6). Returns (ListID/TxnID, EditSequence, name) or None."""
        k = Kind(kind)
        if k in TXN_TYPES:
            rets = self.query(f"{TXN_TYPES[k]}Query", {"RefNumber": [ref]}, iterate=False)
        else:
            query = {Kind.CUSTOMER: "CustomerQuery", Kind.ITEM: "ItemQuery",
                     Kind.PAYMENT_METHOD: "PaymentMethodQuery"}[k]
            rets = self.query(query, {"FullName": [ref]}, iterate=False)
        for ret in rets:
            if external_guid and text(ret, "ExternalGUID").upper() != external_guid.upper():
                continue
            return (text(ret, "ListID") or text(ret, "TxnID"), text(ret, "EditSequence"),
                    text(ret, "FullName") or text(ret, "Name"))
        return None

    # ------------------------------------------------------------------ writing

    def render(self, ops: list[Operation], resolve: Resolver) -> bytes:
        return build.message([self._request(op, resolve) for op in ops])

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

    def _request(self, op: Operation, resolve: Resolver) -> etree._Element:
        rid = op.seq
        if op.action is Action.DELETE and op.kind in LIST_DEL_TYPES:  # ``booksync runs undo`` of a list add
            return build.request("ListDel", {"ListDelType": LIST_DEL_TYPES[op.kind], "ListID": op.remote_id}, rid)
        if op.action is Action.DELETE:
            return build.request("TxnDel", {"TxnDelType": TXN_TYPES[op.kind], "TxnID": op.remote_id}, rid)
        if op.action is Action.VOID:
            return build.request("TxnVoid", {"TxnVoidType": TXN_TYPES[op.kind], "TxnID": op.remote_id}, rid)
        body = self._body(op.payload, resolve)
        if op.kind is Kind.DEPOSIT:
            body = {"TxnID": op.remote_id, "EditSequence": op.edit_sequence, **body}
        elif op.action is Action.MOD:
            body = {"ListID" if op.kind is Kind.CUSTOMER else "TxnID": op.remote_id,
                    "EditSequence": op.edit_sequence, **_mod_fields(op.kind, body)}
        elif op.kind in TXN_TYPES:
            body = _add_fields(TXN_TYPES[op.kind], body)
        name = {Kind.CUSTOMER: "Customer", Kind.ITEM: "ItemService", Kind.PAYMENT_METHOD: "PaymentMethod"}.get(
            op.kind) or TXN_TYPES[op.kind]
        return build.request(f"{name}{op.action.value.capitalize()}", body, rid)

    def _body(self, payload: Any, resolve: Resolver) -> dict[str, Any]:
        if isinstance(payload, CustomerData):
            return _customer(payload)
        if isinstance(payload, ItemData):
            return {"Name": payload.name, "SalesOrPurchase": {"Desc": payload.description,
                                                              "AccountRef": _ref(payload.account, resolve)}}
        if isinstance(payload, PaymentMethodData):
            return {"Name": payload.name, "PaymentMethodType": payload.method_type}
        if isinstance(payload, SalesData):
            return _sales(payload, resolve)
        if isinstance(payload, PaymentData):
            return _payment(payload, resolve)
        if isinstance(payload, DepositData):
            return {"DepositLineMod": [_deposit_line(line, resolve) for line in payload.lines]}
        raise TypeError(f"no qbXML for {type(payload).__name__}")

    def restore(self, kind: str, remote_id: str, version: str, record: str) -> Outcome:
        """Set a customer, invoice, credit memo or payment back to its pre-image (``record``: the Ret
        :meth:`pre_images` read before booksync changed it), with one Mod carrying ``version`` (its current
        EditSequence): the fields booksync writes, the lines (as new lines: QuickBooks gives them new
        TxnLineIDs) and a payment's applications (cash amounts; credits applied are not restored). Raises
        ValueError for a kind it cannot restore (deposits)."""
        k = Kind(kind)
        ret = etree.fromstring(record.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        body: dict[str, Any]
        if k is Kind.CUSTOMER:
            body = {"ListID": remote_id, "EditSequence": version}
            for tag in CUSTOMER_FIELDS:  # "" clears a field the run filled
                if tag == "BillAddress":
                    body[tag] = {t: text(ret, f"BillAddress/{t}") for t in ADDRESS_FIELDS}
                else:
                    body[tag] = text(ret, tag) or ("true" if tag == "IsActive" else "")
            name = "CustomerMod"
        elif k in (Kind.INVOICE, Kind.CREDIT_MEMO):
            txn_type = TXN_TYPES[k]
            body = {"TxnID": remote_id, "EditSequence": version,
                    "CustomerRef": {"ListID": text(ret, "CustomerRef/ListID")}, "TxnDate": text(ret, "TxnDate"),
                    "RefNumber": text(ret, "RefNumber"), "Memo": text(ret, "Memo"),
                    f"{txn_type}LineMod": [{"TxnLineID": "-1", "ItemRef": {"ListID": text(line, "ItemRef/ListID")},
                                            "Desc": text(line, "Desc") or None,
                                            "Quantity": text(line, "Quantity") or None,
                                            "Rate": text(line, "Rate") or None, "Amount": text(line, "Amount")}
                                           for line in ret.findall(f"{txn_type}LineRet")]}
            if k is Kind.INVOICE:
                body["DueDate"] = text(ret, "DueDate") or None
            name = f"{txn_type}Mod"
        elif k is Kind.PAYMENT:
            method = text(ret, "PaymentMethodRef/ListID")
            body = {"TxnID": remote_id, "EditSequence": version,
                    "CustomerRef": {"ListID": text(ret, "CustomerRef/ListID")}, "TxnDate": text(ret, "TxnDate"),
                    "RefNumber": text(ret, "RefNumber"), "TotalAmount": text(ret, "TotalAmount"),
                    "PaymentMethodRef": {"ListID": method} if method else None, "Memo": text(ret, "Memo"),
                    "DepositToAccountRef": {"ListID": text(ret, "DepositToAccountRef/ListID")},
                    "AppliedToTxnMod": [{"TxnID": text(app, "TxnID"), "PaymentAmount": text(app, "Amount")}
                                        for app in ret.findall("AppliedToTxnRet")]}
            name = "ReceivePaymentMod"
        else:
            raise ValueError(f"booksync cannot restore a {k.label} from its pre-image")
        message = build.message([build.request(name, body, 1)])
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


# ---------------------------------------------------------------------- payload → qbXML


def placeholder(ref: Ref) -> str:
    """The stand-in ID written into staged files for a record created earlier in the same run."""
    return f"pending-{ref.kind}-{ref.local_id}"[:36]


def _id(ref: Ref, resolve: Resolver) -> str:
    return ref.remote_id or resolve(ref) or placeholder(ref)


def _ref(ref: Ref, resolve: Resolver) -> dict[str, str]:
    return {"ListID": _id(ref, resolve)}


def _customer(c: CustomerData) -> dict[str, Any]:
    address = {k: v for k, v in (("Addr1", c.address.line1), ("Addr2", c.address.line2), ("City", c.address.city),
                                 ("State", c.address.state), ("PostalCode", c.address.postal_code)) if v}
    body: dict[str, Any] = {"Name": c.name, "IsActive": c.is_active, "CompanyName": c.company_name or None,
                            "FirstName": c.first_name or None, "LastName": c.last_name or None,
                            "BillAddress": address or None, "Phone": c.phone or None, "Email": c.email or None,
                            "AccountNumber": c.account_number or None, "Notes": c.notes or None,
                            "ExternalGUID": c.external_guid or None}
    return body


def _sales(s: SalesData, resolve: Resolver) -> dict[str, Any]:
    lines = [{"ItemRef": _ref(line.item, resolve), "Desc": line.description or None,
              "Quantity": str(line.quantity), "Rate": str(line.rate), "Amount": fmt(line.amount)}
             for line in s.lines]
    return {"CustomerRef": _ref(s.customer, resolve), "TxnDate": s.date, "RefNumber": s.ref_number or None,
            "DueDate": s.due_date, "Memo": s.memo or None, "ExternalGUID": s.external_guid or None,
            "_lines": lines}


def _application(a: ApplicationData, resolve: Resolver) -> dict[str, Any]:
    body: dict[str, Any] = {"TxnID": _id(a.invoice, resolve), "PaymentAmount": fmt(a.amount)}
    if a.credits:
        body["SetCredit"] = [{"CreditTxnID": _id(c.credit_memo, resolve), "AppliedAmount": fmt(c.amount)}
                             for c in a.credits]
    return body


def _payment(p: PaymentData, resolve: Resolver) -> dict[str, Any]:
    return {"CustomerRef": _ref(p.customer, resolve), "TxnDate": p.date, "RefNumber": p.ref_number or None,
            "TotalAmount": fmt(p.total), "PaymentMethodRef": _ref(p.method, resolve) if p.method else None,
            "Memo": p.memo or None, "DepositToAccountRef": _ref(p.deposit_to, resolve),
            "ExternalGUID": p.external_guid or None,
            # The schema requires IsAutoApply or AppliedToTxnAdd; false keeps an unapplied payment as credit.
            "IsAutoApply": False if not p.applications else None,
            "_applications": [_application(a, resolve) for a in p.applications]}


def _deposit_of(ret: etree._Element) -> QBDeposit:
    """A DepositRet as the engine's :class:`QBDeposit` (a line from a payment names its TxnID)."""
    lines = tuple(QBDepositLine(line_id=text(ln, "TxnLineID"),
                                payment_id=text(ln, "TxnID") if text(ln, "TxnType") == "ReceivePayment" else "",
                                entity_id=text(ln, "EntityRef/ListID"), account_id=text(ln, "AccountRef/ListID"),
                                amount=decimal(ln, "Amount"), memo=text(ln, "Memo"))
                  for ln in ret.findall("DepositLineRet"))
    return QBDeposit(txn_id=text(ret, "TxnID"), edit_sequence=text(ret, "EditSequence"), date=text(ret, "TxnDate"),
                     account_id=text(ret, "DepositToAccountRef/ListID"),
                     account_name=text(ret, "DepositToAccountRef/FullName"), total=decimal(ret, "DepositTotal"),
                     lines=lines)


def _placeholder_payment(memo: str) -> list[str]:
    prefix, suffix = PLACEHOLDER_MEMO.split("{txn_id}")
    if memo.startswith(prefix) and memo.endswith(suffix):
        return [memo[len(prefix):len(memo) - len(suffix)]]
    return []


def _deposit_line(line: Any, resolve: Resolver) -> dict[str, Any]:
    if line.payment is not None:
        return {"TxnLineID": line.line_id, "PaymentTxnID": _id(line.payment, resolve)}
    if line.account is None:
        return {"TxnLineID": line.line_id}
    return {"TxnLineID": line.line_id, "EntityRef": _ref(line.entity, resolve) if line.entity else None,
            "AccountRef": _ref(line.account, resolve), "Memo": line.memo or None, "Amount": fmt(line.amount)}


def _mod_fields(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """Turn an Add body into the Mod body: no ExternalGUID; lines as *LineMod with TxnLineID -1."""
    out = {k: v for k, v in body.items() if k not in ("ExternalGUID",)}
    if kind in (Kind.INVOICE, Kind.CREDIT_MEMO):
        tag = "InvoiceLineMod" if kind is Kind.INVOICE else "CreditMemoLineMod"
        out[tag] = [{"TxnLineID": "-1", **line} for line in out.pop("_lines")]
    if kind is Kind.PAYMENT:
        out.pop("IsAutoApply", None)
        out["AppliedToTxnMod"] = out.pop("_applications")
    return out


def _add_fields(kind_tag: str, body: dict[str, Any]) -> dict[str, Any]:
    """Name the lines and applications of an Add body as the schema does."""
    if "_lines" in body:
        body[f"{kind_tag}LineAdd"] = body.pop("_lines")
    if "_applications" in body:
        body["AppliedToTxnAdd"] = body.pop("_applications")
    return body
