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
from pathlib import Path
from typing import Any, Iterable, Iterator

from booksync.books.online import payloads as qbo_json
from booksync.books.online.bodies import batch_item, marker, record_label, ref_id, unsupported
from booksync.books.online.errors import FaultEntry, QboFault, QboThrottled, QboUnsupported, fault_error, parse_fault
from booksync.books.online.records import account_of, date_of, deposit_of, placeholder_payment, ref_value, remote_txn
from booksync.books.online.transport import QboClient, quote
from booksync.books.online.undo_bodies import deactivate_body, restore_body
from booksync.books.port import Outcome, RemoteTxn, Resolver
from booksync.domain import (Action, DepositData, Kind, Operation, QBCompany, QBCustomer, QBDeposit, QBListEntry,
                             QBSnapshot)
from booksync.fields import Limits
from booksync.kinds import BILLED_TRANSACTIONS, KINDS, TRANSACTIONS

log = logging.getLogger("booksync.online")

MAX_BATCH = 30
"""Operations per batch request (Intuit Batch page; other Intuit posts say 10 or 50: reference §5)."""

ONLINE_LIMITS = Limits(
    # Intuit entity pages (Customer, Item, PaymentMethod, Invoice, Payment); reference §4.
    customer_name=100, company_name=100, first_name=100, last_name=100, address_line=500, city=255, state=255,
    postal_code=30, phone=30, email=100, account_number=99, item_name=100, payment_method_name=31,
    # PrivateNote holds 4000; 3950 leaves room for booksync's marker line ("[booksync GUID]", see marker()).
    invoice_ref_number=21, payment_ref_number=21, memo=3950, line_description=4000, check_number=21,
    # Item Description and Customer Notes: 4000 and 2000 (Intuit Item and Customer pages; not in the reference,
    # which lists no limit for them; the test double enforces the same, 2050 beyond).
    item_description=4000, customer_notes=2000,
    # QuickBooks Online stores UTF-8: nothing is transliterated.
    latin1_only=False)

ENTITIES = {row.kind: row.online_entity for row in KINDS}
"""QuickBooks Online's entity of each kind (:mod:`booksync.kinds`)."""
TRANSACTION_KINDS = TRANSACTIONS
RECENT_DAYS = 30
"""How far back :meth:`OnlineBooks.find_added` looks for a booksync marker when no query filter finds the record."""

_REQUEST_NS = uuid.UUID("3b0e8f0c-5a8e-4d3f-9a57-1d0f7f4e2c11")


