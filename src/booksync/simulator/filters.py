"""Query filters of the simulated company: each one honoured, or refused; never ignored.

The filters and their values are Intuit's (qbxmlops130-annotated.xml, e.g. InvoiceQueryRq: "You may optionally
have TxnID OR RefNumber OR RefNumberCaseSensitive OR (MaxReturned AND (ModifiedDateRangeFilter OR
TxnDateRangeFilter) AND EntityFilter AND AccountFilter AND (RefNumberFilter OR RefNumberRangeFilter) AND
CurrencyFilter AND PaidStatus)"; Intuit's OSR describes each):

* EntityFilter / AccountFilter: ListID or FullName (one or more), or ListIDWithChildren / FullNameWithChildren:
  that record and every record under it (sub-customers and jobs; subaccounts). A transaction matches
  AccountFilter when it posts to the account: its A/R account (invoices, credit memos, payments), its deposit
  account (payments, deposits), the income account of an item on a line, a deposit line's account.
* RefNumberFilter: MatchCriterion StartsWith / Contains / EndsWith, without regard to case;
  RefNumberRangeFilter: FromRefNumber ≤ RefNumber ≤ ToRefNumber.
* PaidStatus (InvoiceQuery): PaidOnly, the invoices with nothing left to pay; NotPaidOnly, those with a balance,
  so an invoice paid in part is NotPaid (OSR: "NotPaidOnly: the query returns only unpaid invoices"; a
  partly paid invoice keeps a BalanceRemaining and IsPaid false).
* ActiveStatus, FromModifiedDate / ToModifiedDate, NameFilter, NameRangeFilter, AccountType, PaymentMethodType
  on list queries.

A filter the simulator does not implement (CurrencyFilter, ClassFilter, TotalBalanceFilter, a DateMacro) is
refused with statusCode 3250 naming it, so that a request relying on it fails loudly instead of answering with
records the filter would have excluded.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from lxml import etree

from booksync.qbxml.parse import text
from booksync.simulator.common import Refusal

TXN_FILTERS = frozenset({"TxnID", "RefNumber", "RefNumberCaseSensitive", "MaxReturned", "ModifiedDateRangeFilter",
                         "TxnDateRangeFilter", "EntityFilter", "AccountFilter", "RefNumberFilter",
                         "RefNumberRangeFilter", "PaidStatus", "IncludeLineItems", "IncludeLinkedTxns",
                         "IncludeRetElement", "OwnerID"})
"""Children of a transaction query the simulator honours (OwnerID: it holds no private data extensions)."""
LIST_FILTERS = frozenset({"ListID", "FullName", "MaxReturned", "ActiveStatus", "FromModifiedDate", "ToModifiedDate",
                          "NameFilter", "NameRangeFilter", "AccountType", "PaymentMethodType", "IncludeRetElement",
                          "OwnerID"})
"""Children of a list query the simulator honours."""


def refuse_unsupported(rq: etree._Element, supported: frozenset[str]) -> None:
    """Raise :class:`Refusal` 3250 for the first child of ``rq`` the simulator does not honour."""
    for child in rq:
        if isinstance(child.tag, str) and child.tag not in supported:
            raise Refusal(3250, f"booksync's simulator does not implement the {child.tag} filter of "
                                f"{rq.tag[:-2]}; the request was not processed rather than answered unfiltered.")
    dates = rq.find("TxnDateRangeFilter")
    if dates is not None and dates.find("DateMacro") is not None:
        raise Refusal(3250, "booksync's simulator does not implement the DateMacro of TxnDateRangeFilter; give "
                            "FromTxnDate and ToTxnDate.")


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


def _with_children(db: sqlite3.Connection, list_id: str) -> list[str]:
    """``list_id`` and every list entry under it (ParentRef), at any depth."""
    rows = db.execute("WITH RECURSIVE under(id) AS (SELECT ? UNION SELECT l.list_id FROM lists l JOIN under u "
                      "ON l.parent_id=u.id) SELECT id FROM under", (list_id,)).fetchall()
    return [r[0] for r in rows]


def list_ids(proc: Any, flt: etree._Element, kind: str, context: str) -> list[str]:
    """The ListIDs an EntityFilter or AccountFilter names (``kind``: Customer or Account). A name or ListID the
    company lacks is an invalid reference (3140), as in any other reference."""
    ids: list[str] = []
    for tag in ("ListID", "FullName"):
        for el in flt.findall(tag):
            ref = etree.Element("Ref")
            etree.SubElement(ref, tag).text = el.text
            ids.append(proc._list_row(ref, (kind,), kind, context, active=False)["list_id"])
    for tag, ref_tag in (("ListIDWithChildren", "ListID"), ("FullNameWithChildren", "FullName")):
        el = flt.find(tag)
        if el is not None:
            ref = etree.Element("Ref")
            etree.SubElement(ref, ref_tag).text = el.text
            top = proc._list_row(ref, (kind,), kind, context, active=False)["list_id"]
            ids += _with_children(proc.db, top)
    return ids


def txn_where(proc: Any, rq: etree._Element, txn_type: str) -> tuple[str, list[Any]]:
    """SQL conditions (" AND ...") and their arguments for the filters of a transaction query without TxnID or
    RefNumber."""
    sql, args = "", []
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
        ids = list_ids(proc, entity, "Customer", f"{txn_type}Query")
        if txn_type == "Deposit":   # a deposit's entities are those of its lines
            sql += (f" AND txn_id IN (SELECT l.txn_id FROM lines l JOIN txns p ON p.txn_id=l.payment_id "
                    f"WHERE p.customer_id IN ({_marks(ids)}))")
        else:
            sql += f" AND customer_id IN ({_marks(ids)})"
        args += ids
    accounts = rq.find("AccountFilter")
    if accounts is not None:
        ids = list_ids(proc, accounts, "Account", f"{txn_type}Query")
        if not (txn_type in ("Invoice", "CreditMemo", "ReceivePayment") and proc._ar_account() in ids):
            sql += (f" AND (account_id IN ({_marks(ids)}) OR txn_id IN (SELECT l.txn_id FROM lines l LEFT JOIN "
                    f"lists i ON i.list_id=l.item_id WHERE l.account_id IN ({_marks(ids)}) OR i.account_id IN "
                    f"({_marks(ids)})))")
            args += ids * 3
    ref_filter = rq.find("RefNumberFilter")
    if ref_filter is not None:
        value = text(ref_filter, "RefNumber").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"StartsWith": f"{value}%", "Contains": f"%{value}%",
                   "EndsWith": f"%{value}"}[text(ref_filter, "MatchCriterion")]
        sql += " AND ref_number LIKE ? ESCAPE '\\'"
        args.append(pattern)
    ref_range = rq.find("RefNumberRangeFilter")
    if ref_range is not None:
        if text(ref_range, "FromRefNumber"):
            sql += " AND ref_number >= ?"
            args.append(text(ref_range, "FromRefNumber"))
        if text(ref_range, "ToRefNumber"):
            sql += " AND ref_number <= ?"
            args.append(text(ref_range, "ToRefNumber"))
    paid = text(rq, "PaidStatus", "All")
    if paid != "All":
        balance = "(total - COALESCE((SELECT SUM(a.amount) FROM applications a WHERE a.invoice_id=txns.txn_id), 0))"
        sql += f" AND {balance} {'=' if paid == 'PaidOnly' else '>'} 0"
    return sql, args


def list_where(rq: etree._Element) -> tuple[str, list[Any]]:
    """SQL conditions (" AND ...") and their arguments for the filters of a list query without ListID or
    FullName."""
    sql, args = "", []
    status = text(rq, "ActiveStatus", "ActiveOnly")
    if status == "ActiveOnly":
        sql += " AND is_active=1"
    elif status == "InactiveOnly":
        sql += " AND is_active=0"
    if text(rq, "FromModifiedDate"):
        sql += " AND modified >= ?"
        args.append(text(rq, "FromModifiedDate")[:19])
    if text(rq, "ToModifiedDate"):
        sql += " AND modified <= ?"
        args.append(text(rq, "ToModifiedDate")[:19])
    nf = rq.find("NameFilter")
    if nf is not None:
        crit, name = text(nf, "MatchCriterion"), text(nf, "Name")
        name = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"StartsWith": f"{name}%", "Contains": f"%{name}%", "EndsWith": f"%{name}"}[crit]
        sql += " AND full_name LIKE ? ESCAPE '\\'"
        args.append(pattern)
    nr = rq.find("NameRangeFilter")
    if nr is not None:
        if text(nr, "FromName"):
            sql += " AND full_name >= ? COLLATE NOCASE"
            args.append(text(nr, "FromName"))
        if text(nr, "ToName"):
            sql += " AND full_name <= ? COLLATE NOCASE"
            args.append(text(nr, "ToName"))
    types = [t.text for t in rq.findall("AccountType")]
    if types:
        sql += f" AND account_type IN ({_marks(types)})"
        args += types
    methods = [t.text for t in rq.findall("PaymentMethodType")]
    if methods:
        sql += f" AND method_type IN ({_marks(methods)})"
        args += methods
    return sql, args
