"""The engine's operations as qbXML 13.0 requests (QuickBooks Desktop): each payload's Add or Mod body, voids,
deletes, and the Mod that restores a record from its pre-image. Element names and order: the qbXML 13.0 schema
(qbxmlops130.xsd; :mod:`booksync.qbxml.build` orders children from :mod:`booksync.qbxml.schema`).
"""
from __future__ import annotations

from typing import Any

from lxml import etree

from booksync.books.port import Resolver
from booksync.domain import (Action, ApplicationData, CustomerData, DepositData, ItemData, Kind, LineData,
                             Operation, PaymentData, PaymentMethodData, Ref, SalesData, SalesReceiptData)
from booksync.kinds import KINDS, spec
from booksync.money import fmt
from booksync.qbxml import build
from booksync.qbxml.parse import text

TXN_TYPES = {row.kind: row.qbxml_type for row in KINDS if row.transaction}
"""QuickBooks Desktop's transaction type of each transaction kind (TxnVoidType, TxnDelType, the stem of its
queries and requests), from :mod:`booksync.kinds`."""
LIST_DEL_TYPES = {row.kind: row.qbxml_type for row in KINDS if not row.transaction}
"""ListDelType of the lists booksync adds to (qbxml130.xsd ``ListDelType``), for undoing its adds."""
CUSTOMER_FIELDS = ("Name", "IsActive", "CompanyName", "FirstName", "LastName", "BillAddress", "Phone", "Email",
                   "AccountNumber", "Notes")
"""The customer fields booksync writes (``_customer``): what a restore from a pre-image sets back."""
ADDRESS_FIELDS = ("Addr1", "Addr2", "City", "State", "PostalCode")


def request(op: Operation, resolve: Resolver) -> etree._Element:
    """The qbXML request of ``op`` (requestID = its ``seq``): an Add or Mod of its payload, a TxnVoid, a TxnDel, or
    a ListDel (``booksync runs undo`` of a list record booksync added)."""
    rid = op.seq
    if op.action is Action.DELETE and op.kind in LIST_DEL_TYPES:  # ``booksync runs undo`` of a list add
        return build.request("ListDel", {"ListDelType": LIST_DEL_TYPES[op.kind], "ListID": op.remote_id}, rid)
    if op.action is Action.DELETE:
        return build.request("TxnDel", {"TxnDelType": TXN_TYPES[op.kind], "TxnID": op.remote_id}, rid)
    if op.action is Action.VOID:
        return build.request("TxnVoid", {"TxnVoidType": TXN_TYPES[op.kind], "TxnID": op.remote_id}, rid)
    body = _body(op.payload, resolve)
    if op.kind is Kind.DEPOSIT:
        body = {"TxnID": op.remote_id, "EditSequence": op.edit_sequence, **body}
    elif op.action is Action.MOD:
        body = {"ListID" if op.kind is Kind.CUSTOMER else "TxnID": op.remote_id,
                "EditSequence": op.edit_sequence, **_mod_fields(op.kind, body)}
    elif op.kind in TXN_TYPES:
        body = _add_fields(TXN_TYPES[op.kind], body)
    return build.request(f"{spec(op.kind).qbxml_type}{op.action.value.capitalize()}", body, rid)


def _body(payload: Any, resolve: Resolver) -> dict[str, Any]:
    if isinstance(payload, CustomerData):
        return _customer(payload)
    if isinstance(payload, ItemData):
        return {"Name": payload.name, "SalesOrPurchase": {"Desc": payload.description,
                                                          "AccountRef": _ref(payload.account, resolve)}}
    if isinstance(payload, PaymentMethodData):
        return {"Name": payload.name, "PaymentMethodType": payload.method_type}
    if isinstance(payload, SalesData):
        return _sales(payload, resolve)
    if isinstance(payload, SalesReceiptData):
        return _receipt(payload, resolve)
    if isinstance(payload, PaymentData):
        return _payment(payload, resolve)
    if isinstance(payload, DepositData):
        return {"DepositLineMod": [_deposit_line(line, resolve) for line in payload.lines]}
    raise TypeError(f"no qbXML for {type(payload).__name__}")


def restore_request(kind: str, remote_id: str, version: str, record: str) -> etree._Element:
    """The Mod that sets a customer, invoice, credit memo, sales receipt or payment back to its pre-image (``record``: the Ret
    read before booksync changed it), carrying ``version`` (its current EditSequence): the fields booksync writes,
    the lines (as new lines: QuickBooks gives them new TxnLineIDs) and a payment's applications (cash amounts;
    credits applied are not restored). Raises ValueError for a kind it cannot restore (deposits)."""
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
    elif k in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.SALES_RECEIPT):
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
        if k is Kind.SALES_RECEIPT:
            method = text(ret, "PaymentMethodRef/ListID")
            body.update(CheckNumber=text(ret, "CheckNumber"), PaymentMethodRef={"ListID": method} if method else None,
                        DepositToAccountRef={"ListID": text(ret, "DepositToAccountRef/ListID")})
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
    return build.request(name, body, 1)


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


def sales_line(line: LineData, resolve: Resolver) -> dict[str, Any]:
    """One sale's line, for every kind that has them (InvoiceLineAdd, CreditMemoLineAdd, SalesReceiptLineAdd, and
    their Mods with
    TxnLineID -1): ItemRef, Desc, Quantity, Rate, ClassRef when the line has a class, Amount (qbxmlops130.xsd
    InvoiceLineAdd; the builder puts them in the schema's order)."""
    return {"ItemRef": _ref(line.item, resolve), "Desc": line.description or None, "Quantity": str(line.quantity),
            "Rate": str(line.rate), "ClassRef": _ref(line.class_ref, resolve) if line.class_ref else None,
            "Amount": fmt(line.amount)}


def _sales(s: SalesData, resolve: Resolver) -> dict[str, Any]:
    lines = [sales_line(line, resolve) for line in s.lines]
    return {"CustomerRef": _ref(s.customer, resolve), "TxnDate": s.date, "RefNumber": s.ref_number or None,
            "DueDate": s.due_date, "Memo": s.memo or None, "ExternalGUID": s.external_guid or None,
            "_lines": lines}


def _receipt(r: SalesReceiptData, resolve: Resolver) -> dict[str, Any]:
    """SalesReceiptAdd (qbxmlops130.xsd; the builder puts the children in the schema's order): the sale's lines
    as an invoice's, CheckNumber (at most 25), PaymentMethodRef and DepositToAccountRef (Undeposited Funds or a
    bank account: where the money received goes instead of Accounts Receivable)."""
    lines = [sales_line(line, resolve) for line in r.lines]  # SalesReceiptLineAdd has the same elements
    return {"CustomerRef": _ref(r.customer, resolve), "TxnDate": r.date, "RefNumber": r.ref_number or None,
            "CheckNumber": r.check_number or None,
            "PaymentMethodRef": _ref(r.method, resolve) if r.method else None, "Memo": r.memo or None,
            "DepositToAccountRef": _ref(r.deposit_to, resolve), "ExternalGUID": r.external_guid or None,
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
    if kind in (Kind.INVOICE, Kind.CREDIT_MEMO, Kind.SALES_RECEIPT):
        out[f"{TXN_TYPES[kind]}LineMod"] = [{"TxnLineID": "-1", **line} for line in out.pop("_lines")]
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
