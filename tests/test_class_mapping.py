"""Issue 21 item 4, the sync's part: a class per G/L account (`booksync accounts classes`) with a default per home
(`[sync] default_class`), ClassRef on every line of invoices and credit memos, refused before anything is written
when the company does not use class tracking or the class does not exist (not yet: creating classes on request,
the web page, reconcile by class)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from booksync.config import Home
from booksync.qbxml import build
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company

pytestmark = pytest.mark.sqlite_billing


def qbxml(company: Path, *requests) -> list:
    with open_company(company) as qb:
        return parse_response(qb.process(build.message([build.request(k, b, n) for n, (k, b) in
                                                        enumerate(requests, 1)])))


def line_classes(company: Path, kind: str = "Invoice") -> Counter:
    (rs,) = qbxml(company, (f"{kind}Query", {"IncludeLineItems": True}))
    return Counter((ln.findtext("ItemRef/FullName"), ln.findtext("ClassRef/FullName"))
                   for t in rs.rets for ln in t.findall(f"{kind}LineRet"))


def test_classes_are_refused_without_class_tracking_and_put_on_every_line_with_it(cli, nosync_copy):
    """Before: no `accounts classes`, no ClassRef on any line."""
    home, company = nosync_copy.path, nosync_copy.company
    for rs in qbxml(company, ("ClassAdd", {"Name": "Membership"}), ("ClassAdd", {"Name": "Programs"})):
        rs.raise_for_status()
    off = cli("accounts", "classes", "--set", "4010=Membership", "--home", str(home))
    assert off.code == 3 and "does not use class tracking" in " ".join(off.stderr.split()), off
    assert cli("simulator", "class-tracking", "on", "--home", str(home)).code == 0
    missing = cli("accounts", "classes", "--set", "4010=Events", "--home", str(home))
    assert missing.code == 3 and 'QuickBooks has no class named "Events"' in " ".join(missing.stderr.split())
    for number in ("4010", "4020", "4030", "4040"):
        assert cli("accounts", "classes", "--set", f"{number}=membership", "--home", str(home)).code == 0
    h = Home.load(home)
    h.settings["sync"]["default_class"] = "Events"
    h.save()

    stopped = cli("sync", "--yes", "--home", str(home))
    assert stopped.code == 3, stopped
    assert 'class "Events": which the company file does not have' in " ".join(stopped.output.split())
    (invoices,) = qbxml(company, ("InvoiceQuery", {}))
    assert not invoices.rets, "nothing written"

    h.settings["sync"]["default_class"] = "Programs"
    h.save()
    synced = cli("sync", "--yes", "--home", str(home))
    assert synced.code == 0, synced
    lines = line_classes(company)
    assert None not in {klass for _, klass in lines}, "a class on every line"
    assert all(klass == "Membership" for item, klass in lines if item.startswith("40"))
    assert all(klass == "Programs" for item, klass in lines if not item.startswith("40"))
    assert None not in {klass for _, klass in line_classes(company, "CreditMemo")}
    rows = json.loads(cli("accounts", "classes", "--json", "--home", str(home)).stdout)["gl_accounts"]
    assert {r["number"]: (r["class"], r["from_default"]) for r in rows}["4100"] == ("Programs", True)
    assert cli("sync", "--yes", "--home", str(home)).code == 0


def test_a_company_that_stops_tracking_classes_stops_the_sync_before_writing(cli, nosync_copy):
    home, company = nosync_copy.path, nosync_copy.company
    qbxml(company, ("ClassAdd", {"Name": "Membership"}))[0].raise_for_status()
    assert cli("simulator", "class-tracking", "on", "--home", str(home)).code == 0
    assert cli("accounts", "classes", "--set", "4010=Membership", "--home", str(home)).code == 0
    assert cli("simulator", "class-tracking", "off", "--home", str(home)).code == 0
    result = cli("sync", "--yes", "--home", str(home))
    assert result.code == 3, result
    text = " ".join(result.output.split())
    assert "does not use class tracking" in text and "Use class tracking" in text
    (customers,) = qbxml(company, ("CustomerQuery", {}))
    assert not customers.rets