class OnlineBooks:
    """The books port for QuickBooks Online (see :class:`booksync.books.port.BooksPort` and the module docstring).

    ``client`` talks to one realm; ``ledger`` (a JSON-lines file) records the transactions this port
    created, for :meth:`backup`.
    """

    limits = ONLINE_LIMITS
    request_suffix = ".json"
    deletes_lists = False
    """QuickBooks Online cannot delete customers, items or payment methods (reference §3.6): ``booksync runs undo``
    makes those a run added inactive (:meth:`deactivate`)."""
    version_name = "SyncToken"
    deposits_window = ("in QuickBooks Online (find the deposit with Search or in the bank account's register, open it "
                       "and remove the payment's line)")
    """Where a person changes a deposit in QuickBooks Online (Desktop's is Banking > Make Deposits), for advice."""
    copies_company = False
    """booksync cannot copy a QuickBooks Online company (the Accounting API has no backup); an undo's backup is the
    run's pre-images."""

    def __init__(self, client: QboClient, realm_id: str, batch_size: int = MAX_BATCH, ledger: Path | None = None,
                 environment: str = "") -> None:
        self.client = client
        self.realm_id = realm_id
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH))
        self.ledger = ledger
        self.environment = environment
        self.custom_txn_numbers = True
        self._raw: dict[str, Any] = {}
        self._removed_counts: dict[tuple[str, int], int] | None = None
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
               for name in ("Account", "Item", "PaymentMethod", "Customer", "Vendor", "Employee", "Class")}
        self._raw = {"CompanyInfo": info, "Preferences": prefs, **raw}
        company = QBCompany(
            name=info.get("CompanyName", ""),
            closing_date=date_of((prefs.get("AccountingInfoPrefs") or {}).get("BookCloseDate")),
            product=f"QuickBooks Online ({self.environment or 'api'}, minorversion {self.client.minorversion})",
            first_fiscal_month=info.get("FiscalYearStartMonth") or "January",
            uses_classes=bool((prefs.get("AccountingInfoPrefs") or {}).get("ClassTrackingPerTxnLine")))
        accounts = [account_of(a) for a in raw["Account"]]
        items = [QBListEntry(list_id=str(i["Id"]), name=i.get("FullyQualifiedName") or i.get("Name", ""),
                             kind=i.get("Type", "Service"), is_active=bool(i.get("Active", True)),
                             account_list_id=ref_value(i.get("IncomeAccountRef")))
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
        classes = [QBListEntry(list_id=str(c["Id"]), name=c.get("FullyQualifiedName") or c.get("Name", ""),
                               kind="Class", is_active=bool(c.get("Active", True))) for c in raw["Class"]]
        self._snapshot = QBSnapshot(company, accounts, items, methods, customers, others, classes=classes)
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
        return {str(row["Id"]): remote_txn(kind, row) for row in self._read(Kind(kind), remote_ids)}

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
                held = placeholder_payment(line.memo)
                if held:
                    out.setdefault(held, deposit)
        return out

    def deposits(self, txn_ids: list[str]) -> list[QBDeposit]:
        """The deposits with these Ids that still exist, with their lines (:func:`deposit_of`)."""
        return [deposit_of(row) for row in self._read(Kind.DEPOSIT, txn_ids)]

    def find_added(self, kind: str, ref: str, external_guid: str) -> tuple[str, str, str] | None:
        """Find a record booksync added whose answer was lost: (Id, SyncToken, name), or None.

        Customers by DisplayName, items and payment methods by Name (unique in QuickBooks Online);
        invoices, credit memos and sales receipts by DocNumber; payments by PaymentRefNum. A transaction must also carry
        booksync's marker for ``external_guid`` in its PrivateNote. When the filter is refused or finds
        nothing for a payment (or a document sent without DocNumber), the transactions created in the last
        ``RECENT_DAYS`` days are searched for the marker.
        """
        k = Kind(kind)
        mark = marker(external_guid) if external_guid else ""
        field = {Kind.CUSTOMER: "DisplayName", Kind.ITEM: "Name", Kind.PAYMENT_METHOD: "Name",
                 Kind.INVOICE: "DocNumber", Kind.CREDIT_MEMO: "DocNumber", Kind.SALES_RECEIPT: "DocNumber",
                 Kind.PAYMENT: "PaymentRefNum"}.get(k)
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
        scan = k is Kind.PAYMENT or (k in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.SALES_RECEIPT)
                                     and not self.custom_txn_numbers)
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
                item = batch_item(op, resolve, op.edit_sequence or "(current)", None, self.custom_txn_numbers)
                items.append(item if item is not None else {"bId": str(op.seq), "not sent": unsupported(op)})
            batches.append({"requestid": request_id(chunk, self._removed()), "BatchItemRequest": items})
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
                    item = batch_item(op, resolve, token, current, self.custom_txn_numbers)
                except QboFault as exc:
                    outcomes[op.seq] = Outcome(op.seq, "failed", error=exc)
                    stop = True
                    continue
                if item is None:
                    outcomes[op.seq] = Outcome(op.seq, "failed", error=QboUnsupported(
                        [FaultEntry("0", "Unsupported operation", unsupported(op))], "", unsupported(op),
                        record_label(op)))
                    stop = True
                    continue
                items.append(item)
                sendable.append(op)
            if not sendable:
                continue
            try:
                resp = self.client.post("batch", {"BatchItemRequest": items},
                                        {"requestid": request_id(sendable, self._removed())},
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
                                                                        record_label(op), resp.intuit_tid))
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
                                                                          record_label(op), resp.intuit_tid))
                continue
            entity = answer.get(ENTITIES[op.kind])
            if not isinstance(entity, dict):
                out[op.seq] = Outcome(op.seq, "failed", error=QboFault(
                    [FaultEntry("0", "QuickBooks Online answered without the record", json.dumps(
                        sorted(answer)))], "", "synchronize again; booksync checks what was written", record_label(op)))
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
        payments: dict[Kind, set[str]] = {}
        for op in ops:
            if not op.remote_id:
                continue
            if op.kind is Kind.DEPOSIT and isinstance(op.payload, DepositData):
                by_kind.setdefault(Kind.DEPOSIT, set()).add(op.remote_id)
                for ln in op.payload.lines:
                    if ln.payment is not None:
                        payments.setdefault(Kind(ln.payment.kind), set()).add(ref_id(ln.payment, resolve))
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
        for kind, ids in payments.items():  # the payments and sales receipts put back into a deposit
            out["payments"].update({str(r["Id"]): qbo_json.money(r.get("TotalAmt"))
                                    for r in self._read(kind, sorted(ids))})
        return out

    def restore(self, kind: str, remote_id: str, version: str, record: str) -> Outcome:
        """Set a customer, invoice, credit memo or payment back to its pre-image (``record``: the entity as JSON,
        :meth:`pre_images`) by one sparse update carrying ``version`` (its current SyncToken; another one is refused
        with 5010). Raises ValueError for a kind it cannot restore (deposits, items, payment methods). A refusal is
        a "failed" :class:`Outcome` with its typed error."""
        return self._write_one(kind, restore_body(kind, remote_id, version, record))

    def deactivate(self, kind: str, remote_id: str, version: str, local_id: int | None = None) -> Outcome:
        """Make a customer, item or payment method inactive (``Active: false``, sparse, carrying ``version``):
        QuickBooks Online cannot delete them (reference §3.6). A refusal is a "failed" :class:`Outcome`. ``local_id``: the
        billing record's id, remembered so that adding it again uses a new requestid (:func:`request_id`)."""
        outcome = self._write_one(kind, deactivate_body(remote_id, version))
        if outcome.status == "done" and local_id is not None:
            self._note_removed([(Kind(kind), local_id)])
        return outcome

    def _write_one(self, kind: str, body: dict[str, Any]) -> Outcome:
        k = Kind(kind)
        entity = ENTITIES[k]
        label = f"{k.label} {body['Id']}"
        try:
            resp = self.client.post(entity.lower(), body)
        except QboFault as exc:  # throttled past the retries
            return Outcome(1, "failed", error=exc)
        fault_type, entries = parse_fault(resp.data)
        if resp.status != 200 or entries or not isinstance(resp.data, dict):
            entries = entries or [FaultEntry(str(resp.status), f"HTTP {resp.status}", str(resp.data)[:300])]
            return Outcome(1, "failed", error=fault_error(entries, fault_type, kind, label, resp.intuit_tid))
        row = resp.data.get(entity) or {}
        return Outcome(1, "done", remote_id=str(body["Id"]), edit_sequence=str(row.get("SyncToken", "")))

    def _chunks(self, ops: list[Operation]) -> list[list[Operation]]:
        return [ops[i:i + self.batch_size] for i in range(0, len(ops), self.batch_size)]

    # ------------------------------------------------------------------ the record of what was written, backup

    def _remember(self, done: list[tuple[Operation, Outcome]]) -> None:
        self._note_removed([(op.kind, op.local_id) for op, out in done
                            if out.status == "done" and op.action is Action.DELETE and op.local_id is not None])
        if self.ledger is None:
            return
        rows = [{"kind": op.kind.value, "id": out.remote_id, "action": op.action.value, "at": time.time()}
                for op, out in done if out.status == "done" and op.action is Action.ADD
                and op.kind in BILLED_TRANSACTIONS]
        if rows:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            with self.ledger.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)

    def _removed(self) -> dict[tuple[str, int], int]:
        """How many times each billing record (kind, local id) was deleted or made inactive in this company, from
        the ledger's "removed" rows: an add after that must not reuse the requestid of the first add, which QuickBooks
        Online would answer from its record (reference §9) with the record that is gone."""
        if self._removed_counts is None:
            self._removed_counts = {}
            if self.ledger is not None and self.ledger.exists():
                for line in self.ledger.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                        if row.get("action") == "removed":
                            key = (str(row["kind"]), int(row["local_id"]))
                            self._removed_counts[key] = self._removed_counts.get(key, 0) + 1
                    except (ValueError, KeyError, TypeError):
                        continue
        return self._removed_counts

    def _note_removed(self, records: list[tuple[Kind, int]]) -> None:
        if not records:
            return
        counts = self._removed()
        for kind, local_id in records:
            counts[(kind.value, local_id)] = counts.get((kind.value, local_id), 0) + 1
        if self.ledger is not None:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            with self.ledger.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps({"kind": kind.value, "local_id": local_id, "action": "removed",
                                         "at": time.time()}) + "\n" for kind, local_id in records)

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
                    if row.get("action") == "removed":
                        continue
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


