"""QuickBooks Online books port: the engine's operations as Accounting API JSON over HTTPS.

The QuickBooks Online counterpart of :mod:`booksync.books.desktop.adapter` (see
:class:`booksync.books.port.BooksPort`); facts and sources in reference/quickbooks-online.md and
docs/quickbooks-online.md.

Reading (:meth:`OnlineBooks.snapshot`): CompanyInfo, Preferences (``BookCloseDate`` is the closing
date, ``CustomTxnNumbers`` whether DocNumber may be sent), and the lists, active and inactive, paged
past 1000: Account, Item, PaymentMethod, Customer, Vendor, Employee. Account types are reported under
the Desktop names the engine uses (``"Other Current Asset"`` → ``"OtherCurrentAsset"``), so a payment
may deposit to Bank and Other Current Asset accounts (``domain.BANK_LIKE``); Undeposited Funds is an
Other Current Asset with AccountSubType ``UndepositedFunds`` (Intuit Account page).

Writing (:meth:`OnlineBooks.send`): each engine message is sent as batch requests
(``POST /v3/company/{realm}/batch``) of at most 30 operations (Intuit Batch page), each with a
``requestid`` derived from its operations: the ExternalGUID of a one-operation batch (a create's is
stable: uuid5 of company, kind and local id), a uuid5 of the operations' GUIDs, actions and SyncTokens
otherwise. A batch retried after a lost answer therefore carries the same ``requestid`` and QuickBooks
Online answers from its record instead of creating twice (reference §9). Batch items are independent and
not transactional (reference §5), so every item's answer is read; after a batch with a refusal the rest
of the message is not sent ("not processed"), as Desktop's ``stopOnError`` does.

Updates are sparse (``"sparse": true``) with the SyncToken the operation carries; lines are all-or-none
in QuickBooks Online even when sparse, so every line that must remain is sent (reference §2). Voids:
invoices and payments (``operation: update`` + ``optionsData: void``). The API has no void for a credit memo
(reference §3.6): booksync voids one as QuickBooks Online's void does invoices and payments — the credit memo is
kept, every line's amount set to 0.00 (Qty 0) and "Voided" put before its PrivateNote — by a sparse update of
the lines read just before sending (:func:`void_credit_memo_body`). Deletes carry ``{Id, SyncToken}``; when the
operation has no SyncToken the current one is read first.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from booksync.domain import operation_words
from booksync.domain import (PLACEHOLDER_MEMO, Action, CustomerData, DepositData, ItemData, Kind, Operation, PaymentData,
                      PaymentMethodData, QBAccount, QBCompany, QBCustomer, QBDeposit, QBDepositLine, QBListEntry,
                      QBSnapshot, Ref, SalesData)
from booksync.money import CENT
from booksync.fields import Limits
from booksync.books.online import payloads as qbo_json
from booksync.books.online.errors import (FaultEntry, QboFault, QboThrottled, QboUnsupported, fault_error,
                         parse_fault)
from booksync.books.online.transport import QboClient, quote
from booksync.books.port import Outcome, RemoteTxn, Resolver

log = logging.getLogger("booksync.online")

PRIVATE_NOTE_MAX = 4000
"""PrivateNote's limit (Intuit Invoice and Payment pages; reference §4)."""
MAX_BATCH = 30
"""Operations per batch request (Intuit Batch page; other Intuit posts say 10 or 50: reference §5)."""

ONLINE_LIMITS = Limits(
    # Intuit entity pages (Customer, Item, PaymentMethod, Invoice, Payment); reference §4.
    customer_name=100, company_name=100, first_name=100, last_name=100, address_line=500, city=255, state=255,
    postal_code=30, phone=30, email=100, account_number=99, item_name=100, payment_method_name=31,
    # PrivateNote holds 4000; 3950 leaves room for booksync's marker line ("[booksync GUID]", see marker()).
    invoice_ref_number=21, payment_ref_number=21, memo=3950, line_description=4000,
    # Item Description and Customer Notes: 4000 and 2000 (Intuit Item and Customer pages; not in the reference,
    # which lists no limit for them; the test double enforces the same, 2050 beyond).
    item_description=4000, customer_notes=2000,
    # QuickBooks Online stores UTF-8: nothing is transliterated.
    latin1_only=False)

ENTITIES = {Kind.CUSTOMER: "Customer", Kind.ITEM: "Item", Kind.PAYMENT_METHOD: "PaymentMethod",
            Kind.INVOICE: "Invoice", Kind.CREDIT_MEMO: "CreditMemo", Kind.PAYMENT: "Payment", Kind.DEPOSIT: "Deposit"}
TRANSACTION_KINDS = (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.PAYMENT, Kind.DEPOSIT)
RECENT_DAYS = 30
"""How far back :meth:`OnlineBooks.find_added` looks for a booksync marker when no query filter finds the record."""

ACCOUNT_TYPES = {
    # QuickBooks Online AccountType (Intuit Account page) → the QuickBooks Desktop name the engine uses.
    "Bank": "Bank", "Other Current Asset": "OtherCurrentAsset", "Fixed Asset": "FixedAsset",
    "Other Asset": "OtherAsset", "Accounts Receivable": "AccountsReceivable", "Equity": "Equity",
    "Expense": "Expense", "Other Expense": "OtherExpense", "Cost of Goods Sold": "CostOfGoodsSold",
    "Accounts Payable": "AccountsPayable", "Credit Card": "CreditCard", "Long Term Liability": "LongTermLiability",
    "Other Current Liability": "OtherCurrentLiability", "Income": "Income", "Other Income": "OtherIncome",
}
SPECIAL_SUBTYPES = {"UndepositedFunds": "UndepositedFunds", "OpeningBalanceEquity": "OpeningBalanceEquity",
                    "RetainedEarnings": "RetainedEarnings"}
