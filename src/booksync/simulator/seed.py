"""Filling a new simulated company: the standard lists (:mod:`booksync.demo.company`), or a real company's
lists read from its saved qbXML responses."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from booksync.qbxml.parse import boolean, parse_xml, text
from booksync.demo.company import STANDARD_CHART, STANDARD_PAYMENT_METHODS, STANDARD_VENDORS  # noqa: F401
from booksync.simulator.store import now_text

if TYPE_CHECKING:
    from booksync.simulator.processor import Processor

def standard_lists(processor: "Processor", chart: list[dict[str, str]], standard: bool = True) -> None:
    """Insert ``chart`` into a new company, and with ``standard`` the standard payment methods and vendors (not for
    a company seeded from a real one, which has the lists the real company has and no others)."""
    by_name: dict[str, str] = {}
    for account in chart:
        parent = account.get("parent")
        full_name = f"{parent}:{account['name']}" if parent else account["name"]
        row = processor._insert_list("Account", "account", account["name"], full_name,
                                     parent_id=by_name.get(parent) if parent else None,
                                     account_type=account["type"], number=account.get("number"),
                                     special=account.get("special"))
        by_name[full_name] = row["list_id"]
    if not standard:
        return
    for name, method_type in STANDARD_PAYMENT_METHODS:
        processor._insert_list("PaymentMethod", "paymentmethod", name, name, method_type=method_type)
    for name in STANDARD_VENDORS:
        processor._insert_list("Vendor", "entity", name, name, company_name=name)


SEEDED_ITEMS = ("ItemServiceRet", "ItemNonInventoryRet", "ItemOtherChargeRet", "ItemGroupRet")


def seed_from_responses(processor: "Processor", files: list[Path]) -> dict[str, int]:
    """Load lists from qbXML query responses dumped from a real company.

    Accepts AccountQueryRs, CustomerQueryRs, ItemQueryRs (ItemServiceRet, ItemNonInventoryRet,
    ItemOtherChargeRet, ItemGroupRet; other item types are left out),
    VendorQueryRs and PaymentMethodQueryRs files. ListIDs, names, types and
    EditSequences are kept so that a rehearsal sees the real identifiers; so are
    jobs (a CustomerRet's ParentRef, its Sublevel through its FullName
    "Customer:Job", and JobStatus: qbxmlops130-annotated.xml CustomerRet) and the
    times as QuickBooks wrote them, with their UTC offset (TimeCreated
    "2024-12-15T22:19:47-05:00" in a captured AccountAddRs: reference §4).
    Parents are inserted before their children (by Sublevel).
    Returns counts by kind.
    """
    counts: dict[str, int] = {}
    accounts: list = []
    others: list = []
    for path in files:
        root = parse_xml(path.read_bytes(), f"response file {path.name}")
        for ret in root.iter("AccountRet"):
            accounts.append(ret)
        for tag in ("CustomerRet", *SEEDED_ITEMS, "VendorRet", "PaymentMethodRet"):
            others.extend(root.iter(tag))
    accounts.sort(key=lambda r: int(text(r, "Sublevel") or 0))
    others.sort(key=lambda r: int(text(r, "Sublevel") or 0))
    for ret in accounts:
        _insert_ret(processor, ret, "Account", "account", account_type=text(ret, "AccountType"),
                    number=text(ret, "AccountNumber"), special=text(ret, "SpecialAccountType"),
                    parent_id=text(ret, "ParentRef/ListID") or None, descr=text(ret, "Desc"))
        counts["accounts"] = counts.get("accounts", 0) + 1
    for ret in others:
        if ret.tag == "CustomerRet":
            _insert_ret(processor, ret, "Customer", "entity", company_name=text(ret, "CompanyName"),
                        first_name=text(ret, "FirstName"), last_name=text(ret, "LastName"),
                        addr1=text(ret, "BillAddress/Addr1"), addr2=text(ret, "BillAddress/Addr2"),
                        city=text(ret, "BillAddress/City"), state=text(ret, "BillAddress/State"),
                        postal_code=text(ret, "BillAddress/PostalCode"), phone=text(ret, "Phone"),
                        email=text(ret, "Email"), account_number=text(ret, "AccountNumber"),
                        parent_id=text(ret, "ParentRef/ListID") or None, notes=text(ret, "Notes"),
                        job_status=text(ret, "JobStatus") if text(ret, "JobStatus") not in ("", "None") else None)
            counts["customers"] = counts.get("customers", 0) + 1
        elif ret.tag in SEEDED_ITEMS:
            account = (text(ret, "SalesOrPurchase/AccountRef/ListID")
                       or text(ret, "SalesAndPurchase/IncomeAccountRef/ListID"))
            _insert_ret(processor, ret, ret.tag[:-3], "item", account_id=account or None,
                        descr=text(ret, "SalesOrPurchase/Desc") or text(ret, "ItemDesc"))
            counts["items"] = counts.get("items", 0) + 1
        elif ret.tag == "VendorRet":
            _insert_ret(processor, ret, "Vendor", "entity", company_name=text(ret, "CompanyName"))
            counts["vendors"] = counts.get("vendors", 0) + 1
        else:
            _insert_ret(processor, ret, "PaymentMethod", "paymentmethod",
                        method_type=text(ret, "PaymentMethodType"))
            counts["payment methods"] = counts.get("payment methods", 0) + 1
    return counts


def _insert_ret(processor: "Processor", ret, kind: str, name_space: str, **cols) -> None:
    name = text(ret, "Name")
    full_name = text(ret, "FullName") or name
    cols = {k: v for k, v in cols.items() if v not in (None, "")}
    cols.update(list_id=text(ret, "ListID"), kind=kind, name_space=name_space, name=name, full_name=full_name,
                is_active=1 if boolean(ret, "IsActive", True) else 0,
                edit_seq=text(ret, "EditSequence") or processor.new_edit_seq(),
                created=text(ret, "TimeCreated") or now_text(), modified=text(ret, "TimeModified") or now_text())
    keys = ",".join(cols)
    processor.db.execute(f"INSERT OR REPLACE INTO lists ({keys}) VALUES ({','.join('?' * len(cols))})",
                         list(cols.values()))
