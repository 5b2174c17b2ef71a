"""The accounting model of the QuickBooks Online test double: one company (realm) in memory.

Entities are kept as QuickBooks Online JSON objects (amounts as ``Decimal``); keys starting with
``_`` are the double's own bookkeeping and never leave it. Every rule below is QuickBooks Online's
documented behaviour, with its source in reference/quickbooks-online.md (§ numbers); where the
reference gives no code or wording, the double's choice is marked "double's wording".

* ``Id`` assigned on create; ``SyncToken`` "0" on create, +1 on every change; an update, void or delete
  with another SyncToken → **5010** Stale Object Error (§2).
* Customer, Vendor and Employee ``DisplayName`` unique across the three, case-insensitively → **6240**;
  Item and PaymentMethod names unique in their list → 6240 (§3.1).
* References must exist (**2500** Invalid Reference Id) and be active (**610** Object Not Found,
  "made inactive") (§3.1, §6).
* A service item's IncomeAccountRef cannot be Accounts Receivable/Payable → **6430** (§3.1).
* A payment's DepositToAccountRef must be Bank or Other Current Asset; omitted → Undeposited Funds
  (§3.1); otherwise **6000** (double's wording).
* DocNumber unique per transaction type → **6140**; DocNumber ≤ 21, PrivateNote ≤ 4000, names ≤ their
  limits → **2050**, every over-long field reported (one Error each) (§4).
* Changes dated on or before ``BookCloseDate`` → **6210** Account Period Closed (§6, "Closed books").
* A payment in a deposit cannot be changed, voided or deleted → **6540** (§3.4).
* Payment lines link invoices (their Balance drops) and credit memos (their RemainingCredit drops), and
  raise their SyncToken (LanternOps/breeze#4624);
  applied invoice amounts − credits ≤ TotalAmt (§3.3); paying more than an invoice's balance → 6000.
* An invoice or credit memo with payments or credits applied cannot be voided or deleted (integrator
  report, §3.2) or reduced below what is applied → 6000 (double's wording).
* Line Amount must equal Qty × UnitPrice when both are given → 6070 (double's wording).
* A Class's Name is unique among classes (6240, §3.1); a ClassRef, on a sales line or a transaction, must exist
  and be active (2500, 610).
* A SalesItemLine's ItemRef names a Service, NonInventory or Inventory item: a Group (bundle) goes on a sale as a
  GroupLine and a Category holds no sales (§3.2, line types) → 6000 (double's wording).
* Customer ``Balance`` = invoices − credit memos − payments of the customer (open balance).
* A customer with an open balance cannot be made inactive (``Active: false``, QuickBooks Online's "delete" of a
  name-list entity): "Delete List Has Balance Error" (ruckus/quickbooks-ruby#390, which shows the message and detail
  but not the code: **6000** is the double's choice).
"""
from __future__ import annotations

import copy
import datetime as dt
import itertools
from decimal import Decimal
from typing import Any, Callable

from booksync.demo.company import STANDARD_CHART, STANDARD_PAYMENT_METHODS, STANDARD_VENDORS
from booksync.qbo_double.entities import EntityRules
from booksync.qbo_double.rules import (DEPOSITED, ENTITIES, INACTIVE_DETAIL, NAME_LISTS, PEOPLE,  # noqa: F401 - NAME_LISTS
                                       QBO_ACCOUNT_TYPES, STALE_DETAIL, TRANSACTIONS, Fault, ref_id)


