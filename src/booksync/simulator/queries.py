"""Queries of the simulated company: list and transaction queries, their filters, paging and iterators, and the
Ret aggregates they answer with. Rules and sources in the docstrings; see also :mod:`.processor`.
"""
from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from typing import Any, Callable

from lxml import etree

from booksync.qbxml.parse import text
from booksync.simulator.common import _UNSET, TXN_RET, Refusal, _aggregate, _name_spaces
from booksync.simulator.filters import LIST_FILTERS, TXN_FILTERS, list_where, refuse_unsupported, txn_where
from booksync.simulator.store import amount

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _nocase(value: str) -> str:
    """``value`` as SQLite's NOCASE compares it (ASCII letters only), as the queries above match names."""
    return value.translate(_ASCII_LOWER)


class Queries:
    """Query handlers and Ret builders, mixed into :class:`~.processor.Processor`."""

    db: sqlite3.Connection
    _iterators: dict[str, tuple[str, list[Any]]]

    # ------------------------------------------------------------------ list queries

    def _list_query(self, rq: etree._Element, kinds: tuple[str, ...],
                    to_ret: Callable[[sqlite3.Row], etree._Element],
                    prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        iterator = rq.get("iterator")
        if iterator in ("Continue", "Stop"):
            return self._continue(rq, to_ret, lambda ids: self._rows_by_id("lists", "list_id", ids), prepare)
        refuse_unsupported(rq, LIST_FILTERS)
        marks = ",".join("?" * len(kinds))
        sql = f"SELECT * FROM lists WHERE kind IN ({marks})"
        args: list[Any] = list(kinds)
        ids = [e.text for e in rq.findall("ListID")]
        names = [e.text for e in rq.findall("FullName")]
        if ids:
            sql += f" AND list_id IN ({','.join('?' * len(ids))})"
            args += ids
        elif names:
            spaces = _name_spaces(kinds)
            if spaces is not None:   # lets SQLite use the lists_name index
                sql += f" AND name_space IN ({','.join('?' * len(spaces))})"
                args += spaces
            sql += f" AND full_name COLLATE NOCASE IN ({','.join('?' * len(names))})"
            args += names
        else:
            where, more = list_where(rq)
            sql += where
            args += more
        sql += " ORDER BY full_name COLLATE NOCASE"
        rows = self.db.execute(sql, args).fetchall()
        if ids:
            found = {r["list_id"] for r in rows}
            unknown = next((i for i in ids if i not in found), None)
            if unknown is not None:
                raise Refusal(3120, f'Object "{unknown}" specified in the request cannot be found.  QuickBooks '
                                    "error message: Invalid argument.  The specified record does not exist in the "
                                    "list.")
        elif names:
            found = {_nocase(r["full_name"]) for r in rows}
            unknown = next((n for n in names if _nocase(n or "") not in found), None)
            if unknown is not None:
                return self._not_found(unknown)
        return self._page(rq, [r["list_id"] for r in rows], rows, to_ret, prepare)

    def _not_found(self, value: str) -> etree._Element:
        """The answer to a lookup by FullName, TxnID or RefNumber naming something the company lacks: status 500
        (Warn) and no records at all, even for the values that were found. Sources: a captured CustomerQueryRs
        for the name "bleech" (qbwc/qbwc spec/session_spec.rb, CUSTOMER_QUERY_RESPONSE_WARN); a BillQuery of
        several TxnIDs, one deleted, "fails the whole Rs with statusCode 500, no partial result" (probed against
        real QuickBooks, quoted in public code); reference/quickbooks-desktop.md §9 (500, Warn). A ListID
        QuickBooks lacks is refused with 3120 instead (:meth:`_list_query`; the same capture's
        CUSTOMER_QUERY_RESPONSE_ERROR)."""
        result = etree.Element("Result", statusCode="500", statusSeverity="Warn",
                               statusMessage="The query request has not been fully completed. There was a required "
                                             f'element ("{value}") that could not be found in QuickBooks.')
        return result

    def _rows_by_id(self, table: str, key: str, ids: list[str]) -> list[sqlite3.Row]:
        if not ids:
            return []
        rows = self.db.execute(f"SELECT * FROM {table} WHERE {key} IN ({','.join('?' * len(ids))})",
                               ids).fetchall()
        by_id = {r[key]: r for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def _page(self, rq: etree._Element, ids: list[str], rows: list[Any],
              to_ret: Callable[[Any], etree._Element],
              prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        max_returned = int(text(rq, "MaxReturned") or 0)
        iterator = rq.get("iterator")
        if iterator == "Start":
            size = max_returned or 100
            iterator_id = "{" + str(uuid.uuid4()) + "}"
            self._iterators[iterator_id] = (rq.tag, ids[size:])
            page = rows[:size]
            if prepare is not None:
                prepare(page)
            return self._ok([to_ret(r) for r in page], retCount=str(len(page)),
                            iteratorRemainingCount=str(len(ids) - len(page)), iteratorID=iterator_id)
        if max_returned:
            rows = rows[:max_returned]
        if not rows:
            result = self._ok()
            result.set("statusCode", "1")
            result.set("statusMessage", "A query request did not find a matching object in QuickBooks")
            return result
        if prepare is not None:
            prepare(rows)
        return self._ok([to_ret(r) for r in rows], retCount=str(len(rows)))

    def _continue(self, rq: etree._Element, to_ret: Callable[[Any], etree._Element],
                  fetch: Callable[[list[str]], list[Any]],
                  prepare: Callable[[list[Any]], None] | None = None) -> etree._Element:
        """The next page of an iterator (iterator="Continue"), or its end (iterator="Stop").

        An iteratorID the company does not know (never issued, issued to another query, stopped, or lost with
        the session that made it: iterators live as long as the connection) is refused with 3391 'The
        iteratorID "{...}" is not valid.' (captured: consolibyte/quickbooks-php issue #183). Continuing an
        iterator with nothing left answers status 1 and ends it (consolibyte/quickbooks-php issue #267;
        reference §9)."""
        iterator_id = rq.get("iteratorID", "")
        state = self._iterators.get(iterator_id)
        if state is None or state[0] != rq.tag:
            raise Refusal(3391, f'The iteratorID "{iterator_id}" is not valid.')
        if rq.get("iterator") == "Stop" or not state[1]:
            del self._iterators[iterator_id]
            if rq.get("iterator") == "Stop":
                return self._ok(retCount="0", iteratorRemainingCount="0", iteratorID=iterator_id)
            result = self._ok(retCount="0", iteratorRemainingCount="0", iteratorID=iterator_id)
            result.set("statusCode", "1")
            result.set("statusMessage", "A query request did not find a matching object in QuickBooks")
            return result
        size = int(text(rq, "MaxReturned") or 100)
        ids = state[1]
        page_ids, rest = ids[:size], ids[size:]
        self._iterators[iterator_id] = (rq.tag, rest)
        rows = fetch(page_ids)
        if prepare is not None:
            prepare(rows)
        return self._ok([to_ret(r) for r in rows], retCount=str(len(rows)),
                        iteratorRemainingCount=str(len(rest)), iteratorID=iterator_id)

    def _list_base(self, row: sqlite3.Row) -> dict[str, Any]:
        return {"ListID": row["list_id"], "TimeCreated": row["created"], "TimeModified": row["modified"],
                "EditSequence": row["edit_seq"], "Name": row["name"], "FullName": row["full_name"],
                "IsActive": bool(row["is_active"])}

    # ------------------------------------------------------------------ transactions: reading

    def _ref(self, list_id: str | None) -> dict[str, str] | None:
        if not list_id:
            return None
        ref = self._refs.get(list_id)
        if ref is not None:
            return ref
        row = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?", (list_id,)).fetchone()
        if row is None:
            return None
        ref = {"ListID": row["list_id"], "FullName": row["full_name"]}
        if self._meta is not None:   # cached while a message runs; a rename drops the entry
            self._refs[list_id] = ref
        return ref

    def _applied_to_invoice(self, txn_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE invoice_id=?",
                               (txn_id,)).fetchone()[0]

    def _credit_used(self, txn_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE credit_memo_id=?",
                               (txn_id,)).fetchone()[0]

    def _cash_applied(self, payment_id: str) -> int:
        return self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM applications WHERE payment_id=? "
                               "AND credit_memo_id IS NULL", (payment_id,)).fetchone()[0]

    def _deposit_of(self, payment_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT t.* FROM lines l JOIN txns t ON t.txn_id=l.txn_id "
                               "WHERE l.payment_id=?", (payment_id,)).fetchone()

    # The Ret elements read straight from a txns row, for IncludeRetElement (reference §1, "Query options").
    _TXN_HEADER = {"TxnID": "txn_id", "TimeCreated": "created", "TimeModified": "modified",
                   "EditSequence": "edit_seq", "TxnNumber": "txn_number", "TxnDate": "txn_date",
                   "RefNumber": "ref_number"}

    def txn_ret(self, row: sqlite3.Row, include_lines: bool = True,
                only: frozenset[str] | None = None, linked: bool = False) -> etree._Element:
        """The Ret of a transaction; with ``only`` (the request's IncludeRetElement names), just those
        top-level elements, as QuickBooks returns them; with ``linked`` (IncludeLinkedTxns), the LinkedTxn of
        each payment and credit applied (see :meth:`_linked_txns`)."""
        kind = row["txn_type"]
        if only is not None and only <= self._TXN_HEADER.keys():
            return _aggregate(TXN_RET[kind], {tag: row[col] for tag, col in self._TXN_HEADER.items()
                                              if tag in only and row[col] is not None})
        fields: dict[str, Any] = {"TxnID": row["txn_id"], "TimeCreated": row["created"],
                                  "TimeModified": row["modified"], "EditSequence": row["edit_seq"],
                                  "TxnNumber": row["txn_number"]}
        if kind != "Deposit":
            fields["CustomerRef"] = self._ref(row["customer_id"])
        if kind not in ("Deposit", "SalesReceipt"):  # a sales receipt does not post to Accounts Receivable
            fields["ARAccountRef"] = self._ref(self._ar_account())
        fields["TxnDate"] = row["txn_date"]
        if row["ref_number"]:
            fields["RefNumber"] = row["ref_number"]
        fields.update(self._amount_fields(kind, row))
        if row["external_guid"]:
            fields["ExternalGUID"] = row["external_guid"]
        if linked and kind in ("Invoice", "CreditMemo"):
            fields["LinkedTxn"] = self._linked_txns(row)
        if kind == "ReceivePayment":
            fields["AppliedToTxnRet"] = self._applied_rets(row["txn_id"])
        elif include_lines and kind in ("Invoice", "CreditMemo", "SalesReceipt"):
            lines = self.db.execute("SELECT * FROM lines WHERE txn_id=? ORDER BY seq", (row["txn_id"],)).fetchall()
            fields[f"{kind}LineRet"] = [self._line_ret(line) for line in lines]
        elif include_lines and kind == "Deposit":
            lines = self.db.execute("SELECT * FROM lines WHERE txn_id=? ORDER BY seq", (row["txn_id"],)).fetchall()
            fields["DepositLineRet"] = [self._deposit_line_ret(line) for line in lines]
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate(TXN_RET[kind], fields)

    def _amount_fields(self, kind: str, row: sqlite3.Row) -> dict[str, Any]:
        """The elements of a transaction's Ret that depend on its type, in schema order: totals, balances, the
        memo and the deposit account (qbxmlops130.xsd InvoiceRet, CreditMemoRet, ReceivePaymentRet, DepositRet)."""
        out: dict[str, Any] = {}
        total = amount(row["total"])
        if kind in ("Invoice", "CreditMemo"):
            if row["due_date"]:
                out["DueDate"] = row["due_date"]
            out["Subtotal"] = str(total)
            out["SalesTaxPercentage"] = "0.00"
            out["SalesTaxTotal"] = "0.00"
        if kind == "Invoice":
            applied = self._applied_to_invoice(row["txn_id"])
            out["AppliedAmount"] = str(-amount(applied))
            out["BalanceRemaining"] = str(total - amount(applied))
            out["Memo"] = row["memo"] or None
            out["IsPaid"] = total - amount(applied) == 0
        elif kind == "CreditMemo":
            out["TotalAmount"] = str(total)
            out["CreditRemaining"] = str(total - amount(self._credit_used(row["txn_id"])))
            out["Memo"] = row["memo"] or None
        elif kind == "ReceivePayment":
            out["TotalAmount"] = str(total)
            out["PaymentMethodRef"] = self._ref(row["method_id"])
            out["Memo"] = row["memo"] or None
            out["DepositToAccountRef"] = self._ref(row["account_id"])
            out["UnusedPayment"] = str(total - amount(self._cash_applied(row["txn_id"])))
            out["UnusedCredits"] = "0.00"
        elif kind == "SalesReceipt":
            # SalesReceiptRet: CheckNumber, PaymentMethodRef, Subtotal ... TotalAmount, Memo, DepositToAccountRef.
            out.update(CheckNumber=row["check_number"] or None, PaymentMethodRef=self._ref(row["method_id"]),
                       Subtotal=str(total), SalesTaxPercentage="0.00", SalesTaxTotal="0.00", TotalAmount=str(total),
                       Memo=row["memo"] or None, DepositToAccountRef=self._ref(row["account_id"]))
        elif kind == "Deposit":
            out["DepositToAccountRef"] = self._ref(row["account_id"])
            out["Memo"] = row["memo"] or None
            out["DepositTotal"] = str(total)
        return out

    def _linked_txns(self, row: sqlite3.Row) -> list[dict[str, Any]]:
        """LinkedTxn of an invoice or a credit memo (IncludeLinkedTxns, qbxmlops130-annotated.xml InvoiceQueryRq;
        OSR: "the transactions linked to this one"): on an invoice, one per payment (TxnType ReceivePayment,
        the cash it applied) and one per credit memo applied (TxnType CreditMemo), amounts negative as they
        reduce the balance; on a credit memo, one per invoice it was applied to (TxnType Invoice). LinkType is
        AMTTYPE: the link is an amount, not a quantity."""
        if row["txn_type"] == "Invoice":
            sql = ("SELECT COALESCE(a.credit_memo_id, a.payment_id) AS other, SUM(a.amount) AS amount "
                   "FROM applications a WHERE a.invoice_id=? GROUP BY other ORDER BY MIN(a.rowid)")
            sign = -1
        else:
            sql = ("SELECT a.invoice_id AS other, SUM(a.amount) AS amount FROM applications a "
                   "WHERE a.credit_memo_id=? GROUP BY other ORDER BY MIN(a.rowid)")
            sign = 1
        out = []
        for link in self.db.execute(sql, (row["txn_id"],)).fetchall():
            other = self._txn_row(link["other"])
            out.append({"TxnID": other["txn_id"], "TxnType": other["txn_type"], "TxnDate": other["txn_date"],
                        "RefNumber": other["ref_number"] or None, "LinkType": "AMTTYPE",
                        "Amount": str(sign * amount(link["amount"]))})
        return out

    def _line_ret(self, line: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"TxnLineID": line["line_id"], "ItemRef": self._ref(line["item_id"])}
        if line["descr"]:
            out["Desc"] = line["descr"]
        if line["quantity"]:
            out["Quantity"] = line["quantity"]
        if line["rate"]:
            out["Rate"] = line["rate"]
        if line["class_id"]:
            out["ClassRef"] = self._ref(line["class_id"])
        out["Amount"] = str(amount(line["amount"]))
        return out

    def _deposit_line_ret(self, line: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if line["payment_id"]:
            payment = self.db.execute("SELECT * FROM txns WHERE txn_id=?", (line["payment_id"],)).fetchone()
            out.update(TxnType=payment["txn_type"], TxnID=line["payment_id"], TxnLineID=line["line_id"],
                       PaymentTxnLineID=line["line_id"], EntityRef=self._ref(payment["customer_id"]),
                       AccountRef=self._ref(payment["account_id"]))
        else:
            out.update(TxnLineID=line["line_id"], AccountRef=self._ref(line["account_id"]))
        if line["descr"]:
            out["Memo"] = line["descr"]
        out["Amount"] = str(amount(line["amount"]))
        return out

    def _applied_rets(self, payment_id: str) -> list[dict[str, Any]]:
        apps = self.db.execute("SELECT a.*, t.txn_date, t.ref_number, t.total FROM applications a "
                               "JOIN txns t ON t.txn_id=a.invoice_id WHERE a.payment_id=? ORDER BY a.seq",
                               (payment_id,)).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for app in apps:
            entry = out.setdefault(app["invoice_id"], {
                "TxnID": app["invoice_id"], "TxnType": "Invoice", "TxnDate": app["txn_date"],
                "RefNumber": app["ref_number"] or None,
                "BalanceRemaining": str(amount(app["total"] - self._applied_to_invoice(app["invoice_id"]))),
                "Amount": Decimal("0.00"), "LinkedTxn": []})
            if app["credit_memo_id"]:
                cm = self._txn_row(app["credit_memo_id"])
                entry["LinkedTxn"].append({"TxnID": cm["txn_id"], "TxnType": "CreditMemo",
                                           "TxnDate": cm["txn_date"], "RefNumber": cm["ref_number"] or None,
                                           "LinkType": "AMTTYPE", "Amount": str(-amount(app["amount"]))})
            else:
                entry["Amount"] += amount(app["amount"])
        for entry in out.values():
            entry["Amount"] = str(entry["Amount"])
        return list(out.values())

    def _ar_account(self) -> str | None:
        if self._ar is not _UNSET:
            return self._ar
        row = self.db.execute("SELECT list_id FROM lists WHERE kind='Account' AND account_type='AccountsReceivable' "
                              "ORDER BY list_id LIMIT 1").fetchone()
        found = row["list_id"] if row else None
        if self._meta is not None:   # cached while a message runs; an AccountAdd drops it
            self._ar = found
        return found

    def txn_query(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            include_lines = text(rq, "IncludeLineItems") == "true" or txn_type == "Deposit"
            only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
            linked = text(rq, "IncludeLinkedTxns") == "true"

            def to_ret(row: sqlite3.Row) -> etree._Element:
                return self.txn_ret(row, include_lines, only, linked)

            if rq.get("iterator") in ("Continue", "Stop"):
                return self._continue(rq, to_ret, lambda ids: self._rows_by_id("txns", "txn_id", ids))
            refuse_unsupported(rq, TXN_FILTERS)
            sql, args = "SELECT * FROM txns WHERE txn_type=?", [txn_type]
            ids = [e.text for e in rq.findall("TxnID")]
            refs = [e.text or "" for e in rq.findall("RefNumber")]
            exact = [e.text or "" for e in rq.findall("RefNumberCaseSensitive")]
            if ids:
                # "+txn_type": find the rows by their TxnIDs. Given more than a few ids, SQLite would
                # otherwise walk txns_type and read every transaction of the type for each query.
                sql = "SELECT * FROM txns WHERE +txn_type=?"
                sql += f" AND txn_id IN ({','.join('?' * len(ids))})"
                args += ids
            elif refs:   # RefNumber compares without regard to case; RefNumberCaseSensitive with (OSR)
                sql += f" AND ref_number COLLATE NOCASE IN ({','.join('?' * len(refs))})"
                args += refs
            elif exact:
                sql += f" AND ref_number IN ({','.join('?' * len(exact))})"
                args += exact
            else:
                where, more = txn_where(self, rq, txn_type)
                sql += where
                args += more
            sql += " ORDER BY txn_number"
            rows = self.db.execute(sql, args).fetchall()
            if ids:
                unknown = next((v for v in ids if v not in {r["txn_id"] for r in rows}), None)
            elif refs:
                found = {_nocase(r["ref_number"] or "") for r in rows}
                unknown = next((v for v in refs if _nocase(v) not in found), None)
            else:
                unknown = next((v for v in exact if v not in {r["ref_number"] for r in rows}), None)
            if unknown is not None:
                return self._not_found(unknown)
            return self._page(rq, [r["txn_id"] for r in rows], rows, to_ret)
        return handler

    # ------------------------------------------------------------------ payments waiting to be deposited

    def payments_to_deposit_query(self, rq: etree._Element) -> etree._Element:
        """ReceivePaymentToDepositQuery: the payments and sales receipts waiting in Undeposited Funds, those a deposit can take
        (qbxmlops130-annotated.xml ReceivePaymentToDepositQueryRq; OSR: "the payments that have been received
        into the Undeposited Funds account but not yet deposited"). Each answers as a ReceivePaymentToDepositRet:
        TxnID, TxnType, CustomerRef, TxnDate, RefNumber, Amount. None waiting: status 1, as any query that
        finds nothing (reference §9)."""
        refuse_unsupported(rq, frozenset({"IncludeRetElement"}))
        only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
        rows = self.db.execute(
            "SELECT t.* FROM txns t JOIN lists a ON a.list_id=t.account_id "
            "WHERE t.txn_type IN ('ReceivePayment','SalesReceipt') "
            "AND a.special='UndepositedFunds' AND NOT EXISTS (SELECT 1 FROM lines l WHERE l.payment_id=t.txn_id) "
            "ORDER BY t.txn_date, t.txn_number").fetchall()
        rets = []
        for row in rows:
            fields: dict[str, Any] = {"TxnID": row["txn_id"], "TxnType": row["txn_type"],
                                      "CustomerRef": self._ref(row["customer_id"]), "TxnDate": row["txn_date"],
                                      "RefNumber": row["ref_number"] or None, "Amount": str(amount(row["total"]))}
            if only is not None:
                fields = {tag: value for tag, value in fields.items() if tag in only}
            rets.append(_aggregate("ReceivePaymentToDepositRet", fields))
        if not rets:
            result = self._ok()
            result.set("statusCode", "1")
            result.set("statusMessage", "A query request did not find a matching object in QuickBooks")
            return result
        return self._ok(rets, retCount=str(len(rets)))
