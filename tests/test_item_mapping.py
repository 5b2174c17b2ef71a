"""Issue 21 item 5: G/L accounts mapped to items the QuickBooks company already has (`booksync accounts items`),
checked by the same rule everywhere (booksync.account_rules.item_refusal): the item is active, of a type that
carries a billing line, and posts to the G/L account's cross-referenced account. The sync uses the mapped item
(no item of its own for that account), and stops before writing anything when a mapping no longer fits.
(The web page: tests/test_web_items.py and tests/browser/.)"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from booksync import account_rules
from booksync.domain import QBAccount, QBListEntry
from booksync.qbo_double.rules import Fault
from booksync.qbxml import build
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company
from test_online_support import server  # noqa: F401 - fixture


def qbxml(company: Path, *requests) -> list:
    with open_company(company) as qb:
        return parse_response(qb.process(build.message([build.request(k, b, n) for n, (k, b) in
                                                        enumerate(requests, 1)])))


def add_items(company: Path) -> None:
    """Items a bookkeeper made before booksync: one for each kind the rule must tell apart."""
    answers = qbxml(
        company,
        ("ItemOtherChargeAdd", {"Name": "Individual Dues", "SalesOrPurchase": {
            "Desc": "Dues", "AccountRef": {"FullName": "Membership Dues:Individual"}}}),
        ("ItemServiceAdd", {"Name": "Ad Sales", "SalesOrPurchase": {"AccountRef": {"FullName": "Advertising Income"}}}),
        ("ItemServiceAdd", {"Name": "Old Dues", "IsActive": False, "SalesOrPurchase": {
            "AccountRef": {"FullName": "Membership Dues:Individual"}}}),
        ("ItemGroupAdd", {"Name": "Dues Bundle", "ItemGroupLine": [{"ItemRef": {"FullName": "Individual Dues"}}]}))
    for rs in answers:
        rs.raise_for_status()


def items_json(cli, home: Path) -> dict[str, dict]:
    result = cli("accounts", "items", "--suggest", "--json", "--home", str(home))
    assert result.code == 0, result
    return {g["number"]: g for g in json.loads(result.stdout)["gl_accounts"]}


def stored_item(home: Path, number: str) -> str:
    with sqlite3.connect(home / "billing.db") as db:  # the tests that read it are marked sqlite_billing
        return db.execute("SELECT qb_item FROM gl_accounts WHERE number=?", (number,)).fetchone()[0]


# ---------------------------------------------------------------------- the rule (pure)


def entry(name: str, kind: str = "ItemService", account: str = "A1", active: bool = True) -> QBListEntry:
    return QBListEntry(name=name, list_id="I-" + name, kind=kind, is_active=active, account_list_id=account)


def test_the_rule_names_the_item_and_what_to_do_for_each_refusal():
    gl = SimpleNamespace(number="4010", name="Dues - Individual", type="Income", qb_account="Dues")
    dues = QBAccount("A1", "Dues", "Income")
    assert account_rules.item_refusal(gl, entry("Dues"), dues) is None
    assert account_rules.item_refusal(gl, entry("Dues", "NonInventory"), dues) is None, "Online's type names"
    assert account_rules.item_refusal(gl, entry("Other", account="A2"), dues) == (
        'QuickBooks item "Other" does not post to QuickBooks account "Dues", the cross reference of G/L account '
        "4010 Dues - Individual, so its income would land elsewhere; choose an item that posts there, or change "
        "the item's income account in QuickBooks")
    assert "is inactive" in account_rules.item_refusal(gl, entry("Dues", active=False), dues)
    group = account_rules.item_refusal(gl, entry("Bundle", "ItemGroup", ""), dues)
    assert group.startswith('QuickBooks item "Bundle" is a Group item and cannot carry a billing line: a group '
                            "goes on an invoice as a group of lines")
    assert "qbXML" not in group and "InvoiceLineGroupAdd" not in group, "words, not qbXML names"
    assert group.endswith("choose a Service, Non-inventory Part or Other Charge item")
    assert "stock" in account_rules.item_refusal(gl, entry("Mugs", "Inventory"), dues)
    assert "cross reference first" in account_rules.item_refusal(gl, entry("Dues"), None)


def test_suggestions_only_among_items_the_lines_may_use():
    gl = SimpleNamespace(number="4010", name="Dues - Individual", type="Income", qb_account="Dues")
    dues = QBAccount("A1", "Dues", "Income")
    items = [entry("Individual Dues", "ItemGroup", ""), entry("Individual Dues Service"), entry("Events", account="A2")]
    assert account_rules.suggest_item(gl, items, dues).name == "Individual Dues Service"
    assert account_rules.suggest_item(gl, items[:1] + items[2:], dues) is None


# ---------------------------------------------------------------------- the command


@pytest.mark.sqlite_billing
def test_set_maps_an_existing_item_and_the_sync_bills_with_it(cli, nosync_copy):
    """Before: no `accounts items` command, and the sync always added its own "4010 Dues - Individual"."""
    home = nosync_copy.path
    add_items(nosync_copy.company)
    result = cli("accounts", "items", "--set", "4010=individual dues", "--home", str(home))
    assert result.code == 0, result
    assert "G/L account 4010 -> item Individual Dues" in result.stdout
    assert stored_item(home, "4010") == "Individual Dues"
    rows = items_json(cli, home)
    assert rows["4010"]["state"] == "mapped" and rows["4020"]["state"] == "own"

    synced = cli("sync", "--yes", "--home", str(home))
    assert synced.code == 0, synced
    (rs,) = qbxml(nosync_copy.company, ("ItemQuery", {"FullName": ["4010 Dues - Individual"]}))
    assert not rs.rets, "no item of booksync's own for a mapped G/L account"
    (items,) = qbxml(nosync_copy.company, ("ItemQuery", {"FullName": ["4020 Dues - Small Business"]}))
    assert items.rets, "unmapped accounts keep booksync's own item"
    (invoices,) = qbxml(nosync_copy.company, ("InvoiceQuery", {"IncludeLineItems": True}))
    names = [ln.findtext("ItemRef/FullName") for inv in invoices.rets for ln in inv.findall("InvoiceLineRet")]
    assert "Individual Dues" in names and "4010 Dues - Individual" not in names
    again = cli("reconcile", "--home", str(home))
    assert again.code == 0, again
    assert cli("sync", "--yes", "--home", str(home)).code == 0


@pytest.mark.sqlite_billing
def test_refusals_name_item_account_and_what_to_do_and_change_nothing(cli, nosync_copy):
    home = nosync_copy.path
    add_items(nosync_copy.company)
    for wanted, words in [("Ad Sales", 'does not post to QuickBooks account "Membership Dues:Individual"'),
                          ("Old Dues", 'QuickBooks item "Old Dues" is inactive'),
                          ("Dues Bundle", "is a Group item and cannot carry a billing line"),
                          ("No Such Item", 'QuickBooks has no item named "No Such Item"')]:
        result = cli("accounts", "items", "--set", f"4010={wanted}", "--home", str(home))
        assert result.code == 3, result
        assert "Not changed:" in result.stderr and words in " ".join(result.stderr.split()), result.stderr
        assert "booksync accounts items --home" in result.stderr and "--suggest --quickbooks" in result.stderr
        assert stored_item(home, "4010") == ""
    both = cli("accounts", "items", "--set", "4010=Individual Dues", "--set", "4300=Old Dues", "--home", str(home))
    assert both.code == 3 and stored_item(home, "4010") == "", "all or nothing"


@pytest.mark.sqlite_billing
def test_suggest_json_and_quickbooks_list_every_item_with_its_type(cli, nosync_copy):
    home = nosync_copy.path
    add_items(nosync_copy.company)
    rows = items_json(cli, home)
    assert rows["4010"]["suggestion"] == "Individual Dues"
    assert rows["4300"]["suggestion"] is None, "'Ad Sales' shares no word with 'Advertising'"
    result = cli("accounts", "items", "--quickbooks", "--json", "--home", str(home))
    listed = {i["full_name"]: i for i in json.loads(result.stdout)["quickbooks_items"]}
    assert listed["Dues Bundle"] == {"full_name": "Dues Bundle", "type": "Group", "active": True}
    assert listed["Old Dues"]["active"] is False and listed["Individual Dues"]["type"] == "OtherCharge"
    applied = cli("accounts", "items", "--apply-suggestions", "--home", str(home))
    assert applied.code == 0 and stored_item(home, "4010") == "Individual Dues"
    cleared = cli("accounts", "items", "--clear", "4010", "--home", str(home))
    assert cleared.code == 0 and stored_item(home, "4010") == ""
    assert "booksync's own item" in cleared.stdout


@pytest.mark.sqlite_billing
def test_sync_stops_before_writing_when_a_mapped_item_no_longer_fits(cli, nosync_copy):
    """The item was fine when mapped, then made to post elsewhere in QuickBooks (here: the mapping written
    straight into the store, as an older import or another tool could): nothing is written."""
    home = nosync_copy.path
    add_items(nosync_copy.company)
    with sqlite3.connect(home / "billing.db") as db:
        db.execute("UPDATE gl_accounts SET qb_item='Ad Sales' WHERE number='4010'")
    result = cli("sync", "--yes", "--home", str(home))
    assert result.code == 3, result
    text = " ".join(result.output.split())
    assert "G/L account 4010" in text and 'QuickBooks item "Ad Sales" does not post to' in text
    assert f"booksync accounts items --home {home} --clear 4010" in text
    (invoices,) = qbxml(nosync_copy.company, ("InvoiceQuery", {}))
    (customers,) = qbxml(nosync_copy.company, ("CustomerQuery", {}))
    assert not invoices.rets and not customers.rets, "nothing half written"


def test_simulator_refuses_a_group_item_on_an_invoice_line(company_path):
    add = [("ItemServiceAdd", {"Name": "Dues", "SalesOrPurchase": {"AccountRef": {"FullName": "Membership Dues"}}}),
           ("ItemGroupAdd", {"Name": "Bundle", "ItemGroupLine": [{"ItemRef": {"FullName": "Dues"}}]}),
           ("CustomerAdd", {"Name": "Acme"})]
    for rs in qbxml(company_path, *add):
        rs.raise_for_status()
    (rs,) = qbxml(company_path, ("InvoiceAdd", {"CustomerRef": {"FullName": "Acme"},
                                                "InvoiceLineAdd": [{"ItemRef": {"FullName": "Bundle"},
                                                                    "Amount": "10.00"}]}))
    assert rs.code == 3140 and 'Item "Bundle"' in rs.message


# ---------------------------------------------------------------------- QuickBooks Online (the double)


def test_online_uses_the_mapped_item_and_refuses_a_bundle(tmp_path, cli, server):  # noqa: F811
    """The same command and rule against QuickBooks Online: an item posting to the cross-referenced account is
    used on the invoice lines; a Group (bundle) item is refused, and the double refuses one on a line as well."""
    from importlib import resources

    from booksync.config import Home
    from test_online_support import connect, point_home_at

    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    members = tmp_path / "m.csv"
    members.write_text("number,name,company,contact_first,contact_last,address1,address2,city,state,postal_code,"
                       "email,phone,status\n2001,Oak Street Bakery,Oak Street Bakery,Ann,Lee,1 Oak St,,Dayton,OH,"
                       "45402,a@o.com,,active\n", encoding="utf-8")
    invoices = tmp_path / "i.csv"
    invoices.write_text("number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"
                        "INV1,2001,2025-01-15,,,4020,Dues,1,325.00,325.00\n", encoding="utf-8")
    for kind, path in (("gl-accounts", gl), ("members", members), ("invoices", invoices)):
        assert cli("import", kind, str(path), "--home", str(home.path)).code == 0
    point_home_at(home, server)
    connect(home, server)
    company = server.double.company
    account = next(a for a in company.entities["Account"].values()
                   if a["FullyQualifiedName"] == "Membership Dues:Small Business")
    with server.double.lock:
        dues = company.create("Item", {"Name": "Business Dues", "Type": "Service",
                                       "IncomeAccountRef": {"value": account["Id"]}})
        company.create("Item", {"Name": "Dues Bundle", "Type": "Group"})

    refused = cli("accounts", "items", "--set", "4020=Dues Bundle", "--home", str(home.path))
    assert refused.code == 3 and "is a Group item and cannot carry a billing line" in refused.stderr, refused
    mapped = cli("accounts", "items", "--set", "4020=Business Dues", "--home", str(home.path))
    assert mapped.code == 0, mapped
    synced = cli("sync", "--yes", "--home", str(home.path))
    assert synced.code == 0, synced
    (invoice,) = company.entities["Invoice"].values()
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == dues["Id"]
    assert not any(i["Name"].startswith("4020") for i in company.entities["Item"].values())
    assert cli("reconcile", "--home", str(home.path)).code == 0

    bundle = next(i for i in company.entities["Item"].values() if i["Name"] == "Dues Bundle")
    customer = next(iter(company.entities["Customer"].values()))
    with server.double.lock, pytest.raises(Fault) as fault:
        company.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
            {"Amount": "10.00", "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": bundle["Id"]}}}]})
    assert fault.value.errors[0]["code"] == "6000" and "is a Group item" in fault.value.errors[0]["Detail"]
