"""QuickBooks Desktop's answers as the engine's records: the company key, customers and vendors, transactions
(:class:`~booksync.books.port.RemoteTxn`) and deposits (:class:`~booksync.domain.QBDeposit`). Element names: the
qbXML 13.0 schema (qbxmlops130.xsd).
"""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from booksync.books.port import RemoteTxn
from booksync.domain import PLACEHOLDER_MEMO, QBCustomer, QBDeposit, QBDepositLine, QBListEntry
from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import boolean, decimal, text


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


def customer_of(ret: etree._Element, balances: bool = False) -> QBCustomer:
    """A CustomerRet as the engine's :class:`QBCustomer` (Balance only with ``balances``)."""
    return QBCustomer(list_id=text(ret, "ListID"), name=text(ret, "Name"), full_name=text(ret, "FullName"),
                      edit_sequence=text(ret, "EditSequence"),
                      balance=decimal(ret, "Balance") if balances else None,
                      is_active=boolean(ret, "IsActive", True), account_number=text(ret, "AccountNumber"))

def vendor_of(ret: etree._Element) -> QBListEntry:
    """A VendorRet as one of the engine's other names (:class:`QBListEntry` of kind "Vendor")."""
    return QBListEntry(list_id=text(ret, "ListID"), name=text(ret, "Name"), kind="Vendor",
                       is_active=boolean(ret, "IsActive", True))


def remote_txn(kind: str, txn_type: str, ret: etree._Element) -> RemoteTxn:
    """An InvoiceRet, CreditMemoRet, SalesReceiptRet, ReceivePaymentRet or DepositRet as a :class:`RemoteTxn`
    (``txn_type``: its qbXML type): lines, the deposit account of a payment or sales receipt, a payment's
    applications with the credits applied, an invoice's balance and links."""
    total_path = {"Invoice": "Subtotal", "CreditMemo": "TotalAmount", "SalesReceipt": "TotalAmount",
                  "ReceivePayment": "TotalAmount", "Deposit": "DepositTotal"}[txn_type]
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


def deposit_of(ret: etree._Element) -> QBDeposit:
    """A DepositRet as the engine's :class:`QBDeposit` (a line from a payment or a sales receipt names its TxnID
    in ``payment_id``)."""
    lines = tuple(QBDepositLine(line_id=text(ln, "TxnLineID"),
                                payment_id=(text(ln, "TxnID") if text(ln, "TxnType") in ("ReceivePayment", "SalesReceipt")
                                            else ""),
                                entity_id=text(ln, "EntityRef/ListID"), account_id=text(ln, "AccountRef/ListID"),
                                amount=decimal(ln, "Amount"), memo=text(ln, "Memo"))
                  for ln in ret.findall("DepositLineRet"))
    return QBDeposit(txn_id=text(ret, "TxnID"), edit_sequence=text(ret, "EditSequence"), date=text(ret, "TxnDate"),
                     account_id=text(ret, "DepositToAccountRef/ListID"),
                     account_name=text(ret, "DepositToAccountRef/FullName"), total=decimal(ret, "DepositTotal"),
                     lines=lines)


def placeholder_payment(memo: str) -> list[str]:
    """The TxnID of the payment a deposit line stands for while that payment is corrected (its memo is
    :data:`~booksync.domain.PLACEHOLDER_MEMO`), as a list of none or one."""
    prefix, suffix = PLACEHOLDER_MEMO.split("{txn_id}")
    if memo.startswith(prefix) and memo.endswith(suffix):
        return [memo[len(prefix):len(memo) - len(suffix)]]
    return []