def request_id(ops: list[Operation], removed: dict[tuple[str, int], int] | None = None) -> str:
    """The ``requestid`` of a batch carrying ``ops`` (≤ 36 characters for batches; reference §4).

    One operation: its ExternalGUID without braces (stable across runs for a create). Several: a uuid5
    of every operation's GUID, action and SyncToken, so the same operations retried give the same id.
    ``removed``: how many times each (kind, local id) was deleted or made inactive (``booksync runs undo``);
    the add of such a record gets a GUID of its own, ``uuid5(GUID/again/N)``, since the first add's requestid
    would be answered with the record that is gone (reference §9).
    """
    guids = [_again(op, _guid(op), removed or {}) for op in ops]
    if len(ops) == 1 and ops[0].action is Action.ADD:
        return guids[0]
    text = "|".join(f"{op.action.value}:{g}:{op.edit_sequence or ''}" for op, g in zip(ops, guids))
    return str(uuid.uuid5(_REQUEST_NS, text))


def _again(op: Operation, guid: str, removed: dict[tuple[str, int], int]) -> str:
    times = removed.get((op.kind.value, op.local_id), 0) if op.action is Action.ADD and op.local_id is not None else 0
    return str(uuid.uuid5(_REQUEST_NS, f"{guid}/again/{times}")) if times else guid


def _guid(op: Operation) -> str:
    guid = getattr(op.payload, "external_guid", "") or ""
    if not guid:
        # Items and payment methods carry no ExternalGUID; the kind and local id identify them as stably.
        guid = str(uuid.uuid5(_REQUEST_NS, f"{op.kind.value}/{op.local_id}/{op.remote_id or ''}"))
    return guid.strip("{}").lower()


