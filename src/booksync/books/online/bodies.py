"""The engine's operations as QuickBooks Online Accounting API JSON: each payload's create or sparse update body
(Intuit Customer, Item, PaymentMethod, Invoice, CreditMemo, SalesReceipt, Payment and Deposit pages), the batch item that carries
it, voids and deletes, and booksync's marker in PrivateNote. Facts and sources: reference/quickbooks-online.md.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from booksync.books.online.errors import FaultEntry, QboFault
from booksync.books.online.records import deposit_line_key
from booksync.books.port import Resolver
from booksync.domain import (Action, CustomerData, DepositData, ItemData, Kind, LineData, Operation, PaymentData,
                             PaymentMethodData, Ref, SalesData, SalesReceiptData, operation_words)
from booksync.kinds import TRANSACTIONS, spec
from booksync.money import CENT

PRIVATE_NOTE_MAX = 4000
"""PrivateNote's limit (Intuit Invoice and Payment pages; reference §4)."""
CARD_METHODS = {"Visa", "MasterCard", "AmericanExpress", "Discover", "OtherCreditCard"}
"""qbXML PaymentMethodType values that are credit cards; QuickBooks Online knows only CREDIT_CARD / NON_CREDIT_CARD."""


def placeholder(ref: Ref) -> str:
    """The stand-in Id written into staged files for a record created earlier in the same run."""
    return f"pending-{ref.kind}-{ref.local_id}"


def ref_id(ref: Ref, resolve: Resolver) -> str:
    """The Id a reference names: its own, the one the run has for a record it created, or the placeholder."""
    return ref.remote_id or resolve(ref) or placeholder(ref)


def record_label(op: Operation) -> str:
    """The record an operation is about, in words ("invoice 1042"), for refusals."""
    return f"{op.kind.label} {op.number}"


def unsupported(op: Operation) -> str:
    """Why QuickBooks Online's API cannot do ``op`` (e.g. delete a customer) and what to do instead."""
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
                          "LinkedTxn": [{"TxnId": ref_id(app.invoice, resolve), "TxnType": "Invoice"}]})
        for c in app.credits:
            if c.amount > 0:
                lines.append({"Amount": c.amount.quantize(CENT),
                              "LinkedTxn": [{"TxnId": ref_id(c.credit_memo, resolve), "TxnType": "CreditMemo"}]})
    body: dict[str, Any] = {"CustomerRef": {"value": ref_id(p.customer, resolve)}, "TxnDate": p.date.isoformat(),
                            "TotalAmt": p.total.quantize(CENT),
                            "DepositToAccountRef": {"value": ref_id(p.deposit_to, resolve)}}
    if p.ref_number or not create:
        body["PaymentRefNum"] = p.ref_number
    if p.method is not None:
        body["PaymentMethodRef"] = {"value": ref_id(p.method, resolve)}
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
                       "", "it was deleted in QuickBooks Online meanwhile: synchronize again", record_label(op))
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
            pid = ref_id(ln.payment, resolve)
            txn_type = spec(ln.payment.kind).online_entity  # Payment or SalesReceipt (reference §3.4)
            lines.append({"Amount": amounts.get(pid, "(current)"),
                          "LinkedTxn": [{"TxnId": pid, "TxnType": txn_type, "TxnLineId": "0"}]})
        elif ln.account is not None:
            detail: dict[str, Any] = {"AccountRef": {"value": ref_id(ln.account, resolve)}}
            if ln.entity is not None:
                detail["Entity"] = {"value": ref_id(ln.entity, resolve)}
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
                           record_label(op))
    return {"Line": lines}


def batch_item(op: Operation, resolve: Resolver, sync_token: str, current: dict[str, Any] | None,
               custom_txn_numbers: bool = True) -> dict[str, Any] | None:
    """The BatchItemRequest of ``op``, or None when QuickBooks Online's API cannot do it. ``current`` is what
    :meth:`OnlineBooks._current <booksync.books.online.adapter.OnlineBooks._current>` read (None when rendering:
    what would be read shows as "(current)"); ``custom_txn_numbers``: the company's CustomTxnNumbers preference
    (whether DocNumber may be sent)."""
    entity = spec(op.kind).online_entity
    bid = str(op.seq)
    if op.action is Action.ADD:
        return {"bId": bid, "operation": "create", entity: _body(op, resolve, True, custom_txn_numbers)}
    ident = {"Id": op.remote_id, "SyncToken": sync_token}
    if op.kind is Kind.DEPOSIT and op.action is Action.MOD:
        return {"bId": bid, "operation": "update",
                entity: {**ident, "sparse": True, **deposit_body(op, resolve, current)}}
    if op.action is Action.MOD:
        return {"bId": bid, "operation": "update",
                entity: {**ident, "sparse": True, **_body(op, resolve, False, custom_txn_numbers)}}
    if op.action is Action.VOID:
        if op.kind is Kind.INVOICE:
            return {"bId": bid, "operation": "update", "optionsData": "void", entity: ident}
        if op.kind in (Kind.PAYMENT, Kind.SALES_RECEIPT):  # update&include=void, sparse (reference §3.6)
            return {"bId": bid, "operation": "update", "optionsData": "void", entity: {**ident, "sparse": True}}
        if op.kind is Kind.CREDIT_MEMO:
            return {"bId": bid, "operation": "update",
                    entity: {**ident, "sparse": True, **void_credit_memo_body(op, current)}}
        return None
    if op.kind in TRANSACTIONS:
        return {"bId": bid, "operation": "delete", entity: ident}
    return None

