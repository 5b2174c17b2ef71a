"""Issue 17 items 6 and 7: a G/L account cross-references only a QuickBooks account of a type it may post to
(booksync.account_rules), in `accounts xref --set`, `--apply-suggestions`, and the sync's own check of the
cross references already in the store; suggestions are made only among compatible accounts, by number, then by
the meaningful words of the names. (The web page: tests/test_web.py.)"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from booksync import account_rules
from booksync.domain import QBAccount
from booksync.qbxml import build
from booksync.simulator import open_company

from conftest import demo_csv


def gl(number: str, name: str, type_: str = "Income") -> SimpleNamespace:
    return SimpleNamespace(number=number, name=name, type=type_)


# A chart of accounts as a real chamber's QuickBooks company holds it: no account per G/L account of the
# billing system, an expense account about dues, cost of goods sold.
REAL_CHART = [QBAccount(f"L{i}", name, kind, number) for i, (name, kind, number) in enumerate([
    ("Checking", "Bank", "1000"), ("Undeposited Funds", "OtherCurrentAsset", ""),
    ("Accounts Receivable", "AccountsReceivable", ""), ("Deferred Revenue", "OtherCurrentLiability", ""),
    ("Cost of Goods Sold", "CostOfGoodsSold", ""), ("Dues and Subscriptions", "Expense", ""),
    ("Member Dues Income", "Income", ""), ("Member Dues Income:Corporate Dues", "Income", ""),
    ("Program Revenue", "Income", ""), ("Interest Income", "OtherIncome", ""), ("Events", "Income", "4100")])]


def xref_json(cli, home: str) -> dict[str, dict]:
    result = cli("accounts", "xref", "--suggest", "--json", "--home", home)
    assert result.code == 0, result
    return {g["number"]: g for g in json.loads(result.stdout)["gl_accounts"]}


def add_accounts(company: Path, *accounts: tuple[str, str, str]) -> None:
    with open_company(company) as qb:
        for n, (name, kind, number) in enumerate(accounts, 1):
            answer = qb.process(build.message([build.request(
                "AccountAdd", {"Name": name, "AccountType": kind, "AccountNumber": number or None}, n)]))
            assert b'statusCode="0"' in answer, answer


# ---------------------------------------------------------------------- the rule and the suggestions (pure)


def test_the_rule_allows_each_family_its_own_types_and_names_rule_and_types_when_it_refuses():
    assert account_rules.compatible("Income", "Income") and account_rules.compatible("Income", "OtherIncome")
    assert not account_rules.compatible("Income", "Bank")
    assert not account_rules.compatible("Income", "OtherCurrentLiability"), "deferred revenue only for liabilities"
    assert account_rules.compatible("OtherCurrentLiability", "OtherCurrentLiability")
    assert account_rules.compatible("OtherCurrentAsset", "OtherCurrentAsset")  # Undeposited Funds
    assert account_rules.compatible("Bank", "OtherCurrentAsset") and not account_rules.compatible("Bank", "Income")
    assert not account_rules.compatible("Unknown", "Income")
    refused = account_rules.incompatibility(gl("4500", "Sponsorships"), REAL_CHART[0])
    assert refused == ('G/L account 4500 Sponsorships is of type Income and cannot post to QuickBooks account '
                       '"Checking" of type Bank: by the income rule an Income G/L account maps only to an Income or '
                       'Other Income account (invoice and credit memo lines post their income there)')


def test_suggestions_against_a_real_chart_never_cross_types_nor_match_on_stop_words():
    """Before: "Dues and Subscriptions" (Expense) for an Income dues account, "Cost of Goods Sold" for
    "Certificates of Origin" (matched on "of")."""
    suggest = account_rules.suggest
    assert suggest(gl("4400", "Certificates of Origin"), REAL_CHART) is None
    # "Dues" is in the parent's and the subaccount's names alike: a tie, so no guess.
    assert suggest(gl("4010", "Dues - Individual"), REAL_CHART) is None
    assert suggest(gl("4010", "Dues - Individual"), REAL_CHART[:7]).full_name == "Member Dues Income"
    assert suggest(gl("4030", "Corporate Dues"), REAL_CHART).full_name == "Member Dues Income:Corporate Dues"
    assert suggest(gl("4100", "Event Registrations"), REAL_CHART).full_name == "Events"  # by number
    assert suggest(gl("1000", "Program Revenue", "Bank"), REAL_CHART).full_name == "Checking", "number, same family"
    assert suggest(gl("4100", "Events", "Bank"), REAL_CHART) is None, "the same number of an Income account"
    assert suggest(gl("1050", "Undeposited Funds", "OtherCurrentAsset"), REAL_CHART).full_name == "Undeposited Funds"
    assert suggest(gl("6100", "Dues and Subscriptions", "Expense"), REAL_CHART).full_name == "Dues and Subscriptions"
    # A tie is no suggestion: "Income" is in both income accounts' names.
    assert suggest(gl("4900", "Other Income"), REAL_CHART[6:7] + REAL_CHART[9:10]) is None


# ---------------------------------------------------------------------- accounts xref


def test_xref_set_refuses_an_account_of_another_type_and_changes_nothing(nosync_copy, cli):
    """Before: `accounts xref --set 4100="Checking"` mapped an Income G/L account to a Bank account, exit 0."""
    home = str(nosync_copy.path)
    before = xref_json(cli, home)
    refused = cli("accounts", "xref", "--set", "4200=Sponsorships", "--set", "4100=Checking", "--home", home)
    assert refused.code == 3, refused
    assert ('Not changed: G/L account 4100 Event Registrations is of type Income and cannot post to QuickBooks '
            'account "Checking" of type Bank: by the income rule') in refused.stderr
    assert "Choose an Income or Other Income account" in refused.stderr
    assert f"accounts xref --home {home} --suggest" in refused.stderr  # a command that can be pasted
    as_json = cli("accounts", "xref", "--set", "4100=Checking", "--json", "--home", home)
    said = json.loads(as_json.stdout)  # one JSON object, though the refusal was printed for people
    assert (as_json.code, said["exit_code"], said["status"]) == (3, 3, "stopped")
    assert said["message"].startswith("Not changed: G/L account 4100 Event Registrations is of type Income")
    for number, name in (("1050", "Events"), ("4100", "Deferred Revenue")):
        again = cli("accounts", "xref", "--set", f"{number}={name}", "--home", home)
        assert again.code == 3, again
    assert "by the deposit rule an Other Current Asset G/L account maps only to a Bank or Other Current Asset" \
           in cli("accounts", "xref", "--set", "1050=Events", "--home", home).stderr
    assert xref_json(cli, home) == before, "nothing of the command was saved"
    allowed = cli("accounts", "xref", "--set", "2400=Deferred Revenue", "--set", "4100=Program Service Revenue",
                  "--home", home)
    assert allowed.code == 0, allowed
    assert xref_json(cli, home)["4100"]["qb_account"] == "Program Service Revenue"


def test_apply_suggestions_maps_only_compatible_accounts(nosync_copy, cli, tmp_path):
    """Accounts without a compatible match stay unmapped rather than take an expense or a stop-word match."""
    home = str(nosync_copy.path)
    add_accounts(nosync_copy.company, ("Dues and Subscriptions", "Expense", "6400"),
                 ("Cost of Goods Sold", "CostOfGoodsSold", "5000"))
    accounts = tmp_path / "gl.csv"
    accounts.write_text("number,name,type\n4500,Dues - Student,Income\n4700,Letters of Support,Income\n"
                        "4800,Event Tickets,Income\n1060,Petty Cash,Bank\n")
    assert cli("import", "gl-accounts", str(accounts), "--home", home).code == 0
    shown = xref_json(cli, home)
    assert shown["4500"]["suggestion"] is None, "was the Expense account Dues and Subscriptions"
    assert shown["4700"]["suggestion"] is None, "was Certificates of Origin, matched on 'of'"
    assert shown["4800"]["suggestion"] == "Events"
    assert shown["1060"]["suggestion"] is None
    applied = cli("accounts", "xref", "--apply-suggestions", "--home", home)
    assert applied.code == 0, applied
    after = xref_json(cli, home)
    assert after["4800"]["qb_account"] == "Events" and after["4800"]["mapped"]
    assert [after[n]["qb_account"] for n in ("4500", "4700", "1060")] == ["", "", ""]


def test_an_incompatible_cross_reference_already_in_the_store_stops_the_sync(nosync_copy, cli, company_db, tmp_path):
    """A cross reference set before the rule (or by the gl-accounts import, which cannot see QuickBooks) is
    caught by the sync's check: exit 3, nothing written, the rule and both types named, compatible advice."""
    home = str(nosync_copy.path)
    accounts = tmp_path / "gl.csv"
    accounts.write_text("number,name,type,qb_account\n4100,Event Registrations,Income,Checking\n")
    assert cli("import", "gl-accounts", str(accounts), "--home", home).code == 0
    db = company_db(nosync_copy.company)
    before = db.fingerprint()
    result = cli("sync", "--yes", "--home", home)
    assert result.code == 3, result
    assert ('G/L account 4100 Event Registrations: is of type Income and cannot post to QuickBooks account '
            '"Checking" of type Bank: by the income rule') in result.stdout
    assert f'booksync accounts xref --home {home} --set 4100="Events"' in result.stdout
    assert result.writes == [] and db.fingerprint() == before
    listed = cli("accounts", "xref", "--home", home)
    assert "wrong type: Checking (Bank)" in listed.stdout and "by the income rule" in listed.stderr
    assert xref_json(cli, home)["4100"]["suggestion"] == "Events"
    assert cli("accounts", "xref", "--set", "4100=Events", "--home", home).code == 0
    assert cli("sync", "--yes", "--dry-run", "--home", home).code == 0


def test_the_demo_chart_suggests_its_own_cross_references(nosync_copy, cli):
    """Every G/L account of the demo, unmapped, gets back the account the demo maps it to (by number)."""
    home = str(nosync_copy.path)
    expected = {r["number"]: r["qb_account"] for r in demo_csv("gl_accounts.csv")}
    assert cli("accounts", "xref", *[a for n in expected for a in ("--clear", n)], "--home", home).code == 0
    assert {n: g["suggestion"] for n, g in xref_json(cli, home).items()} == expected
