"""What the QuickBooks Online test double checks and builds for each entity on create and update (customers,
vendors, employees, accounts, items, payment methods, invoices, credit memos, payments, deposits), and how a
payment's lines apply to invoices and credit memos. The rules and their sources: the docstring of
:mod:`booksync.qbo_double.company`.
"""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from booksync.qbo_double.rules import (CENT, CLASSIFICATION, DEPOSIT_TYPES, DEPOSITED, Fault, exact_amount,
                                       length_errors, ref_id)


class EntityRules:
    """The builders of :class:`~booksync.qbo_double.company.Company`: each ``_build_ENTITY(body, current)``
    validates a create (``current`` None) or an update and returns the object to store."""

    # ------------------------------------------------------------------ builders: validate, return the new object

    def _people(self, entity: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        name = str(body.get("DisplayName") or "").strip()
        if not name:
            name = " ".join(str(body.get(k) or "") for k in ("GivenName", "FamilyName")).strip() or \
                str(body.get("CompanyName") or "").strip()
        if not name:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter DisplayName is missing in the request", "DisplayName")
        length_errors([("DisplayName", name, 500), ("CompanyName", body.get("CompanyName"), 100),
                        ("GivenName", body.get("GivenName"), 100), ("FamilyName", body.get("FamilyName"), 100),
                        ("Notes", body.get("Notes"), 2000),
                        ("PrimaryPhone.FreeFormNumber", (body.get("PrimaryPhone") or {}).get("FreeFormNumber"), 30),
                        ("PrimaryEmailAddr.Address", (body.get("PrimaryEmailAddr") or {}).get("Address"), 100)])
        self._name_free(entity, name, current["Id"] if current else None, "DisplayName")
        return {**body, "DisplayName": name, "FullyQualifiedName": name, "PrintOnCheckName": name,
                "Active": bool(body.get("Active", True))}

    def _build_customer(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        return {**self._people("Customer", body, current), "Job": False}

    def _build_vendor(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        return self._people("Vendor", body, current)

    def _build_employee(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        return self._people("Employee", body, current)

    def _build_account(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        name = str(body.get("Name") or "")
        if not name or ":" in name or '"' in name:
            raise Fault(2010, "Request has invalid or unsupported property",
                        "Account Name is required and cannot contain a colon or a double quote", "Name")
        length_errors([("Name", name, 100)])
        qbo_type = body.get("AccountType") or ""
        if qbo_type not in CLASSIFICATION:
            raise Fault(2170, "Invalid Enumeration", f"Invalid Enumeration : {qbo_type}", "AccountType")
        full = name
        if body.get("ParentRef"):
            parent = self._reference("Account", body["ParentRef"], "ParentRef")
            full = f"{parent['FullyQualifiedName']}:{name}"
        self._name_free("Account", full, current["Id"] if current else None, "Name")
        return {**body, "FullyQualifiedName": full, "Classification": CLASSIFICATION[qbo_type],
                "SubAccount": bool(body.get("ParentRef")), "Active": bool(body.get("Active", True)),
                "CurrentBalance": Decimal("0.00"), "CurrentBalanceWithSubAccounts": Decimal("0.00")}

    def _build_item(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        name = str(body.get("Name") or "")
        if not name:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter Name is missing in the request", "Name")
        length_errors([("Name", name, 100), ("Description", body.get("Description"), 4000)])
        self._name_free("Item", name, current["Id"] if current else None, "Name")
        item_type = body.get("Type") or "Service"
        if item_type in ("Service", "NonInventory"):
            account = self._reference("Account", body.get("IncomeAccountRef"), "IncomeAccountRef")
            if account["AccountType"] in ("Accounts Receivable", "Accounts Payable"):
                raise Fault(6430, "Invalid account type",
                            "Invalid account type : You need to select a different type of account for this item "
                            f"(\"{account['FullyQualifiedName']}\" is {account['AccountType']}).", "IncomeAccountRef")
            body["IncomeAccountRef"] = {"value": account["Id"], "name": account["FullyQualifiedName"]}
        return {**body, "Type": item_type, "FullyQualifiedName": name, "Active": bool(body.get("Active", True))}

    def _build_class(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """A Class: Name (≤100), ParentRef (a sub-class: FullyQualifiedName "Parent:Name"), Active (Intuit's Class
        page); the full name unique among classes (6240)."""
        name = str(body.get("Name") or "")
        if not name:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter Name is missing in the request", "Name")
        length_errors([("Name", name, 100)])
        full = name
        if body.get("ParentRef"):
            parent = self._reference("Class", body["ParentRef"], "ParentRef")
            full = f"{parent['FullyQualifiedName']}:{name}"
        self._name_free("Class", full, current["Id"] if current else None, "Name")
        return {**body, "FullyQualifiedName": full, "SubClass": bool(body.get("ParentRef")),
                "Active": bool(body.get("Active", True))}

    def _build_paymentmethod(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        name = str(body.get("Name") or "")
        if not name:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter Name is missing in the request", "Name")
        length_errors([("Name", name, 31)])
        if body.get("Type", "NON_CREDIT_CARD") not in ("CREDIT_CARD", "NON_CREDIT_CARD"):
            raise Fault(2170, "Invalid Enumeration", f"Invalid Enumeration : {body.get('Type')}", "Type")
        self._name_free("PaymentMethod", name, current["Id"] if current else None, "Name")
        return {**body, "Type": body.get("Type", "NON_CREDIT_CARD"), "Active": bool(body.get("Active", True))}

    def _txn_date(self, body: dict[str, Any]) -> str:
        date = str(body.get("TxnDate") or dt.date.fromtimestamp(self.clock()).isoformat())
        try:
            dt.date.fromisoformat(date[:10])
        except ValueError:
            raise Fault(2010, "Request has invalid or unsupported property", f"TxnDate {date!r}", "TxnDate") from None
        return date[:10]

    def _line_item(self, detail: dict[str, Any], n: int) -> dict[str, Any]:
        """The item of sales line ``n``: it exists and is active (2500, 610), and is not a Group (a bundle goes on a
        sale as a GroupLine) or a Category (it holds no sales): reference §3.2, line types; 6000, double's wording."""
        item = self._reference("Item", detail.get("ItemRef"), "Line.SalesItemLineDetail.ItemRef")
        if item.get("Type") in ("Group", "Category"):
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        f"Line {n + 1}: item \"{item['Name']}\" is a {item['Type']} item; a sales item line "
                        "takes a Service, NonInventory or Inventory item", "Line.SalesItemLineDetail.ItemRef")
        return item

    def _sales(self, entity: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        customer = self._reference("Customer", body.get("CustomerRef"), "CustomerRef")
        date = self._txn_date(body)
        self._closed(date)
        length_errors([("DocNumber", body.get("DocNumber"), 21), ("PrivateNote", body.get("PrivateNote"), 4000),
                        ("CustomerMemo.value", (body.get("CustomerMemo") or {}).get("value"), 1000)])
        doc = body.get("DocNumber")
        if doc:
            for other in self.entities[entity].values():
                if other.get("DocNumber") == doc and (current is None or other["Id"] != current["Id"]):
                    raise Fault(6140, "Duplicate Document Number Error",
                                f"Duplicate Document Number Error : You must specify a different number. This number "
                                f"has already been used. DocNumber={doc} is assigned to TxnType={entity} with "
                                f"TxnId={other['Id']}", "DocNumber")
        lines, total = [], Decimal("0.00")
        for n, line in enumerate(l for l in body.get("Line") or [] if l.get("DetailType") != "SubTotalLineDetail"):
            if line.get("DetailType") != "SalesItemLineDetail":
                raise Fault(2010, "Request has invalid or unsupported property",
                            f"Line {n + 1}: DetailType {line.get('DetailType')!r} is not supported by the double",
                            "Line.DetailType")
            detail = dict(line.get("SalesItemLineDetail") or {})
            item = self._line_item(detail, n)
            if detail.get("ClassRef"):
                klass = self._reference("Class", detail["ClassRef"], "Line.SalesItemLineDetail.ClassRef")
                detail["ClassRef"] = {"value": klass["Id"], "name": klass["FullyQualifiedName"]}
            amount = exact_amount(line.get("Amount"), "Line.Amount")
            if detail.get("Qty") is not None and detail.get("UnitPrice") is not None:
                expected = (Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"]))).quantize(
                    CENT, rounding=ROUND_HALF_UP)
                if expected != amount:
                    raise Fault(6070, "Amount is not equal to UnitPrice * Qty",
                                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", "Line.Amount")
            detail["ItemRef"] = {"value": item["Id"], "name": item["Name"]}
            lines.append({"Id": str(n + 1), "LineNum": n + 1, "DetailType": "SalesItemLineDetail", "Amount": amount,
                          **({"Description": line["Description"]} if line.get("Description") else {}),
                          "SalesItemLineDetail": detail})
            total += amount
        if not lines:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter Line is missing in the request", "Line")
        lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        obj = {**body, "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]}, "TxnDate": date,
               "Line": lines, "TotalAmt": total}
        if entity != "SalesReceipt":  # paid at once: nothing open to apply to
            self._open_amount(entity, obj, customer["Id"], current)
        return obj

    @staticmethod
    def _open_amount(entity: str, obj: dict[str, Any], customer_id: str, current: dict[str, Any] | None) -> None:
        """An invoice's Balance or a credit memo's RemainingCredit: its total less what payments and credits apply
        to it, which an update may neither exceed nor move to another customer (6000)."""
        total, applied = obj["TotalAmt"], Decimal("0.00")
        if current is not None:
            balance_key = "Balance" if entity == "Invoice" else "RemainingCredit"
            applied = current["TotalAmt"] - current[balance_key]
            if applied and customer_id != ref_id(current.get("CustomerRef")):
                raise Fault(6000, "A business validation error has occurred while processing your request",
                            f"Business Validation Error: This {entity} has payments or credits applied; remove them "
                            "before changing its customer.")
            if total < applied:
                raise Fault(6000, "A business validation error has occurred while processing your request",
                            f"Business Validation Error: The {entity} total {total} would be less than the "
                            f"{applied} already applied to it.")
        obj["Balance" if entity == "Invoice" else "RemainingCredit"] = total - applied

    def _build_invoice(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        return self._sales("Invoice", body, current)

    def _build_creditmemo(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        return self._sales("CreditMemo", body, current)

    def _build_salesreceipt(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """A sale paid at once (Intuit SalesReceipt page): lines as an invoice's (DocNumber unique among sales
        receipts, 6140), PaymentRefNum at most 21, PaymentMethodRef an existing method, the money deposited to
        DepositToAccountRef, Undeposited Funds when left out, and only to a Bank or Other Current Asset account
        (as a payment's, reference §3.3); the customer's Balance does not move (:meth:`Company.balances`)."""
        length_errors([("PaymentRefNum", body.get("PaymentRefNum"), 21)])
        if body.get("PaymentMethodRef"):
            self._reference("PaymentMethod", body["PaymentMethodRef"], "PaymentMethodRef")
        account = (self._reference("Account", body["DepositToAccountRef"], "DepositToAccountRef")
                   if ref_id(body.get("DepositToAccountRef")) else self.undeposited_funds())
        if account["AccountType"] not in DEPOSIT_TYPES:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        f"Business Validation Error: Invalid account type for deposits: \"{account['FullyQualifiedName']}"
                        f"\" is {account['AccountType']}; a sales receipt can be deposited only to a Bank or Other "
                        "Current Asset account such as Undeposited Funds.", "DepositToAccountRef")
        obj = self._sales("SalesReceipt", body, current)
        obj["DepositToAccountRef"] = {"value": account["Id"], "name": account["FullyQualifiedName"]}
        return obj

    def _build_payment(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        customer = self._reference("Customer", body.get("CustomerRef"), "CustomerRef")
        date = self._txn_date(body)
        self._closed(date)
        length_errors([("PaymentRefNum", body.get("PaymentRefNum"), 21),
                        ("PrivateNote", body.get("PrivateNote"), 4000)])
        if body.get("TotalAmt") is None:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter TotalAmt is missing in the request", "TotalAmt")
        total = exact_amount(body["TotalAmt"], "TotalAmt")
        if body.get("PaymentMethodRef"):
            self._reference("PaymentMethod", body["PaymentMethodRef"], "PaymentMethodRef")
        account = (self._reference("Account", body["DepositToAccountRef"], "DepositToAccountRef")
                   if ref_id(body.get("DepositToAccountRef")) else self.undeposited_funds())
        if account["AccountType"] not in DEPOSIT_TYPES:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        f"Business Validation Error: Invalid account type for deposits: \"{account['FullyQualifiedName']}"
                        f"\" is {account['AccountType']}; a payment can be deposited only to a Bank or Other Current "
                        "Asset account such as Undeposited Funds.", "DepositToAccountRef")
        # What this payment may use: current balances, plus what it already holds when it is being updated.
        own: dict[tuple[str, str], Decimal] = {}
        if current is not None:
            for kind, tid, amount in self._links(current):
                own[(kind, tid)] = own.get((kind, tid), Decimal("0.00")) + amount
        wanted: dict[tuple[str, str], Decimal] = {}
        lines = []
        for line in body.get("Line") or []:
            amount = exact_amount(line.get("Amount"), "Line.Amount")
            linked = (line.get("LinkedTxn") or [{}])[0]
            kind, tid = linked.get("TxnType"), str(linked.get("TxnId", ""))
            if kind not in ("Invoice", "CreditMemo"):
                raise Fault(2010, "Request has invalid or unsupported property",
                            f"LinkedTxn TxnType {kind!r} is not supported by the double", "Line.LinkedTxn.TxnType")
            target = self.find(kind, tid)
            if target is None:
                raise Fault(610, "Object Not Found", f"Object Not Found : {kind} {tid} does not exist.",
                            "Line.LinkedTxn.TxnId")
            if ref_id(target.get("CustomerRef")) != customer["Id"]:
                raise Fault(6000, "A business validation error has occurred while processing your request",
                            f"Business Validation Error: {kind} {tid} belongs to another customer.",
                            "Line.LinkedTxn")
            wanted[(kind, tid)] = wanted.get((kind, tid), Decimal("0.00")) + amount
            lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": tid, "TxnType": kind}]})
        for (kind, tid), amount in wanted.items():
            target = self.find(kind, tid)
            available = target["Balance" if kind == "Invoice" else "RemainingCredit"] + own.get((kind, tid), 0)
            if amount > available:
                raise Fault(6000, "A business validation error has occurred while processing your request",
                            f"Business Validation Error: {amount} applied to {kind} {target.get('DocNumber') or tid} "
                            f"exceeds its open {'balance' if kind == 'Invoice' else 'credit'} of {available}.",
                            "Line.Amount")
        invoices = sum((a for (k, _), a in wanted.items() if k == "Invoice"), Decimal("0.00"))
        credits = sum((a for (k, _), a in wanted.items() if k == "CreditMemo"), Decimal("0.00"))
        if credits > invoices or invoices - credits > total:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        f"Business Validation Error: The amounts applied (invoices {invoices}, credits {credits}) do "
                        f"not fit the payment's total {total}.", "TotalAmt")
        return {**body, "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]}, "TxnDate": date,
                "TotalAmt": total, "UnappliedAmt": total - (invoices - credits), "Line": lines,
                "DepositToAccountRef": {"value": account["Id"], "name": account["FullyQualifiedName"]}}

    def _build_deposit(self, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        date = self._txn_date(body)
        self._closed(date)
        ref = body.get("DepositToAccountRef")
        account = self._reference("Account", ref, "DepositToAccountRef", required=False)
        if account is None or account["AccountType"] not in DEPOSIT_TYPES:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        "Business Validation Error: Select a bank account for this deposit.", "DepositToAccountRef")
        undeposited = self.undeposited_funds()["Id"]
        lines, total, payments = [], Decimal("0.00"), []
        # Direct lines keep their Id when sent back with it; new ones get the next (Intuit Deposit page, Line.Id).
        # A linked line (a payment moved out of Undeposited Funds) has no Id at all, as QuickBooks Online returns
        # it: {Amount, LinkedTxn} only (ruckus/quickbooks-ruby spec/fixtures/deposit.xml, where the direct line
        # after it is Id 1, and fetch_deposit_by_id.xml).
        known = {str(ln.get("Id")) for ln in (current or {}).get("Line") or [] if ln.get("Id")}
        next_line = itertools.count(max([int(i) for i in known if i.isdigit()] or [0]) + 1)
        for sent in body.get("Line") or []:
            amount = exact_amount(sent.get("Amount"), "Line.Amount")
            line = {k: v for k, v in sent.items() if k != "Id"}
            line["Amount"] = amount
            if not line.get("LinkedTxn"):
                line["Id"] = str(sent["Id"]) if str(sent.get("Id")) in known else str(next(next_line))
            if line.get("LinkedTxn"):
                linked = line["LinkedTxn"][0]
                if not linked.get("TxnLineId"):
                    raise Fault(2020, "Required param missing, need to supply the required value for the API",
                                "Required parameter Line.LinkedTxn.TxnLineId is missing in the request",
                                "Line.LinkedTxn.TxnLineId")
                kind = linked.get("TxnType")
                payment = self.find(kind, str(linked.get("TxnId", ""))) if kind in DEPOSITED else None
                if payment is None:
                    raise Fault(610, "Object Not Found", "Object Not Found : the linked payment does not exist.",
                                "Line.LinkedTxn.TxnId")
                holder = self.deposited.get(payment["Id"])
                if ref_id(payment.get("DepositToAccountRef")) != undeposited or (
                        holder and (current is None or holder != current["Id"])):
                    raise Fault(6000, "A business validation error has occurred while processing your request",
                                f"Business Validation Error: Payment {payment['Id']} is not in Undeposited Funds.",
                                "Line.LinkedTxn")
                payments.append(payment["Id"])
            elif line.get("DetailType") == "DepositLineDetail":
                self._reference("Account", (line.get("DepositLineDetail") or {}).get("AccountRef"),
                                "Line.DepositLineDetail.AccountRef")
            else:
                raise Fault(2020, "Required param missing, need to supply the required value for the API",
                            "Line.DepositLineDetail.AccountRef is missing in the request",
                            "Line.DepositLineDetail.AccountRef")
            lines.append(line)
            total += amount
        if not lines:
            raise Fault(2020, "Required param missing, need to supply the required value for the API",
                        "Required parameter Line is missing in the request", "Line")
        return {**body, "TxnDate": date, "Line": lines, "TotalAmt": total, "_payments": payments,
                "DepositToAccountRef": {"value": account["Id"], "name": account["FullyQualifiedName"]}}

    # ------------------------------------------------------------------ applications

    @staticmethod
    def _links(payment: dict[str, Any]) -> list[tuple[str, str, Decimal]]:
        out = []
        for line in payment.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                out.append((linked["TxnType"], str(linked["TxnId"]), line["Amount"]))
        return out

    def _apply(self, payment: dict[str, Any], sign: int = 1) -> None:
        for kind, tid, amount in self._links(payment):
            target = self.find(kind, tid)
            if target is not None:
                key = "Balance" if kind == "Invoice" else "RemainingCredit"
                target[key] = target[key] - sign * amount
                # QuickBooks Online raises the SyncToken of an invoice a payment is applied to or taken off
                # (LanternOps/breeze#4624: invoice updates after a payment fail with 5010 on the old token).
                target["SyncToken"] = str(int(target["SyncToken"]) + 1)
                target["MetaData"] = {**target.get("MetaData", {}), "LastUpdatedTime": self.now()}

    def _unapply(self, payment: dict[str, Any]) -> None:
        self._apply(payment, sign=-1)
