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


def _like(column: str, criterion: str, value: str) -> tuple[str, list[Any]]:
    """A MatchCriterion (StartsWith, Contains, EndsWith) on ``column`` as LIKE, without regard to case (SQLite's
    LIKE ignores ASCII case), ``%`` and ``_`` in ``value`` taken literally."""
    value = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = {"StartsWith": f"{value}%", "Contains": f"%{value}%", "EndsWith": f"%{value}"}[criterion]
    return f" AND {column} LIKE ? ESCAPE '\\'", [pattern]


def _range(column: str, low: str, high: str, collate: str = "") -> tuple[str, list[Any]]:
    """``low`` ≤ ``column`` ≤ ``high``, each bound only when given ("" = open)."""
    sql, args = "", []
    for bound, op in ((low, ">="), (high, "<=")):
        if bound:
            sql += f" AND {column} {op} ?{collate}"
            args.append(bound)
    return sql, args


def _modified(element: etree._Element) -> tuple[str, list[Any]]:
    """FromModifiedDate / ToModifiedDate of ``element`` (a query or its ModifiedDateRangeFilter), compared on their
    first 19 characters (date and time; a zone offset after them is left out)."""
    return _range("modified", text(element, "FromModifiedDate")[:19], text(element, "ToModifiedDate")[:19])


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
    conditions: list[tuple[str, list[Any]]] = []
    mod = rq.find("ModifiedDateRangeFilter")
    if mod is not None:
        conditions.append(_modified(mod))
    dates = rq.find("TxnDateRangeFilter")
    if dates is not None:
        conditions.append(_range("txn_date", text(dates, "FromTxnDate"), text(dates, "ToTxnDate")))
    for part_sql, part_args in conditions:
        sql += part_sql
        args += part_args
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
        part_sql, part_args = _like("ref_number", text(ref_filter, "MatchCriterion"), text(ref_filter, "RefNumber"))
        sql += part_sql
        args += part_args
    ref_range = rq.find("RefNumberRangeFilter")
    if ref_range is not None:
        part_sql, part_args = _range("ref_number", text(ref_range, "FromRefNumber"), text(ref_range, "ToRefNumber"))
        sql += part_sql
        args += part_args
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
    conditions = [_modified(rq)]
    nf = rq.find("NameFilter")
    if nf is not None:
        conditions.append(_like("full_name", text(nf, "MatchCriterion"), text(nf, "Name")))
    nr = rq.find("NameRangeFilter")
    if nr is not None:
        conditions.append(_range("full_name", text(nr, "FromName"), text(nr, "ToName"), " COLLATE NOCASE"))
    for part_sql, part_args in conditions:
        sql += part_sql
        args += part_args
    types = [t.text for t in rq.findall("AccountType")]
    if types:
        sql += f" AND account_type IN ({_marks(types)})"
        args += types
    methods = [t.text for t in rq.findall("PaymentMethodType")]
    if methods:
        sql += f" AND method_type IN ({_marks(methods)})"
        args += methods
    return sql, args
