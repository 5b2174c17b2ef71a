"""Issue 21 item 6: billing payment methods mapped explicitly to the company's payment methods (`booksync payments
methods`, the web's Payment Methods page), checked before anything is written: a method missing in QuickBooks or
inactive is refused with what to do, or created on request (`--create`); without a mapping, the method of the same
name as before, and with `[sync] create_payment_methods = false` a missing one stops the run."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from booksync.config import Home
from booksync.qbxml import build
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company
from test_online_support import server  # noqa: F401 - fixture

pytestmark = pytest.mark.sqlite_billing


def qbxml(company: Path, *requests) -> list:
    with open_company(company) as qb:
        return parse_response(qb.process(build.message([build.request(k, b, n) for n, (k, b) in
                                                        enumerate(requests, 1)])))


def methods_json(cli, home: Path) -> dict[str, dict]:
    result = cli("payments", "methods", "--json", "--home", str(home))
    assert result.code == 0, result
    return {m["name"]: m for m in json.loads(result.stdout)["payment_methods"]}


def stored(home: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(home / "billing.db") as db:
        return {n: (q, c) for n, q, c in db.execute("SELECT name, qb_method, create_missing FROM payment_method_map")}


def payment_methods_in_quickbooks(company: Path) -> Counter:
    (rs,) = qbxml(company, ("ReceivePaymentQuery", {}))
    return Counter(p.findtext("PaymentMethodRef/FullName") for p in rs.rets)


def test_the_list_shows_how_each_billing_method_reaches_quickbooks(cli, nosync_copy):
    """Before: no `payments methods` command; ACH and Credit Card were created silently at the sync."""
    rows = methods_json(cli, nosync_copy.path)
    assert {n: (r["state"], r["payments"]) for n, r in rows.items()} == {
        "ACH": ("missing", 142), "Cash": ("same-name", 41), "Check": ("same-name", 359),
        "Credit Card": ("missing", 300)}


def test_mapped_methods_are_used_and_none_is_created(cli, nosync_copy):
    home = nosync_copy.path
    result = cli("payments", "methods", "--set", "ACH=e-check", "--set", "Credit Card=Visa", "--home", str(home))
    assert result.code == 0, result
    assert 'Payment method "ACH" -> QuickBooks payment method "E-Check"' in result.stdout
    assert stored(home) == {"ACH": ("E-Check", 0), "Credit Card": ("Visa", 0)}
    synced = cli("sync", "--yes", "--json", "--home", str(home))
    assert synced.code == 0, synced
    assert "add payment_method" not in json.loads(synced.stdout)["applied"]
    assert payment_methods_in_quickbooks(nosync_copy.company) == {"Check": 359, "Visa": 300, "E-Check": 142,
                                                                  "Cash": 41}
    assert cli("reconcile", "--home", str(home)).code == 0


def test_a_missing_or_inactive_method_is_refused_with_what_to_do_and_nothing_changes(cli, nosync_copy):
    home = nosync_copy.path
    (rs,) = qbxml(nosync_copy.company, ("PaymentMethodAdd", {"Name": "Old Card", "IsActive": False,
                                                             "PaymentMethodType": "OtherCreditCard"}))
    rs.raise_for_status()
    for wanted, words in [("Wire", 'QuickBooks has no payment method named "Wire" (for billing payment method "ACH")'),
                          ("Old Card", 'QuickBooks payment method "Old Card" (for billing payment method "ACH") is '
                                       "inactive")]:
        result = cli("payments", "methods", "--set", f"ACH={wanted}", "--home", str(home))
        assert result.code == 3, result
        text = " ".join(result.stderr.split())
        assert "Not changed:" in text and words in text, text
        if wanted == "Wire":
            assert f'booksync payments methods --home {home} --create "ACH=Wire"' in text, text
        else:  # creating an inactive method would be refused the same way: only activating it or another helps
            assert "Make it active in QuickBooks, or choose another" in text and "--create" not in text, text
        assert stored(home) == {}


def test_a_method_no_payment_carries_is_refused_and_so_is_clearing_one_not_mapped(cli, nosync_copy):
    """Before: `--set "NoSuch=Visa"` stored a mapping no payment uses and `--clear Bogus` said nothing, exit 0."""
    home = nosync_copy.path
    result = cli("payments", "methods", "--set", "NoSuch=Visa", "--home", str(home))
    assert result.code == 3, result
    assert ('No payment in the billing store carries the payment method "NoSuch" (they carry "ACH", "Cash", "Check", '
            '"Credit Card")') in " ".join(result.stderr.split())
    cleared = cli("payments", "methods", "--clear", "Bogus", "--home", str(home))
    assert cleared.code == 3 and 'Payment method "Bogus" has no mapping to clear' in cleared.stderr, cleared
    assert stored(home) == {}


def test_the_list_says_a_missing_method_is_refused_when_the_home_does_not_create_them(cli, nosync_copy):
    """Before: with create_payment_methods = false the list still said "booksync creates it", then the sync
    stopped on the same methods."""
    home = Home.load(nosync_copy.path)
    home.settings["sync"]["create_payment_methods"] = False
    home.save()
    rows = methods_json(cli, home.path)
    assert rows["ACH"]["state"] == "refused" and rows["Credit Card"]["state"] == "refused"
    assert "create_payment_methods is false" in rows["ACH"]["refused"]
    assert rows["Check"]["state"] == "same-name"


def test_create_on_request_adds_the_method_once_for_two_billing_methods(cli, nosync_copy):
    home = nosync_copy.path
    result = cli("payments", "methods", "--create", "Credit Card=Card", "--create", "ACH=Card", "--home", str(home))
    assert result.code == 0, result
    assert stored(home) == {"Credit Card": ("Card", 1), "ACH": ("Card", 1)}
    assert methods_json(cli, home)["ACH"]["state"] == "create"
    synced = cli("sync", "--yes", "--json", "--home", str(home))
    assert synced.code == 0, synced
    assert json.loads(synced.stdout)["applied"]["add payment_method"] == 1
    assert payment_methods_in_quickbooks(nosync_copy.company)["Card"] == 300 + 142
    assert methods_json(cli, home)["ACH"]["state"] == "mapped", "created: now an existing method"


def test_without_creation_a_missing_method_stops_the_sync_before_anything_is_written(cli, nosync_copy):
    home = Home.load(nosync_copy.path)
    home.settings["sync"]["create_payment_methods"] = False
    home.save()
    assert cli("payments", "methods", "--set", "ACH=E-Check", "--home", str(home.path)).code == 0
    result = cli("sync", "--yes", "--home", str(home.path))
    assert result.code == 3, result
    text = " ".join(result.output.split())
    assert "1 payment method(s) cannot reach a QuickBooks payment method; nothing was written." in text
    assert 'payment method "Credit Card": QuickBooks has no payment method named "Credit Card"' in text
    assert 'booksync payments methods --home' in text and '--create "Credit Card"' in text
    (customers,) = qbxml(nosync_copy.company, ("CustomerQuery", {}))
    assert not customers.rets and not payment_methods_in_quickbooks(nosync_copy.company)


def test_online_payments_use_the_mapped_method(tmp_path, cli, server):  # noqa: F811
    from importlib import resources

    from test_online_support import connect, point_home_at

    home = Home.load(tmp_path / "home", create=True)
    gl = tmp_path / "gl.csv"
    gl.write_bytes((resources.files("booksync.demo") / "data" / "gl_accounts.csv").read_bytes())
    files = {"gl-accounts": gl, "members": tmp_path / "m.csv", "invoices": tmp_path / "i.csv",
             "payments": tmp_path / "p.csv"}
    files["members"].write_text("number,name,company,contact_first,contact_last,address1,address2,city,state,"
                                "postal_code,email,phone,status\n2001,Oak Street Bakery,Oak Street Bakery,Ann,Lee,"
                                "1 Oak St,,Dayton,OH,45402,a@o.com,,active\n", encoding="utf-8")
    files["invoices"].write_text("number,member,date,due_date,memo,gl_account,description,quantity,rate,amount\n"
                                 "INV1,2001,2025-01-15,,,4020,Dues,1,325.00,325.00\n", encoding="utf-8")
    files["payments"].write_text("number,member,date,amount,method,reference,deposit_account,memo,apply_to,"
                                 "apply_amount,apply_credit_memo,apply_credit_amount\n"
                                 "R1,2001,2025-01-20,325.00,Credit Card,1001,1050,,INV1,325.00,,\n", encoding="utf-8")
    for kind, path in files.items():
        assert cli("import", kind, str(path), "--home", str(home.path)).code == 0
    point_home_at(home, server)
    connect(home, server)
    refused = cli("payments", "methods", "--set", "Credit Card=Diners", "--home", str(home.path))
    assert refused.code == 3 and 'no payment method named "Diners"' in refused.stderr
    assert cli("payments", "methods", "--set", "Credit Card=MasterCard", "--home", str(home.path)).code == 0
    assert cli("sync", "--yes", "--home", str(home.path)).code == 0
    company = server.double.company
    (payment,) = company.entities["Payment"].values()
    method = company.entities["PaymentMethod"][payment["PaymentMethodRef"]["value"]]
    assert method["Name"] == "MasterCard"
    assert not any(m["Name"] == "Credit Card" for m in company.entities["PaymentMethod"].values())