def _body(op: Operation, resolve: Resolver, create: bool, custom_txn_numbers: bool) -> dict[str, Any]:
    p = op.payload
    if isinstance(p, CustomerData):
        return customer_body(p, create)
    if isinstance(p, ItemData):
        return {"Name": p.name, "Description": p.description, "Type": "Service",
                "IncomeAccountRef": {"value": ref_id(p.account, resolve)}}
    if isinstance(p, PaymentMethodData):
        return {"Name": p.name, "Type": "CREDIT_CARD" if p.method_type in CARD_METHODS else "NON_CREDIT_CARD"}
    if isinstance(p, SalesData):
        return sales_body(op.kind, p, resolve, create, custom_txn_numbers)
    if isinstance(p, SalesReceiptData):
        return receipt_body(p, resolve, create, custom_txn_numbers)
    if isinstance(p, PaymentData):
        return payment_body(p, resolve, create)
    raise TypeError(f"no QuickBooks Online JSON for {type(p).__name__}")

def sales_body(kind: Kind, s: SalesData, resolve: Resolver, create: bool, custom_txn_numbers: bool = True
               ) -> dict[str, Any]:
    """Invoice or CreditMemo JSON: SalesItemLineDetail lines with ItemRef, Qty and UnitPrice (Intuit Invoice page).
    Without ``custom_txn_numbers`` the reference number goes before the memo instead of into DocNumber."""
    body: dict[str, Any] = {"CustomerRef": {"value": ref_id(s.customer, resolve)}, "TxnDate": s.date.isoformat()}
    memo = s.memo
    if s.ref_number and custom_txn_numbers:
        body["DocNumber"] = s.ref_number
    elif s.ref_number:
        memo = f"{s.ref_number}: {memo}" if memo else s.ref_number
    if kind is Kind.INVOICE and s.due_date:
        body["DueDate"] = s.due_date.isoformat()
    note = private_note(memo, s.external_guid)
    if note or not create:
        body["PrivateNote"] = note
    body["Line"] = [sales_line(line, resolve) for line in s.lines]
    return body


def receipt_body(r: SalesReceiptData, resolve: Resolver, create: bool, custom_txn_numbers: bool = True
                 ) -> dict[str, Any]:
    """SalesReceipt JSON (Intuit SalesReceipt page): SalesItemLineDetail lines as an invoice's, the money to
    ``DepositToAccountRef`` (Undeposited Funds or a bank account; QuickBooks Online takes Undeposited Funds when it
    is left out), ``PaymentMethodRef``, ``PaymentRefNum`` (the check number or confirmation, at most 21).
    ``TotalAmt`` is computed by QuickBooks Online from the lines. DocNumber and PrivateNote as :func:`sales_body`."""
    body: dict[str, Any] = {"CustomerRef": {"value": ref_id(r.customer, resolve)}, "TxnDate": r.date.isoformat(),
                            "DepositToAccountRef": {"value": ref_id(r.deposit_to, resolve)}}
    memo = r.memo
    if r.ref_number and custom_txn_numbers:
        body["DocNumber"] = r.ref_number
    elif r.ref_number:
        memo = f"{r.ref_number}: {memo}" if memo else r.ref_number
    if r.method is not None:
        body["PaymentMethodRef"] = {"value": ref_id(r.method, resolve)}
    if r.check_number or not create:
        body["PaymentRefNum"] = r.check_number
    note = private_note(memo, r.external_guid)
    if note or not create:
        body["PrivateNote"] = note
    body["Line"] = [sales_line(line, resolve) for line in r.lines]
    return body


def sales_line(line: LineData, resolve: Resolver) -> dict[str, Any]:
    """One sale's line, for every kind that has them: a SalesItemLine with ItemRef, Qty, UnitPrice and, when the
    line has a class, ClassRef (Intuit's Invoice page, SalesItemLineDetail.ClassRef)."""
    detail: dict[str, Any] = {"ItemRef": {"value": ref_id(line.item, resolve)}, "Qty": line.quantity,
                              "UnitPrice": line.rate}
    if line.class_ref is not None:
        detail["ClassRef"] = {"value": ref_id(line.class_ref, resolve)}
    return {"DetailType": "SalesItemLineDetail", "Amount": line.amount.quantize(CENT),
            **({"Description": line.description} if line.description else {}), "SalesItemLineDetail": detail}