CARD_METHODS = {"Visa", "MasterCard", "AmericanExpress", "Discover", "OtherCreditCard"}
"""qbXML PaymentMethodType values that are credit cards; QuickBooks Online knows only CREDIT_CARD / NON_CREDIT_CARD."""

_REQUEST_NS = uuid.UUID("3b0e8f0c-5a8e-4d3f-9a57-1d0f7f4e2c11")


def account_type(qbo_type: str) -> str:
    """The Desktop account type name for a QuickBooks Online AccountType (spaces removed when unknown)."""
    return ACCOUNT_TYPES.get(qbo_type, qbo_type.replace(" ", ""))


def placeholder(ref: Ref) -> str:
    """The stand-in Id written into staged files for a record created earlier in the same run."""
    return f"pending-{ref.kind}-{ref.local_id}"


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _ref_value(obj: Any) -> str:
    return str(obj.get("value", "")) if isinstance(obj, dict) else ""


class OnlineBooks:
    """The books port for QuickBooks Online (see :class:`booksync.books.port.BooksPort` and the module docstring).

    ``client`` talks to one realm; ``ledger`` (a JSON-lines file) records the transactions this port
    created, for :meth:`backup`.
    """

    limits = ONLINE_LIMITS
    request_suffix = ".json"

    def __init__(self, client: QboClient, realm_id: str, batch_size: int = MAX_BATCH, ledger: Path | None = None,
                 environment: str = "") -> None:
        self.client = client
        self.realm_id = realm_id
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH))
        self.ledger = ledger
        self.environment = environment
        self.custom_txn_numbers = True
        self._raw: dict[str, Any] = {}
        self._snapshot: QBSnapshot | None = None

    @property
    def company_key(self) -> str:
        """``qbo:REALMID``: the realm id is QuickBooks Online's permanent company identifier."""
        return f"qbo:{self.realm_id}"

    # ------------------------------------------------------------------ reading

    def snapshot(self, balances: bool = True, customers: bool = True) -> QBSnapshot:
        """Read company, preferences and every list (paged), as the engine's :class:`QBSnapshot`. Customers
        come with their balances either way, and every customer, vendor and employee is read even with
        ``customers=False`` (the snapshot is then still ``complete``): :meth:`backup` exports the lists this read.
        (``balances`` and ``customers`` save work in QuickBooks Desktop.)

        Raises :class:`~booksync.books.online.errors.ReconnectNeeded` / ``QboUnreachable`` (connection),
        :class:`~booksync.books.online.errors.QboFault` (a read refused).
        """
        info = self.client.get(f"companyinfo/{self.realm_id}").get("CompanyInfo") or {}
        prefs = self.client.get("preferences").get("Preferences") or {}
        # CustomTxnNumbers off: QuickBooks numbers documents itself and a DocNumber sent risks duplicates
        # (Intuit Invoice page, DocNumber).
        self.custom_txn_numbers = bool((prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers", True))
        raw = {name: list(self.client.query_all(name, "Active IN (true, false)"))
               for name in ("Account", "Item", "PaymentMethod", "Customer", "Vendor", "Employee")}
        self._raw = {"CompanyInfo": info, "Preferences": prefs, **raw}
        company = QBCompany(
            name=info.get("CompanyName", ""),
            closing_date=_date((prefs.get("AccountingInfoPrefs") or {}).get("BookCloseDate")),
            product=f"QuickBooks Online ({self.environment or 'api'}, minorversion {self.client.minorversion})",
            first_fiscal_month=info.get("FiscalYearStartMonth") or "January")
        accounts = []
        for a in raw["Account"]:
            special = SPECIAL_SUBTYPES.get(a.get("AccountSubType", ""), "")
            kind = account_type(a.get("AccountType", ""))
            if kind in ("AccountsReceivable", "AccountsPayable") and not special:
                special = kind
            accounts.append(QBAccount(list_id=str(a["Id"]), full_name=a.get("FullyQualifiedName") or a.get("Name", ""),
                                      account_type=kind, number=a.get("AcctNum", "") or "", special=special,
                                      is_active=bool(a.get("Active", True)),
                                      balance=qbo_json.money(a.get("CurrentBalance"))))
        items = [QBListEntry(list_id=str(i["Id"]), name=i.get("FullyQualifiedName") or i.get("Name", ""),
                             kind=i.get("Type", "Service"), is_active=bool(i.get("Active", True)),
                             account_list_id=_ref_value(i.get("IncomeAccountRef")))
                 for i in raw["Item"]]
        methods = [QBListEntry(list_id=str(m["Id"]), name=m.get("Name", ""), kind="PaymentMethod",
                               is_active=bool(m.get("Active", True))) for m in raw["PaymentMethod"]]
        customers = [QBCustomer(list_id=str(c["Id"]), name=c.get("DisplayName", ""),
                                full_name=c.get("FullyQualifiedName") or c.get("DisplayName", ""),
                                edit_sequence=str(c.get("SyncToken", "")), balance=qbo_json.money(c.get("Balance")),
                                is_active=bool(c.get("Active", True)))
                     for c in raw["Customer"]]
        # DisplayName is unique across customers, vendors and employees (6240; qbTypes, Intuit Batch page):
        # vendors and employees are the "other names" the planner must avoid.
        others = [QBListEntry(list_id=f"{kind}:{v['Id']}", name=v.get("DisplayName", ""), kind=kind,
                              is_active=bool(v.get("Active", True)))
                  for kind in ("Vendor", "Employee") for v in raw[kind]]
        self._snapshot = QBSnapshot(company, accounts, items, methods, customers, others)
        return self._snapshot

    def find_customers(self, list_ids: Iterable[str] = (),
                       names: Iterable[str] = ()) -> tuple[list[QBCustomer], list[QBListEntry]]:
        """The customers with these Ids or names (FullyQualifiedName, without case), and the vendors and
        employees holding any of ``names``: from the lists :meth:`snapshot` read (read now if it was not)."""
        snapshot = self._snapshot or self.snapshot()
        ids, wanted = set(list_ids), {n.casefold() for n in names}
        return ([c for c in snapshot.customers if c.list_id in ids or c.full_name.casefold() in wanted],
                [n for n in snapshot.other_names if n.name.casefold() in wanted])

    def transactions(self, kind: str, remote_ids: list[str]) -> dict[str, RemoteTxn]:
        """Read invoices, credit memos, payments or deposits by Id (100 per query).

        ``RemoteTxn.lines`` are (item Id, amount) of the SalesItemLines; ``applied`` are (invoice Id,
        amount applied to it, credits included) of a payment's lines.
        """
        return {str(row["Id"]): self._remote_txn(kind, row) for row in self._read(Kind(kind), remote_ids)}

    def versions(self, kind: str, remote_ids: list[str]) -> dict[str, str]:
        """The SyncToken of each transaction found, by Id (the whole entities are read: 100 per query)."""
        return {remote_id: txn.edit_sequence for remote_id, txn in self.transactions(kind, remote_ids).items()}

    def _read(self, kind: Kind, remote_ids: list[str]) -> Iterator[dict[str, Any]]:
        entity = ENTITIES[kind]
        ids = sorted({str(i) for i in remote_ids if i})
        for start in range(0, len(ids), 100):
            chunk = ", ".join(quote(i) for i in ids[start:start + 100])
            yield from self.client.query(f"SELECT * FROM {entity} WHERE Id IN ({chunk}) MAXRESULTS 1000"
                                         ).get(entity) or []

    def pre_images(self, kind: str, remote_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Each entity QuickBooks Online has among ``remote_ids``, by Id: (SyncToken, the entity as JSON text, as
        its query answered it). See :meth:`BooksPort.pre_images`."""
        k = Kind(kind)
        if k in TRANSACTION_KINDS:
            rows = list(self._read(k, remote_ids))
        else:
            entity = ENTITIES[k]
            rows = [self.client.get(f"{entity.lower()}/{rid}").get(entity) or {} for rid in sorted(set(remote_ids))]
        return {str(row["Id"]): (str(row.get("SyncToken", "")), json.dumps(row, sort_keys=True, default=str))
                for row in rows if row.get("Id") is not None}

    @staticmethod
    def _remote_txn(kind: str, row: dict[str, Any]) -> RemoteTxn:
        txn = RemoteTxn(remote_id=str(row["Id"]), kind=kind, edit_sequence=str(row.get("SyncToken", "")),
                        customer_id=_ref_value(row.get("CustomerRef")), date=row.get("TxnDate", ""),
                        total=qbo_json.money(row.get("TotalAmt")),
                        ref_number=row.get("DocNumber") or row.get("PaymentRefNum") or "",
                        deposit_account_id=_ref_value(row.get("DepositToAccountRef")))
        for line in row.get("Line") or []:
            if line.get("DetailType") == "SalesItemLineDetail":
                txn.lines.append((_ref_value((line.get("SalesItemLineDetail") or {}).get("ItemRef")),
                                  qbo_json.money(line.get("Amount"))))
            for linked in line.get("LinkedTxn") or []:
                if kind == Kind.PAYMENT.value and linked.get("TxnType") == "Invoice":
                    txn.applied.append((str(linked.get("TxnId", "")), qbo_json.money(line.get("Amount"))))
        if kind == Kind.INVOICE.value:
            # Invoice.Balance is what is left to pay; its LinkedTxn names the payments, without amounts.
            txn.balance = qbo_json.money(row.get("Balance")) if "Balance" in row else None
            txn.linked = [(str(t.get("TxnId", "")), str(t.get("TxnType", "")), "", None)
                          for t in row.get("LinkedTxn") or []]
        return txn

    def deposits_holding(self, payment_ids: list[str], since: str) -> dict[str, QBDeposit]:
        """The deposits dated on or after ``since`` (YYYY-MM-DD) holding any of ``payment_ids`` (or a line
        standing in for one, by its memo), by payment Id. Deposit lines: a linked line (``LinkedTxn`` of
        type Payment) or a direct ``DepositLineDetail`` line (Intuit Deposit page; reference §3.4)."""
        wanted = {str(i) for i in payment_ids}
        out: dict[str, QBDeposit] = {}
        if not wanted:
            return out
        for row in self.client.query_all("Deposit", f"TxnDate >= {quote(since)}"):
            deposit = deposit_of(row)
            for line in deposit.lines:
                if line.payment_id in wanted:
                    out[line.payment_id] = deposit
                held = _placeholder_payment(line.memo)
                if held:
                    out.setdefault(held, deposit)
        return out

    def deposits(self, txn_ids: list[str]) -> list[QBDeposit]:
        """The deposits with these Ids that still exist, with their lines (:func:`deposit_of`)."""
        return [deposit_of(row) for row in self._read(Kind.DEPOSIT, txn_ids)]

    def find_added(self, kind: str, ref: str, external_guid: str) -> tuple[str, str, str] | None:
        """Find a record booksync added whose answer was lost: (Id, SyncToken, name), or None.

        Customers by DisplayName, items and payment methods by Name (unique in QuickBooks Online);
        invoices and credit memos by DocNumber; payments by PaymentRefNum. A transaction must also carry
        booksync's marker for ``external_guid`` in its PrivateNote. When the filter is refused or finds
        nothing for a payment (or a document sent without DocNumber), the transactions created in the last
        ``RECENT_DAYS`` days are searched for the marker.
        """
        k = Kind(kind)
        mark = marker(external_guid) if external_guid else ""
        field = {Kind.CUSTOMER: "DisplayName", Kind.ITEM: "Name", Kind.PAYMENT_METHOD: "Name",
                 Kind.INVOICE: "DocNumber", Kind.CREDIT_MEMO: "DocNumber", Kind.PAYMENT: "PaymentRefNum"}.get(k)
        if field is None:
            return None
        entity = ENTITIES[k]
        rows: list[dict[str, Any]] = []
        try:
            rows = self.client.query(f"SELECT * FROM {entity} WHERE {field} = {quote(ref)}"
                                     + (" AND Active IN (true, false)" if k not in TRANSACTION_KINDS else "")
                                     ).get(entity) or []
        except QboFault:
            rows = []
        found = self._match(k, rows, mark)
        scan = k is Kind.PAYMENT or (k in (Kind.INVOICE, Kind.CREDIT_MEMO) and not self.custom_txn_numbers)
        if found is None and mark and scan:
            since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=RECENT_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
            found = self._match(k, self.client.query_all(entity, f"MetaData.CreateTime >= {quote(since)}"), mark)
        return found

    @staticmethod
    def _match(kind: Kind, rows: Any, mark: str) -> tuple[str, str, str] | None:
        for row in rows:
            if kind in TRANSACTION_KINDS and mark and mark not in (row.get("PrivateNote") or ""):
                continue
            name = "" if kind in TRANSACTION_KINDS else (row.get("FullyQualifiedName") or row.get("DisplayName")
                                                         or row.get("Name", ""))
            return str(row["Id"]), str(row.get("SyncToken", "")), name
        return None

    # ------------------------------------------------------------------ writing

    def render(self, ops: list[Operation], resolve: Resolver) -> bytes:
        """The batch requests that would carry ``ops``, as JSON (a staged working file).

        Records created earlier in the run appear as ``pending-KIND-ID``. What is read just before sending
        shows as ``"(current)"``: the SyncToken of a delete or void that has none, and, in a deposit change,
        the lines kept as they are and the amounts of the payments put back.
        """
        batches = []
        for chunk in self._chunks(ops):
            items = []
            for op in chunk:
                item = self._item(op, resolve, op.edit_sequence or "(current)", None)
                items.append(item if item is not None else {"bId": str(op.seq), "not sent": _unsupported(op)})
            batches.append({"requestid": request_id(chunk), "BatchItemRequest": items})
        doc = {"request": f"POST /v3/company/{self.realm_id}/batch?minorversion={self.client.minorversion}"
                          "&requestid=REQUESTID", "batches": batches}
        return (qbo_json.dumps(doc, indent=2) + "\n").encode("utf-8")

    def send(self, ops: list[Operation], resolve: Resolver) -> list[Outcome]:
        """Send ``ops`` (one engine message) as batch requests; one :class:`Outcome` per op, in order.

        Refusals come back as "failed" outcomes with typed errors (:mod:`.qbo_errors`); operations after a
        refused batch are "not processed". Raises ``ReconnectNeeded`` / ``QboUnreachable`` when QuickBooks
        Online cannot be used at all (the journal keeps those operations as sent; resending them reuses the
        same requestid).
        """
        outcomes: dict[int, Outcome] = {}
        current = self._current(ops, resolve)
        stop = False
        for chunk in self._chunks(ops):
            if stop:
                outcomes.update({op.seq: Outcome(op.seq, "not processed") for op in chunk})
                continue
            items, sendable = [], []
            for op in chunk:
                token = op.edit_sequence or current["tokens"].get(op.remote_id or "", "")
                try:
                    item = self._item(op, resolve, token, current)
                except QboFault as exc:
                    outcomes[op.seq] = Outcome(op.seq, "failed", error=exc)
                    stop = True
                    continue
                if item is None:
                    outcomes[op.seq] = Outcome(op.seq, "failed", error=QboUnsupported(
                        [FaultEntry("0", "Unsupported operation", _unsupported(op))], "", _unsupported(op),
                        _record(op)))
                    stop = True
                    continue
                items.append(item)
                sendable.append(op)
            if not sendable:
                continue
            try:
                resp = self.client.post("batch", {"BatchItemRequest": items}, {"requestid": request_id(sendable)},
                                        weight=len(items), batch=True)
            except QboThrottled as exc:
                outcomes.update({op.seq: Outcome(op.seq, "failed", error=exc) for op in sendable})
                stop = True
                continue
            outcomes.update(self._outcomes(sendable, resp))
            stop = stop or any(outcomes[op.seq].status != "done" for op in sendable)
        self._remember([(op, outcomes[op.seq]) for op in ops])
        return [outcomes[op.seq] for op in ops]

    def _outcomes(self, ops: list[Operation], resp: Any) -> dict[int, Outcome]:
        fault_type, entries = parse_fault(resp.data)
        answers = resp.data.get("BatchItemResponse") if isinstance(resp.data, dict) else None
        if resp.status != 200 or entries or not isinstance(answers, list):
            # The whole batch was refused (e.g. more than 30 items, a malformed body).
            entries = entries or [FaultEntry(str(resp.status), f"HTTP {resp.status}", str(resp.data)[:300])]
            return {op.seq: Outcome(op.seq, "failed", error=fault_error(entries, fault_type, op.kind.value,
                                                                        _record(op), resp.intuit_tid))
                    for op in ops}
        by_bid = {str(a.get("bId")): a for a in answers if isinstance(a, dict)}
        out = {}
        for op in ops:
            answer = by_bid.get(str(op.seq))
            if answer is None:
                out[op.seq] = Outcome(op.seq, "not processed")
                continue
            item_type, item_entries = parse_fault(answer)
            if item_entries:
                out[op.seq] = Outcome(op.seq, "failed", error=fault_error(item_entries, item_type, op.kind.value,
                                                                          _record(op), resp.intuit_tid))
                continue
            entity = answer.get(ENTITIES[op.kind])
            if not isinstance(entity, dict):
                out[op.seq] = Outcome(op.seq, "failed", error=QboFault(
                    [FaultEntry("0", "QuickBooks Online answered without the record", json.dumps(
                        sorted(answer)))], "", "synchronize again; booksync checks what was written", _record(op)))
                continue
            if op.action is Action.DELETE:
                out[op.seq] = Outcome(op.seq, "done", remote_id=op.remote_id or str(entity.get("Id", "")))
                continue
            name = ""
            if op.kind is Kind.CUSTOMER:
                name = entity.get("FullyQualifiedName") or entity.get("DisplayName", "")
            elif op.kind in (Kind.ITEM, Kind.PAYMENT_METHOD):
                name = entity.get("FullyQualifiedName") or entity.get("Name", "")
            out[op.seq] = Outcome(op.seq, "done", remote_id=str(entity.get("Id", "")),
                                  edit_sequence=str(entity.get("SyncToken", "")), name=name)
        return out

    def _current(self, ops: list[Operation], resolve: Resolver) -> dict[str, Any]:
        """What must be read just before sending ``ops``: the SyncTokens of records changed without one
        (deletes, voids, a deposit put back after its first change), the deposits being changed (their
        lines kept as they are must be sent whole: lines are all-or-none, reference §2) and the amounts of
        the payments put back into a deposit."""
        out: dict[str, Any] = {"tokens": {}, "deposits": {}, "payments": {}, "credit_memos": {}}
        by_kind: dict[Kind, set[str]] = {}
        payments: set[str] = set()
        for op in ops:
            if not op.remote_id:
                continue
            if op.kind is Kind.DEPOSIT and isinstance(op.payload, DepositData):
                by_kind.setdefault(Kind.DEPOSIT, set()).add(op.remote_id)
                payments |= {_id(ln.payment, resolve) for ln in op.payload.lines if ln.payment is not None}
            elif op.kind is Kind.CREDIT_MEMO and op.action is Action.VOID:
                by_kind.setdefault(Kind.CREDIT_MEMO, set()).add(op.remote_id)  # its lines are zeroed
            elif op.action is not Action.ADD and not op.edit_sequence:
                by_kind.setdefault(op.kind, set()).add(op.remote_id)
        for kind, ids in by_kind.items():
            if kind in TRANSACTION_KINDS:
                rows = list(self._read(kind, sorted(ids)))
            else:
                entity = ENTITIES[kind]
                rows = [self.client.get(f"{entity.lower()}/{rid}").get(entity) or {} for rid in sorted(ids)]
            for row in rows:
                out["tokens"][str(row.get("Id"))] = str(row.get("SyncToken", ""))
                if kind is Kind.DEPOSIT:
                    out["deposits"][str(row.get("Id"))] = row
                elif kind is Kind.CREDIT_MEMO:
                    out["credit_memos"][str(row.get("Id"))] = row
        if payments:
            out["payments"] = {str(r["Id"]): qbo_json.money(r.get("TotalAmt")) for r in self._read(Kind.PAYMENT,
                                                                                                  sorted(payments))}
        return out

    def _chunks(self, ops: list[Operation]) -> list[list[Operation]]:
        return [ops[i:i + self.batch_size] for i in range(0, len(ops), self.batch_size)]

    # ------------------------------------------------------------------ payload → JSON

    def _item(self, op: Operation, resolve: Resolver, sync_token: str,
              current: dict[str, Any] | None) -> dict[str, Any] | None:
        """The BatchItemRequest of ``op``, or None when QuickBooks Online's API cannot do it. ``current`` is what
        :meth:`_current` read (None when rendering: what would be read shows as "(current)")."""
        entity = ENTITIES[op.kind]
        bid = str(op.seq)
        if op.action is Action.ADD:
            return {"bId": bid, "operation": "create", entity: self._body(op, resolve, create=True)}
        ident = {"Id": op.remote_id, "SyncToken": sync_token}
        if op.kind is Kind.DEPOSIT and op.action is Action.MOD:
            return {"bId": bid, "operation": "update",
                    entity: {**ident, "sparse": True, **deposit_body(op, resolve, current)}}
        if op.action is Action.MOD:
            return {"bId": bid, "operation": "update",
                    entity: {**ident, "sparse": True, **self._body(op, resolve, create=False)}}
        if op.action is Action.VOID:
            if op.kind is Kind.INVOICE:
                return {"bId": bid, "operation": "update", "optionsData": "void", entity: ident}
            if op.kind is Kind.PAYMENT:
                return {"bId": bid, "operation": "update", "optionsData": "void", entity: {**ident, "sparse": True}}
            if op.kind is Kind.CREDIT_MEMO:
                return {"bId": bid, "operation": "update",
                        entity: {**ident, "sparse": True, **void_credit_memo_body(op, current)}}
            return None
        if op.kind in TRANSACTION_KINDS:
            return {"bId": bid, "operation": "delete", entity: ident}
        return None

    def _body(self, op: Operation, resolve: Resolver, create: bool) -> dict[str, Any]:
        p = op.payload
        if isinstance(p, CustomerData):
            return customer_body(p, create)
        if isinstance(p, ItemData):
            return {"Name": p.name, "Description": p.description, "Type": "Service",
                    "IncomeAccountRef": {"value": _id(p.account, resolve)}}
        if isinstance(p, PaymentMethodData):
            return {"Name": p.name, "Type": "CREDIT_CARD" if p.method_type in CARD_METHODS else "NON_CREDIT_CARD"}
        if isinstance(p, SalesData):
            return self.sales_body(op.kind, p, resolve, create)
        if isinstance(p, PaymentData):
            return payment_body(p, resolve, create)
        raise TypeError(f"no QuickBooks Online JSON for {type(p).__name__}")

    def sales_body(self, kind: Kind, s: SalesData, resolve: Resolver, create: bool) -> dict[str, Any]:
        """Invoice or CreditMemo JSON: SalesItemLineDetail lines with ItemRef, Qty and UnitPrice (Intuit Invoice page)."""
        body: dict[str, Any] = {"CustomerRef": {"value": _id(s.customer, resolve)}, "TxnDate": s.date.isoformat()}
        memo = s.memo
        if s.ref_number and self.custom_txn_numbers:
            body["DocNumber"] = s.ref_number
        elif s.ref_number:
            memo = f"{s.ref_number}: {memo}" if memo else s.ref_number
        if kind is Kind.INVOICE and s.due_date:
            body["DueDate"] = s.due_date.isoformat()
        note = private_note(memo, s.external_guid)
        if note or not create:
            body["PrivateNote"] = note
        body["Line"] = [{"DetailType": "SalesItemLineDetail", "Amount": line.amount.quantize(CENT),
                         **({"Description": line.description} if line.description else {}),
                         "SalesItemLineDetail": {"ItemRef": {"value": _id(line.item, resolve)},
                                                 "Qty": line.quantity, "UnitPrice": line.rate}}
                        for line in s.lines]
        return body

    # ------------------------------------------------------------------ the record of what was written, backup

    def _remember(self, done: list[tuple[Operation, Outcome]]) -> None:
        if self.ledger is None:
            return
        rows = [{"kind": op.kind.value, "id": out.remote_id, "action": op.action.value, "at": time.time()}
                for op, out in done if out.status == "done" and op.action is Action.ADD
                and op.kind in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.PAYMENT)]
        if rows:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            with self.ledger.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)

    def backup(self, target: str) -> str | None:
        """Write a JSON export into folder ``target``; return its path.

        QuickBooks Online cannot be backed up or restored through the Accounting API. The export holds
        the company information, preferences and every list as read for this run, and the current state
        of every transaction booksync created in this company (from the port's ledger,
        ``online/written-REALM.jsonl``): enough to see what booksync's records looked like before the run,
        not a restorable copy of the company (use Intuit's own backup for that).
        """
        if not self._raw:
            self.snapshot()
        written: dict[Kind, set[str]] = {}
        if self.ledger is not None and self.ledger.exists():
            for line in self.ledger.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    written.setdefault(Kind(row["kind"]), set()).add(str(row["id"]))
                except (ValueError, KeyError):
                    continue
        transactions = {ENTITIES[kind]: list(self._read(kind, sorted(ids))) for kind, ids in written.items()}
        path = Path(target) / f"quickbooks-online-{self.realm_id}.json"
        export = {"exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "realm_id": self.realm_id,
                  "note": "A JSON export, not a backup: QuickBooks Online cannot be restored from it.",
                  **self._raw, "transactions_written_by_booksync": transactions}
        path.write_text(qbo_json.dumps(export, indent=1), encoding="utf-8")
        return str(path)


# ---------------------------------------------------------------------- helpers


def request_id(ops: list[Operation]) -> str:
    """The ``requestid`` of a batch carrying ``ops`` (≤ 36 characters for batches; reference §4).

    One operation: its ExternalGUID without braces (stable across runs for a create). Several: a uuid5
    of every operation's GUID, action and SyncToken, so the same operations retried give the same id.
    """
    guids = [_guid(op) for op in ops]
    if len(ops) == 1 and ops[0].action is Action.ADD:
        return guids[0]
    text = "|".join(f"{op.action.value}:{g}:{op.edit_sequence or ''}" for op, g in zip(ops, guids))
    return str(uuid.uuid5(_REQUEST_NS, text))


def _guid(op: Operation) -> str:
    guid = getattr(op.payload, "external_guid", "") or ""
    if not guid:
        # Items and payment methods carry no ExternalGUID; the kind and local id identify them as stably.
        guid = str(uuid.uuid5(_REQUEST_NS, f"{op.kind.value}/{op.local_id}/{op.remote_id or ''}"))
    return guid.strip("{}").lower()


def _id(ref: Ref, resolve: Resolver) -> str:
    return ref.remote_id or resolve(ref) or placeholder(ref)


def _record(op: Operation) -> str:
    return f"{op.kind.label} {op.number}"


def _unsupported(op: Operation) -> str:
    action, _, kind = operation_words(op.action, op.kind).partition(" ")
    return (f"QuickBooks Online cannot {action} a {kind}: make it inactive in QuickBooks Online "
            "instead")


def customer_body(c: CustomerData, create: bool) -> dict[str, Any]:
    """Customer JSON (Intuit Customer page). An update sends every field booksync manages, empty ones as "",
    so a value removed in the billing store is removed in QuickBooks Online too (sparse update)."""
    body: dict[str, Any] = {"DisplayName": c.name, "Active": c.is_active}
    for key, value in (("CompanyName", c.company_name), ("GivenName", c.first_name), ("FamilyName", c.last_name)):
        if value or not create:
            body[key] = value
    address = {"Line1": c.address.line1, "Line2": c.address.line2, "City": c.address.city,
               "CountrySubDivisionCode": c.address.state, "PostalCode": c.address.postal_code}
    if create:
        address = {k: v for k, v in address.items() if v}
    if address:
        body["BillAddr"] = address
    if c.phone or not create:
        body["PrimaryPhone"] = {"FreeFormNumber": c.phone}
    if c.email or not create:
        body["PrimaryEmailAddr"] = {"Address": c.email}
    if create and c.account_number:
        # QuickBooks Online customers have no account number field: the member number goes in the notes.
        body["Notes"] = f"Member number {c.account_number}"
    return body


def payment_body(p: PaymentData, resolve: Resolver, create: bool) -> dict[str, Any]:
    """Payment JSON (Intuit Payment page): one line per invoice paid, linked with TxnType Invoice, its
    Amount the cash and credits applied to it; one line per credit memo applied, TxnType CreditMemo.
    ``TotalAmt`` is the cash received: invoice lines − credit memo lines ≤ TotalAmt, the rest unapplied."""
    lines: list[dict[str, Any]] = []
    for app in p.applications:
        credit = sum((c.amount for c in app.credits), Decimal("0.00"))
        if app.amount + credit > 0:
            lines.append({"Amount": (app.amount + credit).quantize(CENT),
                          "LinkedTxn": [{"TxnId": _id(app.invoice, resolve), "TxnType": "Invoice"}]})
        for c in app.credits:
            if c.amount > 0:
                lines.append({"Amount": c.amount.quantize(CENT),
                              "LinkedTxn": [{"TxnId": _id(c.credit_memo, resolve), "TxnType": "CreditMemo"}]})
    body: dict[str, Any] = {"CustomerRef": {"value": _id(p.customer, resolve)}, "TxnDate": p.date.isoformat(),
                            "TotalAmt": p.total.quantize(CENT),
                            "DepositToAccountRef": {"value": _id(p.deposit_to, resolve)}}
    if p.ref_number or not create:
        body["PaymentRefNum"] = p.ref_number
    if p.method is not None:
        body["PaymentMethodRef"] = {"value": _id(p.method, resolve)}
    note = private_note(p.memo, p.external_guid)
    if note or not create:
        body["PrivateNote"] = note
    # Lines are all-or-none: an update always sends the full list (an empty one removes every application).
    body["Line"] = lines
    return body


def marker(external_guid: str) -> str:
    """booksync's mark on a transaction it created, kept in PrivateNote (≤ 4000, not shown to customers;
    reference §9): it lets :meth:`OnlineBooks.find_added` recognise the record after a lost answer."""
    return f"[booksync {external_guid.strip('{}').upper()}]"


def private_note(memo: str, external_guid: str) -> str:
    """The PrivateNote of a transaction: the memo, then booksync's marker on its own line."""
    if not external_guid:
        return memo
    return f"{memo}\n{marker(external_guid)}" if memo else marker(external_guid)


def _placeholder_payment(memo: str) -> str:
    """The payment Id a deposit line stands for while that payment is corrected (domain.PLACEHOLDER_MEMO), or ""."""
    prefix, suffix = PLACEHOLDER_MEMO.split("{txn_id}")
    if memo and memo.startswith(prefix) and memo.endswith(suffix):
        return memo[len(prefix):len(memo) - len(suffix)]
    return ""


def deposit_line_key(line: dict[str, Any], n: int) -> str:
    """The id booksync keeps a deposit line by: its ``Id``; for a line without one (a linked line: QuickBooks
    Online returns the payment's line as ``{Amount, LinkedTxn}`` with no Id, e.g. ruckus/quickbooks-ruby
    spec/fixtures/deposit.xml and fetch_deposit_by_id.xml), the transaction it links ("linked-Payment-154"),
    else its position ("line-3"). Never one of QuickBooks' own Ids, so two lines never share a key."""
    if line.get("Id") not in (None, ""):
        return str(line["Id"])
    linked = next(iter(line.get("LinkedTxn") or []), None)
    if isinstance(linked, dict) and linked.get("TxnId"):
        return f"linked-{linked.get('TxnType', '')}-{linked['TxnId']}"
    return f"line-{n}"


def deposit_of(row: dict[str, Any]) -> QBDeposit:
    """A QuickBooks Online Deposit as the engine's :class:`QBDeposit`: linked lines name their payment,
    direct lines (DepositLineDetail) their entity, account and Description (the memo); each line's
    ``line_id`` is :func:`deposit_line_key`."""
    lines = []
    for n, line in enumerate(row.get("Line") or [], 1):
        payment = next((str(t.get("TxnId", "")) for t in line.get("LinkedTxn") or []
                        if t.get("TxnType") == "Payment"), "")
        detail = line.get("DepositLineDetail") or {}
        lines.append(QBDepositLine(line_id=deposit_line_key(line, n), payment_id=payment,
                                   entity_id=_ref_value(detail.get("Entity")),
                                   account_id=_ref_value(detail.get("AccountRef")),
                                   amount=qbo_json.money(line.get("Amount")), memo=line.get("Description") or ""))
    account = row.get("DepositToAccountRef") or {}
    return QBDeposit(txn_id=str(row["Id"]), edit_sequence=str(row.get("SyncToken", "")), date=row.get("TxnDate", ""),
                     account_id=_ref_value(account), account_name=account.get("name", "") if isinstance(account, dict)
                     else "", total=qbo_json.money(row.get("TotalAmt")), lines=tuple(lines))


def void_credit_memo_body(op: Operation, current: dict[str, Any] | None) -> dict[str, Any]:
    """The sparse update that voids a credit memo: QuickBooks Online's API has no void operation for CreditMemo
    (reference §3.6), so booksync does what its void does to invoices and payments (reference §1, §3.3): the
    document is kept, every SalesItemLine is sent back with its Id, Amount 0.00 and Qty 0 (UnitPrice kept, so
    Qty × UnitPrice = Amount) and "Voided - " is put before the PrivateNote (booksync's marker stays in it).
    Lines are all-or-none (reference §2): every line is sent. ``current`` is None when rendering."""
    if current is None:
        return {"Line": "(current lines, each with Amount 0.00 and Qty 0)", "PrivateNote": "Voided - (current)"}
    row = current["credit_memos"].get(op.remote_id or "")
    if row is None:
        raise QboFault([FaultEntry("610", "Object Not Found",
                                   f"credit memo {op.remote_id} is no longer in QuickBooks Online")],
                       "", "it was deleted in QuickBooks Online meanwhile: synchronize again", _record(op))
    lines = []
    for line in row.get("Line") or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue  # SubTotalLine and the like are computed by QuickBooks Online
        detail = dict(line.get("SalesItemLineDetail") or {})
        detail["Qty"] = Decimal("0")
        lines.append({**({"Id": str(line["Id"])} if line.get("Id") else {}), "DetailType": "SalesItemLineDetail",
                      "Amount": Decimal("0.00"), **({"Description": line["Description"]} if line.get("Description")
                                                    else {}), "SalesItemLineDetail": detail})
    note = row.get("PrivateNote") or ""
    if not note.startswith("Voided"):
        memo, _, mark = note.rpartition("\n") if note.endswith("]") and "\n[booksync " in note else (note, "", "")
        tail = f"\n{mark}" if mark else ""
        note = f"Voided - {memo}".rstrip(" -")[:PRIVATE_NOTE_MAX - len(tail)] + tail  # PrivateNote ≤ 4000 (§4)
    return {"Line": lines, "PrivateNote": note}


def deposit_body(op: Operation, resolve: Resolver, current: dict[str, Any] | None) -> dict[str, Any]:
    """The Line list of a Deposit update (DepositData): every line to keep is sent whole, with its Id, as
    QuickBooks Online holds it (lines left out are removed; reference §2); a payment put back is a linked
    line ``{Amount, LinkedTxn: [{TxnId, TxnType: "Payment", TxnLineId: "0"}]}`` with no DetailType
    (reference §3.4, rule of thumb 4); a line holding a payment's place is a DepositLineDetail line.
    ``current`` is None when rendering (what is read before sending shows as "(current)")."""
    data: DepositData = op.payload
    existing = {}
    amounts: dict[str, Any] = {}
    if current is not None:
        row = current["deposits"].get(op.remote_id or "") or {}
        existing = {deposit_line_key(ln, n): ln for n, ln in enumerate(row.get("Line") or [], 1)}
        amounts = current["payments"]
    lines: list[dict[str, Any]] = []
    for ln in data.lines:
        if ln.payment is not None:
            pid = _id(ln.payment, resolve)
            lines.append({"Amount": amounts.get(pid, "(current)"),
                          "LinkedTxn": [{"TxnId": pid, "TxnType": "Payment", "TxnLineId": "0"}]})
        elif ln.account is not None:
            detail: dict[str, Any] = {"AccountRef": {"value": _id(ln.account, resolve)}}
            if ln.entity is not None:
                detail["Entity"] = {"value": _id(ln.entity, resolve)}
            lines.append({"Amount": (ln.amount or Decimal("0.00")).quantize(CENT), "DetailType": "DepositLineDetail",
                          **({"Description": ln.memo} if ln.memo else {}), "DepositLineDetail": detail})
        elif current is None:
            lines.append({"(kept as it is)": ln.line_id})
        elif ln.line_id in existing:
            lines.append(existing[ln.line_id])
        else:
            raise QboFault([FaultEntry("0", "Deposit line not found",
                                       f"line {ln.line_id} of deposit {op.remote_id} is no longer in QuickBooks Online")],
                           "", "the deposit was changed in QuickBooks Online meanwhile: synchronize again",
                           _record(op))
    return {"Line": lines}
