"""booksync keys its records by the company's FileID, never by its name (issue 17, item 15).

QuickBooks returns a company's data extensions only to a CompanyQuery naming their OwnerID (QBWC guide p.36);
the Web Connector stores the .qwc's FileID under booksync's OwnerID. Renaming the company in QuickBooks must
not orphan booksync's links, and a home whose links are under the old name-based key adopts the stable key.
"""
from __future__ import annotations

import sqlite3

import pytest

from booksync.config import Home
from booksync.qbxml import build
from booksync.qbxml.parse import parse_response
from booksync.simulator import open_company

OWNER = "{2B6E5F3A-1C4D-4E8F-9A0B-7C6D5E4F3A2B}"
QWC_FILE_ID = "{9D8C7B6A-5F4E-4D3C-8B2A-1F0E9D8C7B6A}"


def _rename(company_path, name: str) -> str:
    with open_company(company_path) as company:
        old = company.meta("company_name")
        company.set_meta("company_name", name)
    return old


def _keys(home) -> set[str]:
    db = sqlite3.connect(home / "billing.db")
    try:
        return {r[0] for r in db.execute("SELECT DISTINCT company_key FROM links")}
    finally:
        db.close()


def test_company_query_returns_data_extensions_only_for_the_owner_ids_asked(company_path):
    with open_company(company_path) as company:
        company.set_data_ext(OWNER, "FileID", QWC_FILE_ID)
        asked = [build.request("CompanyQuery", None, 1),
                 build.request("CompanyQuery", {"OwnerID": [OWNER.lower()]}, 2),
                 build.request("CompanyQuery", {"OwnerID": ["0", OWNER]}, 3)]
        none, ours, both = parse_response(company.process(build.message(asked)))
    assert none.rets[0].findall("DataExtRet") == []
    assert [(e.findtext("OwnerID"), e.findtext("DataExtValue")) for e in ours.rets[0].findall("DataExtRet")] == \
        [(OWNER.lower(), QWC_FILE_ID)]
    assert [e.findtext("OwnerID") for e in both.rets[0].findall("DataExtRet")] == ["0", OWNER]


def test_renaming_the_company_re_adds_nothing(demo_copy, cli, company_db):
    home = str(demo_copy.path)
    before = _keys(demo_copy.path)
    _rename(demo_copy.company, "Renamed Chamber of Commerce")
    db = company_db(demo_copy.company)
    counts = (db.count_lists("Customer"), db.count_txns("Invoice"), db.count_txns("ReceivePayment"))
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 0, result.stdout
    assert "Nothing to synchronize" in result.stdout
    assert result.writes == []
    assert (db.count_lists("Customer"), db.count_txns("Invoice"), db.count_txns("ReceivePayment")) == counts
    assert _keys(demo_copy.path) == before and not any(k.startswith("company:") for k in before)


def test_a_home_keyed_by_the_company_name_adopts_the_web_connector_file_id_once(demo_copy, cli, company_db):
    """As against real QuickBooks before: links under "company:NAME". The Web Connector stored the .qwc's FileID
    under booksync's OwnerID; the company was renamed since. The sync adopts the FileID as the key and re-adds
    nothing."""
    home = Home.load(demo_copy.path)
    home.settings["webconnector"].update(owner_id=OWNER, file_id=QWC_FILE_ID)
    home.save()
    with open_company(demo_copy.company) as company:
        company.set_data_ext(OWNER, "FileID", QWC_FILE_ID)
    old_name = _rename(demo_copy.company, "Renamed Chamber of Commerce")
    db = sqlite3.connect(demo_copy.path / "billing.db")
    with db:
        for table in ("links", "sync_runs", "journal", "sync_outstanding", "sync_marks"):
            db.execute(f"UPDATE {table} SET company_key=?", (f"company:{old_name}",))
    db.close()
    company = company_db(demo_copy.company)
    customers = company.count_lists("Customer")

    result = cli("sync", "--yes", "--home", str(demo_copy.path))

    assert result.code == 0, result.stdout
    assert "Nothing to synchronize" in result.stdout
    assert result.writes == []
    assert company.count_lists("Customer") == customers
    assert _keys(demo_copy.path) == {QWC_FILE_ID}


def test_a_company_without_any_file_id_is_refused_not_keyed_by_its_name():
    from booksync.books.desktop.answers import CompanyUnidentified, company_key
    from lxml import etree

    ret = etree.fromstring("<CompanyRet><CompanyName>Acme</CompanyName></CompanyRet>")
    with pytest.raises(CompanyUnidentified, match="did not report a FileID"):
        company_key(ret, OWNER)
