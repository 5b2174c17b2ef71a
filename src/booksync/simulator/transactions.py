"""Transactions of the simulated company: invoices, credit memos, sales receipts, payments, deposits, delete and void.
See :mod:`.processor` for the rules common to every request.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from lxml import etree

from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import text
from booksync.simulator.common import (BANK_LIKE, DEPOSITED_TYPES, HRESULT_PARSE, LINE_ITEM_KINDS, PARSE_MESSAGE,
                                       Refusal, _d)
from booksync.simulator.store import amount, cents, now_text


class Transactions:
    """Transaction handlers, mixed into :class:`~.processor.Processor`."""

    db: sqlite3.Connection

    # ------------------------------------------------------------------ invoices and credit memos

    def _sales_lines(self, el: etree._Element, txn_type: str, line_tag: str) -> list[dict[str, Any]]:
        lines = []
        for line in el.findall(line_tag):
            item = self._list_row(line.find("ItemRef"), LINE_ITEM_KINDS, "Item", txn_type)
            # A line's ClassRef must name an active class (3140 otherwise: reference §7).
            klass = self._list_row(line.find("ClassRef"), ("Class",), "Class", txn_type) \
                if line.find("ClassRef") is not None else None
            qty, rate = text(line, "Quantity"), text(line, "Rate")
            if line.find("Amount") is not None:
                value = _d(text(line, "Amount"), f"{line_tag} Amount")
            else:
                try:
                    value = (Decimal(qty or "1") * Decimal(rate or "0")).quantize(Decimal("0.01"))
                except InvalidOperation:
                    raise Refusal(3040, f"{line_tag} has an invalid quantity or rate.") from None
            lines.append({"item_id": item["list_id"], "descr": text(line, "Desc"), "quantity": qty,
                          "rate": rate, "amount": cents(value), "line_id": text(line, "TxnLineID"),
                          "class_id": klass["list_id"] if klass is not None else None})
        return lines

    def _insert_lines(self, txn_id: str, lines: list[dict[str, Any]]) -> None:
        for seq, line in enumerate(lines, 1):
            line_id = line.get("line_id") or ""
            if not line_id or line_id == "-1":
                line_id = f"{self._counter('next_line'):X}-{int(time.time())}"
            self.db.execute("INSERT INTO lines (txn_id, line_id, seq, item_id, descr, quantity, rate, amount, "
                            "account_id, payment_id, class_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            (txn_id, line_id, seq, line.get("item_id"), line.get("descr"), line.get("quantity"),
                             line.get("rate"), line["amount"], line.get("account_id"), line.get("payment_id"),
                             line.get("class_id")))

    def _new_txn(self, txn_type: str, **cols: Any) -> str:
        txn_id, number = self.new_txn_id()
        stamp = now_text()
        cols.update(txn_id=txn_id, txn_type=txn_type, txn_number=number, edit_seq=self.new_edit_seq(),
                    created=stamp, modified=stamp)
        keys = ",".join(cols)
        self.db.execute(f"INSERT INTO txns ({keys}) VALUES ({','.join('?' * len(cols))})", list(cols.values()))
        return txn_id

    def _txn_date(self, el: etree._Element) -> str:
        value = text(el, "TxnDate") or dt.date.today().isoformat()
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise Refusal(3020, f'The date "{value}" is invalid.') from None
        return value

    def sales_add(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            add = rq.find(f"{txn_type}Add")
            customer = self._list_row(add.find("CustomerRef"), ("Customer",), "Customer", txn_type)
            txn_date = self._txn_date(add)
            self._check_open_period(txn_type, txn_date)
            lines = self._sales_lines(add, txn_type, f"{txn_type}LineAdd")
            txn_id = self._new_txn(txn_type, customer_id=customer["list_id"], txn_date=txn_date,
                                   due_date=text(add, "DueDate") or None, ref_number=text(add, "RefNumber"),
                                   memo=text(add, "Memo"), total=sum(line["amount"] for line in lines),
                                   account_id=self._ar_account(), external_guid=text(add, "ExternalGUID"))
            self._insert_lines(txn_id, lines)
            return self._ok([self.txn_ret(self._txn_row(txn_id))])
        return handler

    def sales_mod(self, txn_type: str) -> Callable[[etree._Element], etree._Element]:
        def handler(rq: etree._Element) -> etree._Element:
            mod = rq.find(f"{txn_type}Mod")
            row = self._txn_row(text(mod, "TxnID"), txn_type)
            self._check_edit_seq(row["edit_seq"], mod)
            cols: dict[str, Any] = {}
            if mod.find("CustomerRef") is not None:
                customer = self._list_row(mod.find("CustomerRef"), ("Customer",), "Customer", txn_type)
                if customer["list_id"] != row["customer_id"] and (
                        (txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]))
                        or (txn_type == "CreditMemo" and self._credit_used(row["txn_id"]))):
                    raise Refusal(3170, f"The {txn_type} has payments or credits applied and cannot move to "
                                        "another customer.")
                cols["customer_id"] = customer["list_id"]
            if mod.find("TxnDate") is not None:
                cols["txn_date"] = self._txn_date(mod)
            self._check_open_period(txn_type, row["txn_date"], cols.get("txn_date"))
            for tag, col in (("RefNumber", "ref_number"), ("Memo", "memo"), ("DueDate", "due_date")):
                if mod.find(tag) is not None:
                    cols[col] = text(mod, tag)
            line_tag = f"{txn_type}LineMod"
            if mod.find(line_tag) is not None:
                existing = {r["line_id"] for r in self.db.execute("SELECT line_id FROM lines WHERE txn_id=?",
                                                                  (row["txn_id"],))}
                for line in mod.findall(line_tag):
                    line_id = text(line, "TxnLineID")
                    if line_id != "-1" and line_id not in existing:
                        raise Refusal(3120, f'Object "{line_id}" specified in the request cannot be found.')
                lines = self._sales_lines(mod, txn_type, line_tag)
                total = sum(line["amount"] for line in lines)
                used = (self._applied_to_invoice(row["txn_id"]) if txn_type == "Invoice"
                        else self._credit_used(row["txn_id"]))
                if total < used:
                    raise Refusal(3210, f"The {txn_type} total {amount(total)} would be less than the "
                                        f"{amount(used)} already applied to it. Remove or reduce the payments "
                                        "or credits applied first.")
                self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
                self._insert_lines(row["txn_id"], lines)
                cols["total"] = total
            cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
            self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                            [*cols.values(), row["txn_id"]])
            return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])
        return handler

    # ------------------------------------------------------------------ sales receipts

    def receipt_add(self, rq: etree._Element) -> etree._Element:
        """SalesReceiptAdd: a sale paid at once. Lines as an invoice's (items, amounts); the total is deposited
        to DepositToAccountRef (Bank or Other Current Asset, Undeposited Funds when left out), not to Accounts
        Receivable, so the customer's balance does not move (SalesReceiptRet has no ARAccountRef, qbxmlops130.xsd).
        CheckNumber holds at most 25 characters (3070 beyond, :mod:`.validation`)."""
        add = rq.find("SalesReceiptAdd")
        customer = self._list_row(add.find("CustomerRef"), ("Customer",), "Customer", "SalesReceipt")
        txn_date = self._txn_date(add)
        self._check_open_period("SalesReceipt", txn_date)
        lines = self._sales_lines(add, "SalesReceipt", "SalesReceiptLineAdd")
        method = None
        if add.find("PaymentMethodRef") is not None:
            method = self._list_row(add.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                    "SalesReceipt")["list_id"]
        account = self._deposit_account(add, "SalesReceipt")
        txn_id = self._new_txn("SalesReceipt", customer_id=customer["list_id"], txn_date=txn_date,
                               ref_number=text(add, "RefNumber"), memo=text(add, "Memo"),
                               total=sum(line["amount"] for line in lines), account_id=account, method_id=method,
                               check_number=text(add, "CheckNumber") or None, external_guid=text(add, "ExternalGUID"))
        self._insert_lines(txn_id, lines)
        return self._ok([self.txn_ret(self._txn_row(txn_id))])

    def receipt_mod(self, rq: etree._Element) -> etree._Element:
        """SalesReceiptMod. A sales receipt in a deposit cannot be changed until it is taken out of the deposit
        (3170), as a payment (the linked-transaction rule, reference/quickbooks-desktop.md §7 rules 5-6)."""
        mod = rq.find("SalesReceiptMod")
        row = self._txn_row(text(mod, "TxnID"), "SalesReceipt")
        self._check_edit_seq(row["edit_seq"], mod)
        self._refuse_deposited(row, 3170, "changed")
        cols: dict[str, Any] = {}
        if mod.find("CustomerRef") is not None:
            cols["customer_id"] = self._list_row(mod.find("CustomerRef"), ("Customer",), "Customer",
                                                 "SalesReceipt")["list_id"]
        if mod.find("TxnDate") is not None:
            cols["txn_date"] = self._txn_date(mod)
        self._check_open_period("SalesReceipt", row["txn_date"], cols.get("txn_date"))
        if mod.find("DepositToAccountRef") is not None:
            cols["account_id"] = self._deposit_account(mod, "SalesReceipt")
        if mod.find("PaymentMethodRef") is not None:
            cols["method_id"] = self._list_row(mod.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                               "SalesReceipt")["list_id"]
        for tag, col in (("RefNumber", "ref_number"), ("Memo", "memo"), ("CheckNumber", "check_number")):
            if mod.find(tag) is not None:
                cols[col] = text(mod, tag)
        if mod.find("SalesReceiptLineMod") is not None:
            existing = {r["line_id"] for r in self.db.execute("SELECT line_id FROM lines WHERE txn_id=?",
                                                              (row["txn_id"],))}
            for line in mod.findall("SalesReceiptLineMod"):
                if text(line, "TxnLineID") != "-1" and text(line, "TxnLineID") not in existing:
                    raise Refusal(3120, f'Object "{text(line, "TxnLineID")}" specified in the request cannot be '
                                        "found.")
            lines = self._sales_lines(mod, "SalesReceipt", "SalesReceiptLineMod")
            self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
            self._insert_lines(row["txn_id"], lines)
            cols["total"] = sum(line["amount"] for line in lines)
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                        [*cols.values(), row["txn_id"]])
        return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])

    def _refuse_deposited(self, row: sqlite3.Row, code: int, verb: str) -> None:
        """A payment or sales receipt held by a deposit cannot be changed, voided or deleted until it is taken
        out of the deposit (reference/quickbooks-desktop.md §7 rules 5-6; TxnVoid: "might fail when linked (e.g.
        the deposit)", §7 rule 5)."""
        deposit = self._deposit_of(row["txn_id"])
        if deposit is not None:
            what = "payment" if row["txn_type"] == "ReceivePayment" else "sales receipt"
            raise Refusal(code, f"The {what} {row['ref_number'] or row['txn_id']} has been deposited (deposit of "
                                f"{deposit['txn_date']}, {amount(deposit['total'])}). It cannot be {verb} until it "
                                "is removed from the deposit.")

    # ------------------------------------------------------------------ payments

    def _deposit_account(self, el: etree._Element, txn_type: str = "ReceivePayment") -> str:
        """The DepositToAccountRef of a payment or sales receipt (Undeposited Funds when left out, as QuickBooks
        does: qbxmlops130-annotated.xml ReceivePaymentAdd/SalesReceiptAdd). Only a Bank or Other Current Asset
        account holds deposits; another is an invalid reference, 3140 (reference/quickbooks-desktop.md §7)."""
        ref = el.find("DepositToAccountRef")
        if ref is None:
            row = self.db.execute("SELECT list_id FROM lists WHERE kind='Account' AND special='UndepositedFunds'"
                                  ).fetchone()
            if row is None:
                raise Refusal(3140, "There is no Undeposited Funds account in this company.")
            return row["list_id"]
        account = self._list_row(ref, ("Account",), "Account", txn_type)
        if account["account_type"] not in BANK_LIKE:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks Account "{account["full_name"]}" in '
                                f"the {txn_type}. QuickBooks error message: Payments can only be deposited "
                                "to a bank account or an Other Current Asset account such as Undeposited Funds.")
        return account["list_id"]

    def _apply(self, payment_id: str, customer_id: str, total: int, apps: list[etree._Element]) -> None:
        cash = 0
        for seq, app in enumerate(apps, 1):
            invoice = self._txn_row(text(app, "TxnID"))
            if invoice["txn_type"] != "Invoice" or invoice["customer_id"] != customer_id:
                raise Refusal(3140, f'There is an invalid reference to QuickBooks Invoice "{invoice["txn_id"]}" '
                                    "in the ReceivePayment: it is not an open invoice of this customer.")
            open_balance = invoice["total"] - self._applied_to_invoice(invoice["txn_id"])
            paid = cents(_d(text(app, "PaymentAmount") or "0.00", "PaymentAmount"))
            credit_total = 0
            for credit in app.findall("SetCredit"):
                memo = self._txn_row(text(credit, "CreditTxnID"))
                applied = cents(_d(text(credit, "AppliedAmount"), "AppliedAmount"))
                if memo["txn_type"] != "CreditMemo" or memo["customer_id"] != customer_id:
                    raise Refusal(3140, f'There is an invalid reference to QuickBooks CreditMemo "{memo["txn_id"]}" '
                                        "in the ReceivePayment.")
                if applied > memo["total"] - self._credit_used(memo["txn_id"]):
                    raise Refusal(3210, f'The "SetCredit AppliedAmount" field has an invalid value '
                                        f'"{amount(applied)}". QuickBooks error message: The credit amount '
                                        "exceeds the available credit.")
                credit_total += applied
                self.db.execute("INSERT INTO applications VALUES (?,?,?,?,?)",
                                (payment_id, invoice["txn_id"], memo["txn_id"], applied, seq))
            if paid + credit_total > open_balance:
                raise Refusal(3210, f'The "AppliedToTxnAdd PaymentAmount" field has an invalid value '
                                    f'"{amount(paid)}". QuickBooks error message: You cannot pay more than '
                                    "the amount due.")
            if paid:
                self.db.execute("INSERT INTO applications VALUES (?,?,?,?,?)",
                                (payment_id, invoice["txn_id"], None, paid, seq))
            cash += paid
        if cash > total:
            raise Refusal(3210, f"The amounts applied ({amount(cash)}) exceed the payment's total "
                                f"({amount(total)}).")

    def payment_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("ReceivePaymentAdd")
        if add.find("IsAutoApply") is None and add.find("AppliedToTxnAdd") is None:
            raise ConnectionFailure(HRESULT_PARSE, PARSE_MESSAGE,
                                    "ReceivePaymentAdd needs IsAutoApply or AppliedToTxnAdd")
        if text(add, "IsAutoApply") == "true":
            raise Refusal(3250, "IsAutoApply=true is not supported by booksync's simulator.")
        customer = self._list_row(add.find("CustomerRef"), ("Customer",), "Customer", "ReceivePayment")
        txn_date = self._txn_date(add)
        self._check_open_period("ReceivePayment", txn_date)
        total = cents(_d(text(add, "TotalAmount") or "0.00", "TotalAmount"))
        method = None
        if add.find("PaymentMethodRef") is not None:
            method = self._list_row(add.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                    "ReceivePayment")["list_id"]
        account = self._deposit_account(add)
        txn_id = self._new_txn("ReceivePayment", customer_id=customer["list_id"], txn_date=txn_date,
                               ref_number=text(add, "RefNumber"), memo=text(add, "Memo"), total=total,
                               account_id=account, method_id=method, external_guid=text(add, "ExternalGUID"))
        self._apply(txn_id, customer["list_id"], total, add.findall("AppliedToTxnAdd"))
        return self._ok([self.txn_ret(self._txn_row(txn_id))])

    def payment_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("ReceivePaymentMod")
        row = self._txn_row(text(mod, "TxnID"), "ReceivePayment")
        self._check_edit_seq(row["edit_seq"], mod)
        deposit = self._deposit_of(row["txn_id"])
        if deposit is not None:
            raise Refusal(3170, f"The payment {row['ref_number'] or row['txn_id']} has been deposited (deposit of "
                                f"{deposit['txn_date']}, {amount(deposit['total'])}). It cannot be changed until it "
                                "is removed from the deposit.")
        cols: dict[str, Any] = {}
        if mod.find("CustomerRef") is not None:
            cols["customer_id"] = self._list_row(mod.find("CustomerRef"), ("Customer",), "Customer",
                                                 "ReceivePayment")["list_id"]
        if mod.find("TxnDate") is not None:
            cols["txn_date"] = self._txn_date(mod)
        self._check_open_period("ReceivePayment", row["txn_date"], cols.get("txn_date"))
        if mod.find("TotalAmount") is not None:
            cols["total"] = cents(_d(text(mod, "TotalAmount"), "TotalAmount"))
        if mod.find("DepositToAccountRef") is not None:
            cols["account_id"] = self._deposit_account(mod)
        if mod.find("PaymentMethodRef") is not None:
            cols["method_id"] = self._list_row(mod.find("PaymentMethodRef"), ("PaymentMethod",), "PaymentMethod",
                                               "ReceivePayment")["list_id"]
        for tag, col in (("RefNumber", "ref_number"), ("Memo", "memo")):
            if mod.find(tag) is not None:
                cols[col] = text(mod, tag)
        apps = mod.findall("AppliedToTxnMod")
        customer_id = cols.get("customer_id", row["customer_id"])
        if apps or customer_id != row["customer_id"]:
            self.db.execute("DELETE FROM applications WHERE payment_id=?", (row["txn_id"],))
            self._apply(row["txn_id"], customer_id, cols.get("total", row["total"]), apps)
        elif "total" in cols and cols["total"] < self._cash_applied(row["txn_id"]):
            raise Refusal(3210, "The payment's total would be less than the amount applied to invoices.")
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                        [*cols.values(), row["txn_id"]])
        return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])

    # ------------------------------------------------------------------ deposits

    def _deposit_lines(self, el: etree._Element, tag: str, deposit_id: str | None) -> list[dict[str, Any]]:
        lines = []
        existing = {r["line_id"]: r for r in self.db.execute("SELECT * FROM lines WHERE txn_id=?", (deposit_id,))} \
            if deposit_id else {}
        for line in el.findall(tag):
            payment_id = text(line, "PaymentTxnID")
            line_id = text(line, "TxnLineID")
            if line_id and line_id != "-1" and line_id not in existing:
                raise Refusal(3120, f'Object "{line_id}" specified in the request cannot be found.')
            if line_id in existing and not payment_id and line.find("AccountRef") is None:
                kept = existing[line_id]   # only the TxnLineID: the line stays as it is
                lines.append({k: kept[k] for k in ("payment_id", "amount", "account_id", "line_id")}
                             | {"descr": kept["descr"]})
                continue
            if payment_id:
                payment = self._txn_row(payment_id)
                if payment["txn_type"] not in DEPOSITED_TYPES:
                    raise Refusal(3120, f'Object "{payment_id}" specified in the request cannot be found.')
                uf = self.db.execute("SELECT special FROM lists WHERE list_id=?", (payment["account_id"],)).fetchone()
                if uf is None or uf["special"] != "UndepositedFunds":
                    raise Refusal(3140, f'The payment "{payment_id}" was not received into Undeposited Funds '
                                        "and cannot be deposited.")
                # A sales receipt received into Undeposited Funds waits to be deposited as a payment does: QuickBooks
                # lists both as ReceivePaymentToDepositRet (TxnType ReceivePayment or SalesReceipt,
                # qbxmlops130-annotated.xml l.26378) and Online links both in a deposit (reference/
                # quickbooks-online.md §3.4).
                other = self._deposit_of(payment_id)
                if other is not None and other["txn_id"] != deposit_id:
                    raise Refusal(3140, f'The payment "{payment_id}" is already in another deposit.')
                lines.append({"payment_id": payment_id, "amount": payment["total"],
                              "descr": text(line, "OverrideMemo"), "line_id": text(line, "TxnLineID")})
            else:
                account = self._list_row(line.find("AccountRef"), ("Account",), "Account", "Deposit")
                lines.append({"account_id": account["list_id"], "amount": cents(_d(text(line, "Amount"), "Amount")),
                              "descr": text(line, "Memo"), "line_id": text(line, "TxnLineID")})
        return lines

    def deposit_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("DepositAdd")
        account = self._list_row(add.find("DepositToAccountRef"), ("Account",), "Account", "Deposit")
        if account["account_type"] not in BANK_LIKE:
            raise Refusal(3140, f'There is an invalid reference to QuickBooks Account "{account["full_name"]}" '
                                "in the Deposit.")
        txn_date = self._txn_date(add)
        self._check_open_period("Deposit", txn_date)
        lines = self._deposit_lines(add, "DepositLineAdd", None)
        txn_id = self._new_txn("Deposit", txn_date=txn_date, memo=text(add, "Memo"), account_id=account["list_id"],
                               total=sum(line["amount"] for line in lines), external_guid=text(add, "ExternalGUID"))
        self._insert_lines(txn_id, lines)
        return self._ok([self.txn_ret(self._txn_row(txn_id))])

    def deposit_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("DepositMod")
        row = self._txn_row(text(mod, "TxnID"), "Deposit")
        self._check_edit_seq(row["edit_seq"], mod)
        cols: dict[str, Any] = {}
        if mod.find("TxnDate") is not None:
            cols["txn_date"] = self._txn_date(mod)
        self._check_open_period("Deposit", row["txn_date"], cols.get("txn_date"))
        if mod.find("DepositToAccountRef") is not None:
            cols["account_id"] = self._list_row(mod.find("DepositToAccountRef"), ("Account",), "Account",
                                                "Deposit")["list_id"]
        if mod.find("Memo") is not None:
            cols["memo"] = text(mod, "Memo")
        if mod.find("DepositLineMod") is not None:
            lines = self._deposit_lines(mod, "DepositLineMod", row["txn_id"])
            self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
            self._insert_lines(row["txn_id"], lines)
            cols["total"] = sum(line["amount"] for line in lines)
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE txns SET {','.join(f'{k}=?' for k in cols)} WHERE txn_id=?",
                        [*cols.values(), row["txn_id"]])
        return self._ok([self.txn_ret(self._txn_row(row["txn_id"]))])

    # ------------------------------------------------------------------ delete and void

    @staticmethod
    def _del_ret(tag: str, type_tag: str, row: sqlite3.Row) -> list[etree._Element]:
        """The TxnDelRet / TxnVoidRet group: its elements sit directly inside the Rs (qbxmlops130.xsd)."""
        out = []
        for name, value in ((type_tag, row["txn_type"]), ("TxnID", row["txn_id"]),
                            ("TimeDeleted" if tag == "TxnDel" else "TimeModified", now_text()),
                            ("RefNumber", row["ref_number"])):
            if value:
                el = etree.Element(name)
                el.text = value
                out.append(el)
        return out

    def txn_del(self, rq: etree._Element) -> etree._Element:
        txn_type = text(rq, "TxnDelType")
        row = self._txn_row(text(rq, "TxnID"), txn_type)
        self._check_open_period(txn_type, row["txn_date"])
        if txn_type in DEPOSITED_TYPES and self._deposit_of(row["txn_id"]) is not None:
            deposit = self._deposit_of(row["txn_id"])
            what = "payment" if txn_type == "ReceivePayment" else "sales receipt"
            raise Refusal(3160, f"The {what} {row['ref_number'] or row['txn_id']} cannot be deleted because it "
                                f"is part of the deposit of {deposit['txn_date']}. Remove it from the deposit first.")
        if txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]):
            raise Refusal(3160, f"The invoice {row['ref_number']} cannot be deleted because payments or credits "
                                "are applied to it.")
        if txn_type == "CreditMemo" and self._credit_used(row["txn_id"]):
            raise Refusal(3160, f"The credit memo {row['ref_number']} cannot be deleted because it is applied.")
        ret = self._del_ret("TxnDel", "TxnDelType", row)
        self.db.execute("DELETE FROM applications WHERE payment_id=?", (row["txn_id"],))
        self.db.execute("DELETE FROM lines WHERE txn_id=?", (row["txn_id"],))
        self.db.execute("DELETE FROM txns WHERE txn_id=?", (row["txn_id"],))
        return self._ok(ret)

    def txn_void(self, rq: etree._Element) -> etree._Element:
        txn_type = text(rq, "TxnVoidType")
        if txn_type not in ("Invoice", "CreditMemo", "SalesReceipt", "Deposit"):
            raise Refusal(3020, f'TxnVoid does not support "{txn_type}" in booksync\'s simulator.')
        row = self._txn_row(text(rq, "TxnID"), txn_type)
        self._check_open_period(txn_type, row["txn_date"])
        if txn_type == "Invoice" and self._applied_to_invoice(row["txn_id"]):
            raise Refusal(3170, f"The invoice {row['ref_number']} has payments or credits applied. Remove them "
                                "before voiding it.")
        if txn_type == "CreditMemo" and self._credit_used(row["txn_id"]):
            raise Refusal(3170, f"The credit memo {row['ref_number']} is applied to invoices. Remove the "
                                "application before voiding it.")
        if txn_type == "SalesReceipt":
            self._refuse_deposited(row, 3170, "voided")
        self.db.execute("UPDATE lines SET amount=0 WHERE txn_id=?", (row["txn_id"],))
        memo = row["memo"] or ""
        self.db.execute("UPDATE txns SET total=0, is_voided=1, memo=?, edit_seq=?, modified=? WHERE txn_id=?",
                        ("VOID: " + memo if not memo.startswith("VOID:") else memo, self.new_edit_seq(),
                         now_text(), row["txn_id"]))
        return self._ok(self._del_ret("TxnVoid", "TxnVoidType", row))
