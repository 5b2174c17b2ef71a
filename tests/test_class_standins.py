"""Issue 21 item 4, the stand-ins' part: classes in the simulated QuickBooks Desktop company and in the QuickBooks
Online double, as strict as QuickBooks (the sync does not send classes yet). Desktop: the class list (ClassAdd,
ClassQuery, "Parent:Child" full names, 3100 for a name in use, 3140 for a missing parent), the "Use class
tracking" preference answered by PreferencesQuery (AccountingPreferences/IsUsingClassTracking, off in a new
company; `booksync simulator class-tracking on`), a sales line's ClassRef kept and read back, refused (3140) when
it names no active class. Online: Class (6240 for a name in use), Preferences AccountingInfoPrefs
ClassTrackingPerTxnLine/PerTxn, a sales line's ClassRef (2500 missing, 610 inactive)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from booksync.qbo_double import QboDouble
from booksync.qbo_double.rules import Fault
from booksync.qbxml import build
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company


def qbxml(company: Path, *requests) -> list:
    with open_company(company) as qb:
        return parse_response(qb.process(build.message([build.request(k, b, n) for n, (k, b) in
                                                        enumerate(requests, 1)], on_error="continueOnError")))


def class_tracking(company: Path) -> str:
    (rs,) = qbxml(company, ("PreferencesQuery", None))
    return rs.raise_for_status().rets[0].findtext("AccountingPreferences/IsUsingClassTracking")


def test_the_preference_is_off_in_a_new_company_and_the_simulator_command_turns_it_on(cli, nosync_copy):
    assert class_tracking(nosync_copy.company) == "false"
    result = cli("simulator", "class-tracking", "on", "--home", str(nosync_copy.path))
    assert result.code == 0 and "Class tracking: on" in result.stdout, result
    assert class_tracking(nosync_copy.company) == "true"
    assert "Class tracking: off" in cli("simulator", "class-tracking", "off", "--home", str(nosync_copy.path)).stdout
    assert class_tracking(nosync_copy.company) == "false"


def test_the_class_list_and_a_lines_class(company_path):
    added = qbxml(company_path,
                  ("ClassAdd", {"Name": "Programs"}),
                  ("ClassAdd", {"Name": "Youth", "ParentRef": {"FullName": "Programs"}}),
                  ("ClassAdd", {"Name": "programs"}),
                  ("ClassAdd", {"Name": "X", "ParentRef": {"FullName": "Nowhere"}}),
                  ("ClassAdd", {"Name": "Old", "IsActive": False}),
                  ("ItemServiceAdd", {"Name": "Dues", "SalesOrPurchase": {
                      "AccountRef": {"FullName": "Membership Dues"}}}),
                  ("CustomerAdd", {"Name": "Acme"}))
    assert [rs.code for rs in added] == [0, 0, 3100, 3140, 0, 0, 0]
    assert added[1].rets[0].findtext("FullName") == "Programs:Youth"
    assert added[1].rets[0].findtext("Sublevel") == "1"
    (listed,) = qbxml(company_path, ("ClassQuery", {}))
    assert [r.findtext("FullName") for r in listed.rets] == ["Programs", "Programs:Youth"], "active ones"

    def invoice(klass: str):
        return ("InvoiceAdd", {"CustomerRef": {"FullName": "Acme"}, "InvoiceLineAdd": [
            {"ItemRef": {"FullName": "Dues"}, "ClassRef": {"FullName": klass}, "Amount": "10.00"}]})

    good, missing, inactive = qbxml(company_path, invoice("Programs:Youth"), invoice("Nowhere"), invoice("Old"))
    assert good.code == 0
    assert missing.code == 3140 and 'Class "Nowhere"' in missing.message
    assert inactive.code == 3140 and "inactive" in inactive.message
    (read,) = qbxml(company_path, ("InvoiceQuery", {"TxnID": good.rets[0].findtext("TxnID"),
                                                    "IncludeLineItems": True}))
    assert read.rets[0].findtext("InvoiceLineRet/ClassRef/FullName") == "Programs:Youth"


def test_the_online_double_keeps_classes_and_checks_a_lines_class():
    double = QboDouble()
    company = double.company
    status, body = double.handle(company.realm_id, "GET", "preferences", {}, None)
    prefs = body["Preferences"]["AccountingInfoPrefs"]
    assert (prefs["ClassTrackingPerTxnLine"], prefs["ClassTrackingPerTxn"]) == (False, False)
    company.class_tracking = "line"
    prefs = double.handle(company.realm_id, "GET", "preferences", {}, None)[1]["Preferences"]["AccountingInfoPrefs"]
    assert prefs["ClassTrackingPerTxnLine"] is True

    programs = company.create("Class", {"Name": "Programs"})
    youth = company.create("Class", {"Name": "Youth", "ParentRef": {"value": programs["Id"]}})
    assert youth["FullyQualifiedName"] == "Programs:Youth"
    with pytest.raises(Fault) as taken:
        company.create("Class", {"Name": "PROGRAMS"})
    assert taken.value.errors[0]["code"] == "6240"
    customer = company.create("Customer", {"DisplayName": "Acme"})
    income = next(a["Id"] for a in company.entities["Account"].values() if a["AccountType"] == "Income")
    item = company.create("Item", {"Name": "Dues", "IncomeAccountRef": {"value": income}})

    def invoice(class_id: str):
        return company.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": Decimal("10.00"),
             "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "ClassRef": {"value": class_id}}}]})

    made = invoice(youth["Id"])
    assert made["Line"][0]["SalesItemLineDetail"]["ClassRef"] == {"value": youth["Id"], "name": "Programs:Youth"}
    with pytest.raises(Fault) as missing:
        invoice("999")
    assert missing.value.errors[0]["code"] == "2500"
    company.update("Class", {"Id": programs["Id"], "SyncToken": programs["SyncToken"], "sparse": True,
                             "Active": False})
    with pytest.raises(Fault) as inactive:
        invoice(programs["Id"])
    assert inactive.value.errors[0]["code"] == "610"


# ---------------------------------------------------------------------- one line builder, with a class


def test_one_line_builder_sends_a_lines_class_to_each_target_and_keeps_old_fingerprints(company_path):
    """The sale's line is built in one place per target (books/desktop/requests.py sales_line, books/online/
    bodies.py sales_line), which every kind with lines uses; a line with a class carries ClassRef there. A line
    without a class is written (canonical JSON, fingerprint) exactly as before classes."""
    import datetime as dt

    from booksync.books.desktop import requests
    from booksync.books.online import bodies
    from booksync.domain import Action, Kind, LineData, Operation, Ref, SalesData
    from booksync.sync.written import written_json

    setup = qbxml(company_path, ("ClassAdd", {"Name": "Events"}), ("CustomerAdd", {"Name": "Acme"}),
                  ("ItemServiceAdd", {"Name": "Gala", "SalesOrPurchase": {"AccountRef": {"FullName": "Events"}}}))
    events, acme, gala = (rs.raise_for_status().rets[0].findtext("ListID") for rs in setup)
    line = LineData(Ref("item", 1, gala, "Gala"), "Gala", Decimal("2"), Decimal("85.00"), Decimal("170.00"),
                    class_ref=Ref("class", None, events, "Events"))
    sale = SalesData(customer=Ref("customer", 1, acme, "Acme"), date=dt.date(2025, 3, 1), ref_number="INV9",
                     lines=(line,))
    op = Operation(seq=1, action=Action.ADD, kind=Kind.INVOICE, local_id=9, number="INV9", description="",
                   payload=sale)
    with open_company(company_path) as qb:
        (rs,) = parse_response(qb.process(build.message([requests.request(op, lambda ref: None)])))
    assert rs.raise_for_status().rets[0].findtext("InvoiceLineRet/ClassRef/FullName") == "Events"

    body = bodies.sales_body(Kind.INVOICE, sale, lambda ref: None, create=True)
    assert body["Line"][0]["SalesItemLineDetail"]["ClassRef"] == {"value": events}

    plain = SalesData(customer=sale.customer, date=sale.date, ref_number="INV9",
                      lines=(LineData(line.item, "Gala", Decimal("2"), Decimal("85.00"), Decimal("170.00")),))
    assert "class_ref" not in written_json(plain), "unchanged for lines without a class"
    assert '"class_ref": {"id": "' + events + '", "name": "Events", "ref": "class"}' in written_json(sale)