class Company(EntityRules):
    """One QuickBooks Online company of the double. Not thread-safe: the double holds a lock around it."""

    def __init__(self, realm_id: str, name: str, clock: Callable[[], float], seed: bool = True) -> None:
        self.realm_id = realm_id
        self.name = name
        self.clock = clock
        self.entities: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self._ids = itertools.count(1)
        self.book_close_date: str | None = None
        self.custom_txn_numbers = True
        self.class_tracking = ""
        """Preferences AccountingInfoPrefs: "" (Track classes off), "line" (ClassTrackingPerTxnLine: one class per
        transaction line) or "txn" (ClassTrackingPerTxn: one per transaction)."""
        self.deposited: dict[str, str] = {}
        """payment Id → deposit Id."""
        self.writes = 0
        """Entities created, changed, voided or deleted (the double's measure of "something was sent")."""
        if seed:
            self.seed()

    # ------------------------------------------------------------------ seeding, reading

    def seed(self) -> None:
        """A chart of accounts like the simulator's STANDARD_CHART (sub-accounts as Parent:Child), its payment
        methods and vendors, and one employee (so names are unique across three lists)."""
        by_name: dict[str, str] = {}
        for account in STANDARD_CHART:
            qbo_type, subtype = QBO_ACCOUNT_TYPES[account["type"]]
            if account.get("special") == "UndepositedFunds":
                subtype = "UndepositedFunds"
            elif account["name"] == "Savings":
                subtype = "Savings"
            body: dict[str, Any] = {"Name": account["name"], "AccountType": qbo_type, "AccountSubType": subtype,
                                    "AcctNum": account.get("number", "")}
            if account.get("parent"):
                body["SubAccount"] = True
                body["ParentRef"] = {"value": by_name[account["parent"]]}
            row = self.create("Account", body)
            by_name[row["FullyQualifiedName"]] = row["Id"]
        for name, method_type in STANDARD_PAYMENT_METHODS:
            card = method_type in ("Visa", "MasterCard", "AmericanExpress", "Discover")
            self.create("PaymentMethod", {"Name": name, "Type": "CREDIT_CARD" if card else "NON_CREDIT_CARD"})
        for name in STANDARD_VENDORS:
            self.create("Vendor", {"DisplayName": name, "CompanyName": name})
        self.create("Employee", {"DisplayName": "Jordan Ellis", "GivenName": "Jordan", "FamilyName": "Ellis"})
        self.writes = 0

    def now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).isoformat(timespec="seconds")

    def _new_id(self) -> str:
        return str(next(self._ids))

    def find(self, entity: str, ident: str) -> dict[str, Any] | None:
        return self.entities[entity].get(str(ident))

    def out(self, entity: str, obj: dict[str, Any], balances: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The object as QuickBooks Online shows it (bookkeeping removed, customer Balance computed)."""
        shown = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
        if entity == "Customer":
            balances = balances if balances is not None else self.balances()
            shown["Balance"] = balances.get(obj["Id"], Decimal("0.00"))
            shown["BalanceWithJobs"] = shown["Balance"]
        shown["domain"] = "QBO"
        shown["sparse"] = False
        return shown

    def balances(self) -> dict[str, Decimal]:
        """Customer Id → open balance: invoices − credit memos − payments (voided ones count 0)."""
        out: dict[str, Decimal] = {}
        for entity, sign in (("Invoice", 1), ("CreditMemo", -1), ("Payment", -1)):
            for txn in self.entities[entity].values():
                cid = ref_id(txn.get("CustomerRef"))
                out[cid] = out.get(cid, Decimal("0.00")) + sign * txn["TotalAmt"]
        return out

    def undeposited_funds(self) -> dict[str, Any]:
        for account in self.entities["Account"].values():
            if account.get("AccountSubType") == "UndepositedFunds":
                return account
        raise Fault(6000, "A business validation error has occurred while processing your request",
                    "There is no Undeposited Funds account in this company.")

    # ------------------------------------------------------------------ shared checks

    def _reference(self, entity: str, ref: Any, element: str, required: bool = True) -> dict[str, Any] | None:
        ident = ref_id(ref)
        if not ident:
            if required:
                raise Fault(2020, "Required param missing, need to supply the required value for the API",
                            f"Required parameter {element} is missing in the request", element)
            return None
        obj = self.find(entity, ident)
        if obj is None:
            raise Fault(2500, "Invalid Reference Id", f"Invalid Reference Id : {entity} element id {ident} not found",
                        element)
        if not obj.get("Active", True):
            raise Fault(610, "Object Not Found", INACTIVE_DETAIL, element)
        return obj

    def _existing(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = self.find(entity, str(body.get("Id", "")))
        if obj is None:
            raise Fault(610, "Object Not Found", "Object Not Found : Another user has deleted this transaction.",
                        "Id")
        if str(body.get("SyncToken", "")) != obj["SyncToken"]:
            raise Fault(5010, "Stale Object Error", STALE_DETAIL, "SyncToken")
        return obj

    def _closed(self, *dates: str | None) -> None:
        if self.book_close_date is None:
            return
        for date in dates:
            if date and date[:10] <= self.book_close_date:
                raise Fault(6210, "Account Period Closed",
                            f"Account Period Closed, Cannot Update Through Services API: the books are closed "
                            f"through {self.book_close_date} and this transaction is dated {date[:10]}.", "TxnDate")

    def _not_deposited(self, payment: dict[str, Any]) -> None:
        if payment["Id"] in self.deposited:
            raise Fault(6540, "Deposited Transaction cannot be changed",
                        f"Deposited Transaction cannot be changed : This transaction is part of deposit "
                        f"{self.deposited[payment['Id']]}. Remove it from the deposit first.")

    def _no_balance(self, customer: dict[str, Any]) -> None:
        balance = self.balances().get(customer["Id"], Decimal("0.00"))
        if balance:
            raise Fault(6000, "Delete List Has Balance Error",
                        "The entity you are trying to delete has an open balance. : This customer cannot be deleted "
                        f"because it has a non-zero balance ({balance}).", "Active")

    def _name_free(self, entity: str, name: str, own_id: str | None, element: str) -> None:
        lists = PEOPLE if entity in PEOPLE else (entity,)
        key = "DisplayName" if entity in PEOPLE else ("FullyQualifiedName" if entity in ("Item", "Account", "Class")
                                                      else "Name")
        folded = name.casefold()
        for other in lists:
            for obj in self.entities[other].values():
                if obj["Id"] != own_id and str(obj.get(key, "")).casefold() == folded:
                    who = ("Another customer, vendor or employee" if entity in PEOPLE
                           else f"Another {entity.lower()}")
                    raise Fault(6240, "Duplicate Name Exists Error",
                                f"The name supplied already exists. : {who} is already using this name. "
                                f"Please use a different name. Id={obj['Id']}", element)

    def _stamp(self, obj: dict[str, Any], created: bool) -> None:
        now = self.now()
        if created:
            obj["Id"] = self._new_id()
            obj["SyncToken"] = "0"
            obj["MetaData"] = {"CreateTime": now, "LastUpdatedTime": now}
        else:
            obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
            obj["MetaData"] = {**obj.get("MetaData", {}), "LastUpdatedTime": now}
        self.writes += 1

    @staticmethod
    def _merge(current: dict[str, Any], body: dict[str, Any], writable: tuple[str, ...]) -> dict[str, Any]:
        """A sparse update changes what it names; a full update also clears writable fields it leaves out
        (Intuit Deposit page: "writable fields left out are set to NULL")."""
        sparse = bool(body.get("sparse"))
        merged = dict(current)
        if not sparse:
            for key in writable:
                merged.pop(key, None)
        for key, value in body.items():
            if key not in ("Id", "SyncToken", "sparse", "domain", "MetaData") and not key.startswith("_"):
                merged[key] = value
        return merged

    # ------------------------------------------------------------------ operations

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"_build_{entity.lower()}", None)
        if handler is None:
            raise Fault(500, "Unsupported Operation", f"Operation create is not supported for {entity}",
                        status=400)
        obj = handler(dict(body), None)
        self._stamp(obj, created=True)
        self.entities[entity][obj["Id"]] = obj
        self._after_write(entity, obj, None)
        return obj

    def update(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._existing(entity, body)
        handler = getattr(self, f"_build_{entity.lower()}")
        if entity in DEPOSITED:
            self._not_deposited(current)
        if entity in TRANSACTIONS:
            self._closed(current.get("TxnDate"), body.get("TxnDate"))
        writable = tuple(k for k in current if not k.startswith("_") and k not in
                         ("Id", "SyncToken", "MetaData", "TotalAmt", "Balance", "RemainingCredit", "UnappliedAmt",
                          "FullyQualifiedName", "Classification"))
        merged = self._merge(current, body, writable)
        if entity == "Customer" and current.get("Active", True) and merged.get("Active") is False:
            self._no_balance(current)
        obj = handler(merged, current)
        obj["Id"], obj["SyncToken"], obj["MetaData"] = current["Id"], current["SyncToken"], current["MetaData"]
        self._stamp(obj, created=False)
        self.entities[entity][obj["Id"]] = obj
        self._after_write(entity, obj, current)
        return obj

    def void(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """Invoice: ``operation=void``; Payment and SalesReceipt: ``operation=update&include=void`` (reference §1,
        §3.6). A deposited payment or sales receipt is refused (6540): the deposit must change first."""
        current = self._existing(entity, body)
        if entity not in ("Invoice", "Payment", "SalesReceipt"):
            raise Fault(500, "Unsupported Operation", f"Operation void is not supported for {entity}")
        self._closed(current.get("TxnDate"))
        if entity == "SalesReceipt":
            self._not_deposited(current)
            lines = [{**ln, "Amount": Decimal("0.00")} for ln in current.get("Line", [])]
            obj = {**current, "Line": lines, "TotalAmt": Decimal("0.00"),
                   "PrivateNote": ("Voided - " + current.get("PrivateNote", "")).strip(" -")}
        elif entity == "Payment":
            self._not_deposited(current)
            self._unapply(current)
            obj = {**current, "TotalAmt": Decimal("0.00"), "UnappliedAmt": Decimal("0.00"), "Line": [],
                   "PrivateNote": ("Voided - " + current.get("PrivateNote", "")).strip(" -")}
        else:
            if current["Balance"] != current["TotalAmt"]:
                raise Fault(6000, "A business validation error has occurred while processing your request",
                            "Business Validation Error: This invoice has payments or credits applied. Remove them "
                            "before voiding it.")
            lines = [{**ln, "Amount": Decimal("0.00")} for ln in current.get("Line", [])]
            obj = {**current, "Line": lines, "TotalAmt": Decimal("0.00"), "Balance": Decimal("0.00"),
                   "PrivateNote": ("Voided - " + current.get("PrivateNote", "")).strip(" -")}
        self._stamp(obj, created=False)
        self.entities[entity][obj["Id"]] = obj
        return obj

    def delete(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """Transactions only; name-list objects are made inactive instead (reference §3.6)."""
        if entity not in TRANSACTIONS:
            raise Fault(500, "Unsupported Operation", f"Operation delete is not supported for {entity}; "
                                                      "set Active to false instead")
        current = self._existing(entity, body)
        self._closed(current.get("TxnDate"))
        if entity in DEPOSITED:
            self._not_deposited(current)
        if entity == "Payment":
            self._unapply(current)
        elif entity == "Invoice" and current["Balance"] != current["TotalAmt"]:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        "Business Validation Error: This invoice has payments or credits applied. Remove them "
                        "before deleting it.")
        elif entity == "CreditMemo" and current["RemainingCredit"] != current["TotalAmt"]:
            raise Fault(6000, "A business validation error has occurred while processing your request",
                        "Business Validation Error: This credit memo is applied to invoices. Remove it from the "
                        "payments first.")
        elif entity == "Deposit":
            for pid, did in list(self.deposited.items()):
                if did == current["Id"]:
                    del self.deposited[pid]
        del self.entities[entity][current["Id"]]
        self.writes += 1
        return {"Id": current["Id"], "status": "Deleted", "domain": "QBO"}

    def _after_write(self, entity: str, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
        if entity == "Payment":
            if previous is not None:
                self._unapply(previous)
            self._apply(obj)
        elif entity == "Deposit":
            for pid, did in list(self.deposited.items()):
                if did == obj["Id"]:
                    del self.deposited[pid]
            for pid in obj["_payments"]:
                self.deposited[pid] = obj["Id"]
