"""The QuickBooks Online requests of ``booksync runs undo`` (issue 20, item 12): a record set back to its pre-image,
and a list entity the run added made inactive.

Sources (reference/quickbooks-online.md): an update carries ``Id`` and the current ``SyncToken`` (an older one is
refused with 5010, §2); a sparse update changes only what it names, but lines are all-or-none even when sparse
(every line that must remain is sent, §2); customers, items and accounts cannot be deleted, only made inactive
(``Active: false``; references stay intact, §3.1 and §3.6).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from booksync.domain import Kind

CUSTOMER_FIELDS = ("DisplayName", "CompanyName", "GivenName", "FamilyName", "BillAddr", "PrimaryPhone",
                   "PrimaryEmailAddr", "Active")
"""The customer fields booksync writes (:func:`booksync.books.online.bodies.customer_body`): set back from the
pre-image, cleared ("") when the pre-image had none."""
EMPTY = {"BillAddr": {"Line1": "", "Line2": "", "City": "", "CountrySubDivisionCode": "", "PostalCode": ""},
         "PrimaryPhone": {"FreeFormNumber": ""}, "PrimaryEmailAddr": {"Address": ""}, "Active": True}


def _money(value: Any) -> Decimal:
    """An amount of the pre-image (kept as text or a number) as an exact Decimal."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _ref(value: Any) -> dict[str, str]:
    return {"value": str((value or {}).get("value", ""))}


def restore_body(kind: str, remote_id: str, sync_token: str, record: str) -> dict[str, Any]:
    """The sparse update that sets a customer, invoice, credit memo or payment back to its pre-image (``record``:
    the entity as JSON, as QuickBooks Online answered before booksync changed it), carrying ``sync_token`` (its
    current SyncToken). Invoice and credit memo lines and payment lines are sent whole, as new lines (lines are
    all-or-none). Raises ValueError for a kind it cannot restore (deposits, items, payment methods)."""
    k = Kind(kind)
    pre: dict[str, Any] = json.loads(record)
    body: dict[str, Any] = {"Id": remote_id, "SyncToken": sync_token, "sparse": True}
    if k is Kind.CUSTOMER:
        for key in CUSTOMER_FIELDS:
            body[key] = pre.get(key, EMPTY.get(key, ""))
    elif k in (Kind.INVOICE, Kind.CREDIT_MEMO):
        lines = [_sales_line(ln) for ln in pre.get("Line") or [] if ln.get("DetailType") == "SalesItemLineDetail"]
        body.update({"CustomerRef": _ref(pre.get("CustomerRef")), "TxnDate": pre.get("TxnDate", ""),
                     "PrivateNote": pre.get("PrivateNote", ""), "Line": lines})
        if pre.get("DocNumber"):
            body["DocNumber"] = pre["DocNumber"]
        if k is Kind.INVOICE and pre.get("DueDate"):
            body["DueDate"] = pre["DueDate"]
    elif k is Kind.PAYMENT:
        body.update({"CustomerRef": _ref(pre.get("CustomerRef")), "TxnDate": pre.get("TxnDate", ""),
                     "TotalAmt": _money(pre.get("TotalAmt", "0")), "PaymentRefNum": pre.get("PaymentRefNum", ""),
                     "PrivateNote": pre.get("PrivateNote", ""),
                     "DepositToAccountRef": _ref(pre.get("DepositToAccountRef")),
                     "Line": [{"Amount": _money(ln.get("Amount", "0")),
                               "LinkedTxn": [{"TxnId": str(t.get("TxnId", "")), "TxnType": t.get("TxnType", "")}
                                             for t in (ln.get("LinkedTxn") or [])[:1]]}
                              for ln in pre.get("Line") or [] if ln.get("LinkedTxn")]})
        if pre.get("PaymentMethodRef"):
            body["PaymentMethodRef"] = _ref(pre["PaymentMethodRef"])
    else:
        raise ValueError(f"booksync cannot restore a {k.label} from its pre-image")
    return body


def _sales_line(line: dict[str, Any]) -> dict[str, Any]:
    detail = dict(line.get("SalesItemLineDetail") or {})
    out_detail: dict[str, Any] = {"ItemRef": _ref(detail.get("ItemRef"))}
    for key in ("Qty", "UnitPrice"):
        if detail.get(key) is not None:
            out_detail[key] = Decimal(str(detail[key]))
    return {"DetailType": "SalesItemLineDetail", "Amount": _money(line.get("Amount", "0")),
            **({"Description": line["Description"]} if line.get("Description") else {}),
            "SalesItemLineDetail": out_detail}


def deactivate_body(remote_id: str, sync_token: str) -> dict[str, Any]:
    """The sparse update that makes a customer, item or payment method inactive (QuickBooks Online cannot delete
    them, reference §3.6)."""
    return {"Id": remote_id, "SyncToken": sync_token, "sparse": True, "Active": False}
