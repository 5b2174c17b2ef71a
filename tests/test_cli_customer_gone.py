"""End to end: a member whose QuickBooks customer was deleted or merged in QuickBooks is held back with advice,
and the rest of the run goes ahead (issue 17, item 13).

QuickBooks answers a CustomerQuery naming a ListID it lacks with status 3120 and no record at all (the simulator
does the same: simulator/queries.py); booksync must neither crash nor stop the whole run on it.
"""
from __future__ import annotations

import csv
import io
import sqlite3

from booksync.qbxml import build

MEMBERS = "members.csv"


def _member_rows(demo_data, *numbers: str, phone: str) -> str:
    rows = [r for r in demo_data(MEMBERS) if r["number"] in numbers]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "phone": phone})
    return out.getvalue()


def _customer(company, number: str) -> sqlite3.Row | None:
    db = sqlite3.connect(company)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM lists WHERE kind='Customer' AND account_number=?", (number,)).fetchone()
    finally:
        db.close()


def _request(cli, home, tmp_path, name: str, *requests) -> str:
    path = tmp_path / name
    path.write_bytes(build.message(list(requests)))
    result = cli("simulator", "request", str(path), "--home", home)
    assert result.code == 0, result.stdout
    assert 'statusCode="0"' in result.stdout, result.stdout
    return result.stdout


def test_a_member_whose_customer_was_merged_away_is_held_back_with_advice(demo_copy, cli, company_db, tmp_path,
                                                                         demo_data):
    home = str(demo_copy.path)
    gone = _customer(demo_copy.company, "1002")
    assert gone is not None
    # A QuickBooks user merges Keystone Animal Hospital's customer into a new customer.
    _request(cli, home, tmp_path, "add.xml", build.request("CustomerAdd", {"Name": "Keystone Animal Hospital LLC"}, 1))
    survivor = sqlite3.connect(demo_copy.company).execute(
        "SELECT list_id, edit_seq FROM lists WHERE name='Keystone Animal Hospital LLC'").fetchone()
    _request(cli, home, tmp_path, "merge.xml", build.request("ListMerge", {
        "ListMergeType": "Customer", "MergeFrom": {"ListID": gone["list_id"], "EditSequence": gone["edit_seq"]},
        "MergeTo": {"ListID": survivor[0], "EditSequence": survivor[1]}}, 1))
    assert _customer(demo_copy.company, "1002") is None
    # Both members change; 1001's customer is still there.
    members = tmp_path / "members.csv"
    members.write_text(_member_rows(demo_data, "1001", "1002", phone="(937) 555-0000"), encoding="utf-8")
    assert "2 updated" in cli("import", "members", str(members), "--home", home).stdout
    db = company_db(demo_copy.company)
    before = db.fingerprint()

    result = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log1.csv"), "--home", home)

    assert result.code == 0, result.stdout
    assert result.writes == ["CustomerModRq"]
    assert "QuickBooks was updated: 1 operation(s) applied. 1 member(s) were held back because their QuickBooks " \
           "customer is gone; they are listed with what to do." in result.stdout
    assert "member 1002 Keystone Animal Hospital: its QuickBooks customer" in result.stdout
    assert ("its QuickBooks customer \"Keystone Animal Hospital\" (ListID " + gone["list_id"] + ") was deleted or "
            "merged into another customer in QuickBooks") in result.stdout
    assert f'members map --home {home} 1002 "Customer name"' in result.stdout  # pasteable (cli/common.copyable)
    assert _customer(demo_copy.company, "1001")["phone"] == "(937) 555-0000"
    assert db.fingerprint() != before

    # The advice, followed: 1002 is linked to the survivor, which keeps its QuickBooks details (as any customer
    # linked by hand); nothing is held back any more.
    mapped = cli("members", "map", "1002", "Keystone Animal Hospital LLC", "--home", home)
    assert mapped.code == 0, mapped
    again = cli("sync", "--yes", "--corrections-log", str(tmp_path / "log2.csv"), "--home", home)
    assert again.code == 0, again.stdout
    assert "held back" not in again.stdout
    assert "Nothing to synchronize" in again.stdout
