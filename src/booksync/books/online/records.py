"""QuickBooks Online's answers as the engine's records: account types in the engine's names, transactions
(:class:`~booksync.books.port.RemoteTxn`) and deposits (:class:`~booksync.domain.QBDeposit`). Entity fields: Intuit's
Account, Invoice, Payment and Deposit pages; reference/quickbooks-online.md.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from booksync.books.online import payloads as qbo_json
from booksync.books.port import RemoteTxn
from booksync.domain import PLACEHOLDER_MEMO, Kind, QBAccount, QBDeposit, QBDepositLine

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


def account_type(qbo_type: str) -> str:
    """The Desktop account type name for a QuickBooks Online AccountType (spaces removed when unknown)."""
    return ACCOUNT_TYPES.get(qbo_type, qbo_type.replace(" ", ""))


def account_of(row: dict[str, Any]) -> QBAccount:
    """An Account entity as the engine's :class:`QBAccount`: its type in the engine's names (:func:`account_type`),
    Undeposited Funds and the like by AccountSubType, Accounts Receivable and Payable as special accounts."""
    special = SPECIAL_SUBTYPES.get(row.get("AccountSubType", ""), "")
    kind = account_type(row.get("AccountType", ""))
    if kind in ("AccountsReceivable", "AccountsPayable") and not special:
        special = kind
    return QBAccount(list_id=str(row["Id"]), full_name=row.get("FullyQualifiedName") or row.get("Name", ""),
                     account_type=kind, number=row.get("AcctNum", "") or "", special=special,
                     is_active=bool(row.get("Active", True)), balance=qbo_json.money(row.get("CurrentBalance")))


def date_of(value: str | None) -> dt.date | None:
    """The date of an entity's date or date-time field ("2026-03-01", "2026-03-01T10:00:00-08:00"), None if absent."""
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def ref_value(obj: Any) -> str:
    """The Id a reference field names (``{"value": "42", "name": ...}``), "" when there is none."""
    return str(obj.get("value", "")) if isinstance(obj, dict) else ""


def remote_txn(kind: str, row: dict[str, Any]) -> RemoteTxn:
    """An Invoice, CreditMemo, SalesReceipt, Payment or Deposit entity as a :class:`RemoteTxn` (``kind``: the
    engine's kind; a sales receipt's DocNumber is its reference, PaymentRefNum its check number)."""
    txn = RemoteTxn(remote_id=str(row["Id"]), kind=kind, edit_sequence=str(row.get("SyncToken", "")),
                    customer_id=ref_value(row.get("CustomerRef")), date=row.get("TxnDate", ""),
                    total=qbo_json.money(row.get("TotalAmt")),
                    ref_number=row.get("DocNumber") or row.get("PaymentRefNum") or "",
                    deposit_account_id=ref_value(row.get("DepositToAccountRef")))
    for line in row.get("Line") or []:
        if line.get("DetailType") == "SalesItemLineDetail":
            txn.lines.append((ref_value((line.get("SalesItemLineDetail") or {}).get("ItemRef")),
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


def placeholder_payment(memo: str) -> str:
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
    """A QuickBooks Online Deposit as the engine's :class:`QBDeposit`: linked lines name their payment or sales
    receipt (both fund Undeposited Funds, reference §3.4),
    direct lines (DepositLineDetail) their entity, account and Description (the memo); each line's
    ``line_id`` is :func:`deposit_line_key`."""
    lines = []
    for n, line in enumerate(row.get("Line") or [], 1):
        payment = next((str(t.get("TxnId", "")) for t in line.get("LinkedTxn") or []
                        if t.get("TxnType") in ("Payment", "SalesReceipt")), "")
        detail = line.get("DepositLineDetail") or {}
        lines.append(QBDepositLine(line_id=deposit_line_key(line, n), payment_id=payment,
                                   entity_id=ref_value(detail.get("Entity")),
                                   account_id=ref_value(detail.get("AccountRef")),
                                   amount=qbo_json.money(line.get("Amount")), memo=line.get("Description") or ""))
    account = row.get("DepositToAccountRef") or {}
    return QBDeposit(txn_id=str(row["Id"]), edit_sequence=str(row.get("SyncToken", "")), date=row.get("TxnDate", ""),
                     account_id=ref_value(account), account_name=account.get("name", "") if isinstance(account, dict)
                     else "", total=qbo_json.money(row.get("TotalAmt")), lines=tuple(lines))
