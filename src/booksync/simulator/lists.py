"""Lists of the simulated company: accounts, service items, payment methods, customers and vendors (their
Rets, queries and adds). See :mod:`.processor` for the rules common to every request.
"""
from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from lxml import etree

from booksync.qbxml.parse import text
from booksync.simulator.common import _UNSET, BANK_LIKE, ITEM_KINDS, Refusal, _aggregate
from booksync.simulator.store import amount, now_text


def _no_colon(name: str, child: str) -> None:
    """A list name never contains ":": QuickBooks reserves it to separate a parent from its ``child`` (a job,
    subclass or subitem) in FullName (qbxmlops130.xsd FullName is "Parent:Child"; the parent is given by
    ParentRef). Refused with 3020 as for any value QuickBooks cannot take (the status the simulator gives a
    customer name with a colon; public integrations replace the colon, reference/peer-systems.md row 3)."""
    if ":" in name:
        raise Refusal(3020, f'The name "{name}" contains a colon, which QuickBooks reserves to separate a parent '
                            f"from a {child}.")


class Lists:
    """List handlers, mixed into :class:`~.processor.Processor`."""

    db: sqlite3.Connection

    # ------------------------------------------------------------------ accounts

    def account_ret(self, row: sqlite3.Row, only: frozenset[str] | None = None) -> etree._Element:
        """An AccountRet; with ``only`` (the request's IncludeRetElement names), just those top-level elements
        (and no balance computed unless asked for)."""
        fields = self._list_base(row)
        if row["parent_id"]:
            parent = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?",
                                     (row["parent_id"],)).fetchone()
            fields["ParentRef"] = {"ListID": parent["list_id"], "FullName": parent["full_name"]}
        fields["Sublevel"] = row["full_name"].count(":")
        fields["AccountType"] = row["account_type"]
        if row["special"]:
            fields["SpecialAccountType"] = row["special"]
        if row["number"]:
            fields["AccountNumber"] = row["number"]
        if row["descr"]:
            fields["Desc"] = row["descr"]
        if only is None or not only.isdisjoint(("Balance", "TotalBalance")):
            balance = self.account_balance(row)
            fields["Balance"] = str(balance)
            fields["TotalBalance"] = str(balance)
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate("AccountRet", fields)

    def account_balance(self, row: sqlite3.Row) -> Decimal:
        """The account's balance from the transactions the simulator holds."""
        acct, kind = row["list_id"], row["account_type"]
        q = self.db.execute
        if kind in ("Income", "OtherIncome", "OtherCurrentLiability", "Expense"):
            sales = q("SELECT COALESCE(SUM(CASE t.txn_type WHEN 'CreditMemo' THEN -l.amount ELSE l.amount END), 0) "
                      "FROM lines l JOIN txns t ON t.txn_id=l.txn_id JOIN lists i ON i.list_id=l.item_id "
                      "WHERE i.account_id=? AND t.txn_type IN ('Invoice','CreditMemo','SalesReceipt')",
                      (acct,)).fetchone()[0]
            return amount(sales)
        if kind == "AccountsReceivable":
            return amount(q("SELECT COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) "
                            "FROM txns WHERE txn_type IN ('Invoice','CreditMemo','ReceivePayment')").fetchone()[0])
        if kind in BANK_LIKE:
            paid = q("SELECT COALESCE(SUM(total), 0) FROM txns WHERE txn_type IN ('ReceivePayment','SalesReceipt') "
                     "AND account_id=?", (acct,)).fetchone()[0]
            moved_out = q("SELECT COALESCE(SUM(l.amount), 0) FROM lines l JOIN txns p ON p.txn_id=l.payment_id "
                          "WHERE p.account_id=?", (acct,)).fetchone()[0]
            deposited = q("SELECT COALESCE(SUM(total), 0) FROM txns WHERE txn_type='Deposit' AND account_id=?",
                          (acct,)).fetchone()[0]
            return amount(paid - moved_out + deposited)
        return Decimal("0.00")

    def account_query(self, rq: etree._Element) -> etree._Element:
        only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
        return self._list_query(rq, ("Account",), lambda row: self.account_ret(row, only))

    def account_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("AccountAdd")
        name = text(add, "Name")
        parent_id, full_name = None, name
        if add.find("ParentRef") is not None:
            parent = self._list_row(add.find("ParentRef"), ("Account",), "Account", "Account")
            parent_id, full_name = parent["list_id"], f"{parent['full_name']}:{name}"
        self._check_name_free("account", full_name)
        self._ar = _UNSET
        row = self._insert_list("Account", "account", name, full_name, parent_id=parent_id,
                                account_type=text(add, "AccountType"), number=text(add, "AccountNumber"),
                                descr=text(add, "Desc"))
        return self._ok([self.account_ret(row)])

    def _insert_list(self, kind: str, name_space: str, name: str, full_name: str, **cols: Any) -> sqlite3.Row:
        list_id, stamp = self.new_list_id(), now_text()
        cols = {k: v for k, v in cols.items() if v not in (None, "")}
        cols.update(list_id=list_id, kind=kind, name_space=name_space, name=name, full_name=full_name,
                    edit_seq=self.new_edit_seq(), created=stamp, modified=stamp)
        cols.setdefault("is_active", 1)
        keys = ",".join(cols)
        self.db.execute(f"INSERT INTO lists ({keys}) VALUES ({','.join('?' * len(cols))})", list(cols.values()))
        return self.db.execute("SELECT * FROM lists WHERE list_id=?", (list_id,)).fetchone()

    # ------------------------------------------------------------------ items and payment methods

    def item_ret(self, row: sqlite3.Row) -> etree._Element:
        """The Ret of an item, by its type: ItemServiceRet, ItemNonInventoryRet and ItemOtherChargeRet carry
        SalesOrPurchase with the AccountRef their sales post to; ItemGroupRet has no FullName and no account, only
        its lines' items (qbxmlops130.xsd; the simulator keeps no group lines)."""
        fields = self._list_base(row)
        if row["kind"] == "ItemGroup":
            fields.pop("FullName")
            if row["descr"]:
                fields["ItemDesc"] = row["descr"]
            return _aggregate("ItemGroupRet", fields)
        account = self.db.execute("SELECT list_id, full_name FROM lists WHERE list_id=?",
                                  (row["account_id"],)).fetchone()
        sop: dict[str, Any] = {}
        if row["descr"]:
            sop["Desc"] = row["descr"]
        sop["Price"] = "0.00"
        sop["AccountRef"] = {"ListID": account["list_id"], "FullName": account["full_name"]}
        fields["SalesOrPurchase"] = sop
        if row["external_guid"]:
            fields["ExternalGUID"] = row["external_guid"]
        return _aggregate(f"{row['kind']}Ret", fields)

    def item_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ITEM_KINDS, self.item_ret)

    def item_service_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("ItemService",), self.item_ret)

    def item_service_add(self, rq: etree._Element) -> etree._Element:
        """ItemServiceAdd, ItemNonInventoryAdd and ItemOtherChargeAdd: the same shape here, a name and
        SalesOrPurchase with the AccountRef the item's sales post to (qbxmlops130.xsd, each Add's
        SalesOrPurchase | SalesAndPurchase choice; the simulator supports SalesOrPurchase)."""
        add = rq.find(rq.tag[:-2])  # ItemServiceAddRq holds ItemServiceAdd
        kind = add.tag[:-3]
        name = text(add, "Name")
        _no_colon(name, "subitem")
        sop = add.find("SalesOrPurchase")
        if sop is None:
            raise Refusal(3140, f"{add.tag} needs SalesOrPurchase with an AccountRef "
                                "(booksync's simulator supports SalesOrPurchase only).")
        account = self._list_row(sop.find("AccountRef"), ("Account",), "Account", kind)
        self._check_name_free("item", name)
        row = self._insert_list(kind, "item", name, name, account_id=account["list_id"],
                                descr=text(sop, "Desc"), external_guid=text(add, "ExternalGUID"),
                                is_active=0 if text(add, "IsActive") == "false" else 1)
        return self._ok([self.item_ret(row)])

    def item_group_add(self, rq: etree._Element) -> etree._Element:
        """ItemGroupAdd: a group of items for fast entry (qbxmlops130.xsd ItemGroupAdd). Each ItemGroupLine's
        ItemRef must name an item (3140 otherwise); the simulator keeps the group, not its lines."""
        add = rq.find("ItemGroupAdd")
        name = text(add, "Name")
        _no_colon(name, "subitem")
        for line in add.findall("ItemGroupLine"):
            self._list_row(line.find("ItemRef"), ("ItemService", "ItemNonInventory", "ItemOtherCharge"), "Item",
                           "ItemGroup")
        self._check_name_free("item", name)
        row = self._insert_list("ItemGroup", "item", name, name, descr=text(add, "ItemDesc"),
                                external_guid=text(add, "ExternalGUID"),
                                is_active=0 if text(add, "IsActive") == "false" else 1)
        return self._ok([self.item_ret(row)])

    # ------------------------------------------------------------------ classes (issue 21 item 4)

    def class_ret(self, row: sqlite3.Row) -> etree._Element:
        """ClassRet: ListCore, Name, FullName, IsActive, ParentRef, Sublevel (qbxmlops130.xsd)."""
        fields = self._list_base(row)
        if row["parent_id"]:
            fields["ParentRef"] = self._ref(row["parent_id"])
        fields["Sublevel"] = row["full_name"].count(":")
        return _aggregate("ClassRet", fields)

    def class_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("Class",), self.class_ret)

    def class_add(self, rq: etree._Element) -> etree._Element:
        """ClassAdd: Name (31), IsActive, ParentRef (qbxmlops130.xsd); a class's FullName is its parents' names and
        its own joined by ":", unique among classes (3100 otherwise, reference §7); a ParentRef that names no
        class is 3140. QuickBooks keeps the class list whether or not class tracking is on (the preference only
        shows the Class fields on forms: Intuit's PreferencesQuery page, IsUsingClassTracking)."""
        add = rq.find("ClassAdd")
        name = text(add, "Name")
        _no_colon(name, "subclass")
        parent = None
        if add.find("ParentRef") is not None:
            parent = self._list_row(add.find("ParentRef"), ("Class",), "Class", "ClassAdd")
        full_name = f"{parent['full_name']}:{name}" if parent is not None else name
        self._check_name_free("class", full_name)
        row = self._insert_list("Class", "class", name, full_name, parent_id=parent["list_id"] if parent else None,
                                is_active=0 if text(add, "IsActive") == "false" else 1)
        return self._ok([self.class_ret(row)])

    def payment_method_ret(self, row: sqlite3.Row) -> etree._Element:
        fields = {k: v for k, v in self._list_base(row).items() if k != "FullName"}
        fields["PaymentMethodType"] = row["method_type"] or "Other"
        return _aggregate("PaymentMethodRet", fields)

    def payment_method_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("PaymentMethod",), self.payment_method_ret)

    def payment_method_add(self, rq: etree._Element) -> etree._Element:
        """PaymentMethodAdd: Name, IsActive, PaymentMethodType (qbxmlops130.xsd); a method added inactive is
        refused on payments like any inactive list entry (3140)."""
        add = rq.find("PaymentMethodAdd")
        name = text(add, "Name")
        self._check_name_free("paymentmethod", name)
        row = self._insert_list("PaymentMethod", "paymentmethod", name, name,
                                method_type=text(add, "PaymentMethodType") or "Other",
                                is_active=0 if text(add, "IsActive") == "false" else 1)
        return self._ok([self.payment_method_ret(row)])

    # ------------------------------------------------------------------ customers and vendors

    # "+txn_type": look the customers up through txns_customer; SQLite would otherwise pick txns_type
    # and read every invoice, credit memo and payment of the company for each page.
    _BALANCE_SQL = ("SELECT customer_id, COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) "
                    "FROM txns WHERE customer_id IN ({}) AND +txn_type IN ('Invoice','CreditMemo','ReceivePayment') "
                    "GROUP BY customer_id")

    def _customer_balances(self, rows: list[sqlite3.Row]) -> None:
        """The balances of a page of customers in one grouped query (read by :meth:`customer_ret`)."""
        self._balances = {r["list_id"]: 0 for r in rows}
        ids = list(self._balances)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for customer_id, total in self.db.execute(self._BALANCE_SQL.format(",".join("?" * len(chunk))), chunk):
                self._balances[customer_id] = total

    def customer_balance(self, list_id: str) -> Decimal:
        total = self.db.execute(
            "SELECT COALESCE(SUM(CASE txn_type WHEN 'Invoice' THEN total ELSE -total END), 0) FROM txns "
            "WHERE customer_id=? AND txn_type IN ('Invoice','CreditMemo','ReceivePayment')",
            (list_id,)).fetchone()[0]
        return amount(total)

    def customer_ret(self, row: sqlite3.Row, only: frozenset[str] | None = None) -> etree._Element:
        """A CustomerRet; with ``only`` (the request's IncludeRetElement names), just those top-level elements."""
        fields = self._list_base(row)
        if row["parent_id"]:
            fields["ParentRef"] = self._ref(row["parent_id"])
        fields["Sublevel"] = row["full_name"].count(":")
        # Elements are put in schema order by _aggregate; empty ones are left out, as QuickBooks does.
        fields.update({tag: row[col] for tag, col in self._CUSTOMER_COLS + (("ExternalGUID", "external_guid"),)
                       if row[col]})
        address = {tag: row[col] for tag, col in self._ADDRESS_COLS if row[col]}
        if address:
            fields["BillAddress"] = address
        if only is None or not only.isdisjoint(("Balance", "TotalBalance")):
            balances = self._balances
            cached = balances.pop(row["list_id"], None) if balances else None
            balance = str(amount(cached) if cached is not None else self.customer_balance(row["list_id"]))
            fields["Balance"] = balance
            fields["TotalBalance"] = balance
        fields["JobStatus"] = row["job_status"] or "None"
        if only is not None:
            fields = {tag: value for tag, value in fields.items() if tag in only}
        return _aggregate("CustomerRet", fields)

    def customer_query(self, rq: etree._Element) -> etree._Element:
        try:
            only = frozenset(e.text or "" for e in rq.findall("IncludeRetElement")) or None
            balances = only is None or not only.isdisjoint(("Balance", "TotalBalance"))
            return self._list_query(rq, ("Customer",), lambda row: self.customer_ret(row, only),
                                    self._customer_balances if balances else None)
        finally:
            self._balances = {}

    _CUSTOMER_COLS = (("CompanyName", "company_name"), ("FirstName", "first_name"), ("LastName", "last_name"),
                      ("Phone", "phone"), ("Email", "email"), ("AccountNumber", "account_number"),
                      ("Notes", "notes"))
    _ADDRESS_COLS = (("Addr1", "addr1"), ("Addr2", "addr2"), ("City", "city"), ("State", "state"),
                     ("PostalCode", "postal_code"))

    def _customer_cols(self, el: etree._Element) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for tag, col in self._CUSTOMER_COLS:
            found = el.find(tag)
            if found is not None:
                cols[col] = found.text or ""
        addr = el.find("BillAddress")
        if addr is not None:
            for tag, col in self._ADDRESS_COLS:
                cols[col] = text(addr, tag)
        if el.find("IsActive") is not None:
            cols["is_active"] = 0 if text(el, "IsActive") == "false" else 1
        return cols

    def customer_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("CustomerAdd")
        name = text(add, "Name")
        _no_colon(name, "sub-customer")
        parent_id, full_name = None, name
        if add.find("ParentRef") is not None:   # a job (sub-customer): FullName "Parent:Job", Sublevel 1 and up
            parent = self._list_row(add.find("ParentRef"), ("Customer",), "Customer", "Customer")
            parent_id, full_name = parent["list_id"], f"{parent['full_name']}:{name}"
        self._check_name_free("entity", full_name)
        row = self._insert_list("Customer", "entity", name, full_name, parent_id=parent_id,
                                external_guid=text(add, "ExternalGUID"), job_status=text(add, "JobStatus") or None,
                                **self._customer_cols(add))
        self._balances = {row["list_id"]: 0}   # a new customer has no transactions yet
        try:
            return self._ok([self.customer_ret(row)])
        finally:
            self._balances = {}

    def customer_mod(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("CustomerMod")
        row = self.db.execute("SELECT * FROM lists WHERE list_id=? AND kind='Customer'",
                              (text(mod, "ListID"),)).fetchone()
        if row is None:
            raise Refusal(3120, f'Object "{text(mod, "ListID")}" specified in the request cannot be found.')
        self._check_edit_seq(row["edit_seq"], mod)
        cols = self._customer_cols(mod)
        if mod.find("Name") is not None:
            name = text(mod, "Name")
            if ":" in name:
                raise Refusal(3020, f'The name "{name}" contains a colon.')
            prefix = row["full_name"][:len(row["full_name"]) - len(row["name"])]   # "Parent:" of a job
            self._check_name_free("entity", prefix + name, except_id=row["list_id"])
            cols.update(name=name, full_name=prefix + name)
            # its jobs' full names follow (QuickBooks shows them under the new name)
            self.db.execute("UPDATE lists SET full_name=? || substr(full_name, ?) WHERE kind='Customer' AND "
                            "full_name LIKE ? ESCAPE '\\' AND list_id<>?",
                            (prefix + name, len(row["full_name"]) + 1,
                             row["full_name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                             + ":%", row["list_id"]))
            self._refs.clear()
        cols.update(edit_seq=self.new_edit_seq(), modified=now_text())
        self.db.execute(f"UPDATE lists SET {','.join(f'{k}=?' for k in cols)} WHERE list_id=?",
                        [*cols.values(), row["list_id"]])
        self._refs.pop(row["list_id"], None)
        row = self.db.execute("SELECT * FROM lists WHERE list_id=?", (row["list_id"],)).fetchone()
        return self._ok([self.customer_ret(row)])

    def vendor_ret(self, row: sqlite3.Row) -> etree._Element:
        fields = {k: v for k, v in self._list_base(row).items() if k != "FullName"}
        if row["company_name"]:
            fields["CompanyName"] = row["company_name"]
        return _aggregate("VendorRet", fields)

    def vendor_query(self, rq: etree._Element) -> etree._Element:
        return self._list_query(rq, ("Vendor",), self.vendor_ret)

    def vendor_add(self, rq: etree._Element) -> etree._Element:
        add = rq.find("VendorAdd")
        name = text(add, "Name")
        self._check_name_free("entity", name)
        row = self._insert_list("Vendor", "entity", name, name, company_name=text(add, "CompanyName"))
        return self._ok([self.vendor_ret(row)])

    # ------------------------------------------------------------------ deleting and merging customers

    def _customer_for(self, list_id: str, edit_seq: str | None = None) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM lists WHERE list_id=? AND kind='Customer'", (list_id,)).fetchone()
        if row is None:
            raise Refusal(3120, f'Object "{list_id}" specified in the request cannot be found.  QuickBooks error '
                                "message: Invalid argument.  The specified record does not exist in the list.")
        if edit_seq is not None and edit_seq != row["edit_seq"]:
            raise Refusal(3200, f'The provided edit sequence "{edit_seq}" is out-of-date.')
        return row

    def list_del(self, rq: etree._Element) -> etree._Element:
        """ListDel of a customer, a service item or a payment method (qbxmlops130-annotated.xml ListDelRq; the
        simulator supports those ListDelTypes: the lists booksync adds to, whose adds ``booksync runs undo``
        deletes). QuickBooks deletes only a list element nothing uses ("You can't delete a name that is used in a
        transaction": QuickBooks' Delete Customer rule; an item on a transaction line, a payment method on a
        payment likewise); such a delete is refused with 3160, the status of a refused delete
        (reference/quickbooks-desktop.md §9)."""
        list_type = text(rq, "ListDelType")
        uses = {"Customer": "SELECT COUNT(*) FROM txns WHERE customer_id=:id",
                "ItemService": "SELECT COUNT(*) FROM lines WHERE item_id=:id",
                "PaymentMethod": "SELECT COUNT(*) FROM txns WHERE method_id=:id"}
        if list_type not in uses:
            raise Refusal(3250, f'ListDel of "{list_type}" is not supported by booksync\'s simulator.')
        if list_type == "Customer":
            row = self._customer_for(text(rq, "ListID"))
        else:
            row = self.db.execute("SELECT * FROM lists WHERE list_id=? AND kind=?",
                                  (text(rq, "ListID"), list_type)).fetchone()
            if row is None:
                raise Refusal(3120, f'Object "{text(rq, "ListID")}" specified in the request cannot be found.  '
                                    "QuickBooks error message: Invalid argument.  The specified record does not "
                                    "exist in the list.")
        used = self.db.execute(uses[list_type], {"id": row["list_id"]}).fetchone()[0]
        if used:
            what = {"Customer": "customer", "ItemService": "item", "PaymentMethod": "payment method"}[list_type]
            advice = " Make it inactive, or merge it into another customer." if list_type == "Customer" else ""
            raise Refusal(3160, f'The {what} "{row["full_name"]}" cannot be deleted because it is used in '
                                f"{used} transaction(s).{advice}")
        self.db.execute("DELETE FROM lists WHERE list_id=?", (row["list_id"],))
        self._refs.pop(row["list_id"], None)
        result = etree.Element("Result", statusCode="0", statusSeverity="Info", statusMessage="Status OK")
        for tag, value in (("ListDelType", list_type), ("ListID", row["list_id"]), ("TimeDeleted", now_text()),
                           ("FullName", row["full_name"])):
            etree.SubElement(result, tag).text = value
        return result

    def list_merge(self, rq: etree._Element) -> etree._Element:
        """ListMerge of one customer into another (qbxmlops130-annotated.xml ListMergeRq, v7.0; the simulator
        supports ListMergeType Customer): the MergeFrom customer's transactions move to MergeTo and the MergeFrom
        customer is gone, as when a user renames a customer to another's name in QuickBooks and agrees to merge.
        Both EditSequences must be current (3200)."""
        if text(rq, "ListMergeType") != "Customer":
            raise Refusal(3250, f'ListMerge of "{text(rq, "ListMergeType")}" is not supported by booksync\'s '
                                "simulator.")
        source = self._customer_for(text(rq, "MergeFrom/ListID"), text(rq, "MergeFrom/EditSequence"))
        target = self._customer_for(text(rq, "MergeTo/ListID"), text(rq, "MergeTo/EditSequence"))
        if source["list_id"] == target["list_id"]:
            raise Refusal(3020, "A customer cannot be merged into itself.")
        self.db.execute("UPDATE txns SET customer_id=? WHERE customer_id=?", (target["list_id"], source["list_id"]))
        self.db.execute("DELETE FROM lists WHERE list_id=?", (source["list_id"],))
        self.db.execute("UPDATE lists SET edit_seq=?, modified=? WHERE list_id=?",
                        (self.new_edit_seq(), now_text(), target["list_id"]))
        self._refs.pop(source["list_id"], None)
        result = etree.Element("Result", statusCode="0", statusSeverity="Info", statusMessage="Status OK")
        etree.SubElement(result, "ListMergeType").text = "Customer"
        merged = self.db.execute("SELECT * FROM lists WHERE list_id=?", (target["list_id"],)).fetchone()
        result.append(_aggregate("MergedFrom", {"ListID": source["list_id"], "TimeDeleted": now_text(),
                                                "FullName": source["full_name"]}))
        result.append(_aggregate("MergedTo", {"ListID": merged["list_id"], "TimeCreated": merged["created"],
                                              "TimeModified": merged["modified"], "EditSequence": merged["edit_seq"],
                                              "FullName": merged["full_name"]}))
        return result
