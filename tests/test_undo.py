"""Pre-images and `booksync runs undo RUN` (issue 20, item 12).

A run keeps, before each message that changes, voids or deletes records, what QuickBooks answered for them
(runs/RUN/pre-images.jsonl): on the simulator and on the QuickBooks Online double. `runs undo` deletes what a
run added and sets what it changed back; after a run and its undo the company's lists and transactions equal
the state before the run (a digest of every query's answers, EditSequence, TimeModified and TxnLineID aside:
QuickBooks gives restored lines new ids); a record edited in QuickBooks meanwhile is left alone and named.
"""
from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

from lxml import etree

from booksync.qbxml import build
from booksync.qbxml.parse import parse_response, text
from booksync.simulator import open_company

from test_online_corrections import Books, books  # noqa: F401 - fixture
from test_online_support import server  # noqa: F401 - fixture
from test_webconnector_service import small, small_template  # noqa: F401 - fixtures: a small billing store

IGNORED = {"EditSequence", "TimeModified", "TxnLineID"}
QUERIES = (("AccountQuery", {"ActiveStatus": "All"}), ("ItemQuery", {"ActiveStatus": "All"}),
           ("PaymentMethodQuery", {"ActiveStatus": "All"}), ("CustomerQuery", {"ActiveStatus": "All"}),
           ("VendorQuery", {"ActiveStatus": "All"}), ("InvoiceQuery", {"IncludeLineItems": True}),
           ("CreditMemoQuery", {"IncludeLineItems": True}), ("ReceivePaymentQuery", {}),
           ("DepositQuery", {"IncludeLineItems": True}))


def ask(company: Path, kind: str, body: dict) -> list[etree._Element]:
    with open_company(company) as c:
        (rs,) = parse_response(c.process(build.message([build.request(kind, body, 1)])))
    return list(rs.rets)


def digest(company: Path) -> str:
    """Every list and transaction query's answers, EditSequence, TimeModified and TxnLineID left out."""
    h = hashlib.sha256()
    for kind, body in QUERIES:
        rets = []
        for ret in ask(company, kind, body):
            for el in list(ret.iter()):
                if el.tag in IGNORED:
                    el.getparent().remove(el)
            rets.append(etree.tostring(ret))
        for r in sorted(rets):
            h.update(r)
    return h.hexdigest()


def last_run(home: Path) -> str:
    return sorted(p.name for p in (home / "runs").iterdir() if p.is_dir())[-1]


def test_undo_of_a_first_sync_leaves_the_company_as_it_was(nosync_copy, cli):
    home = str(nosync_copy.path)
    before = digest(nosync_copy.company)
    first = cli("sync", "--yes", "--home", home)
    assert first.code == 0, first
    run = last_run(nosync_copy.path)
    assert digest(nosync_copy.company) != before

    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    assert "400 delete customer" in dry.stdout and "1003 delete invoice" in dry.stdout and dry.writes == []
    declined = cli("runs", "undo", run, "--home", home, input="n\n")
    assert declined.code == 4 and "Nothing was changed" in declined.stdout and declined.writes == []

    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 0, undone
    assert f"Run {run} was undone: 2326 record(s)" in undone.stdout
    assert digest(nosync_copy.company) == before
    deletes = [m for m in undone.requests if any(t.endswith("DelRq") for t in m)]
    assert deletes[0] == ["TxnDelRq"] * 50 and deletes[-1][-1] == "ListDelRq"  # transactions first, lists last
    log = (nosync_copy.path / "runs" / run / f"undo-{run}.csv").read_text()
    assert "deleted (the run added it)" in log

    again = cli("runs", "undo", run, "--yes", "--home", home)
    assert again.code == 3 and "undone already" in again.stderr
    resync = cli("sync", "--yes", "--home", home)  # the billing store still holds everything: written again
    assert resync.code == 0 and "2326 operation(s) applied" in resync.stdout, resync
    assert cli("reconcile", "--home", home).code == 0


def test_undo_leaves_alone_and_names_a_record_edited_in_quickbooks_since(nosync_copy, cli):
    home = str(nosync_copy.path)
    assert cli("sync", "--yes", "--home", home).code == 0
    run = last_run(nosync_copy.path)
    (inv,) = ask(nosync_copy.company, "InvoiceQuery", {"RefNumber": ["INV10004"]})
    with open_company(nosync_copy.company) as c:  # a QuickBooks user edits the invoice's memo
        c.process(build.message([build.request("InvoiceMod", {
            "TxnID": text(inv, "TxnID"), "EditSequence": text(inv, "EditSequence"), "Memo": "edited in QuickBooks"},
            1)]))
    result = cli("runs", "undo", run, "--yes", "--home", home)
    assert result.code == 5, result  # its customer cannot be deleted while the invoice is there
    assert "invoice INV10004: changed in QuickBooks since the run" in result.stdout
    (kept,) = ask(nosync_copy.company, "InvoiceQuery", {"RefNumber": ["INV10004"]})
    assert text(kept, "Memo") == "edited in QuickBooks"
    customer = text(kept, "CustomerRef/ListID")
    assert [text(c, "ListID") for c in ask(nosync_copy.company, "CustomerQuery", {"ActiveStatus": "All"})] == [customer]
    assert ask(nosync_copy.company, "ReceivePaymentQuery", {}) == []


def test_undo_sets_a_changed_payment_back_to_its_pre_image(demo_copy, cli):
    home = str(demo_copy.path)
    before = digest(demo_copy.company)
    old = next(r for r in ask(demo_copy.company, "ReceivePaymentQuery", {})
               if text(r, "Memo").startswith("Receipt R20001"))
    assert cli("payments", "edit", "R20001", "--date", "2026-01-03", "--home", home).code == 0
    log = demo_copy.path / "log.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home)
    assert result.code == 0 and result.writes == ["ReceivePaymentModRq"], result
    run = last_run(demo_copy.path)
    (image,) = [json.loads(line) for line in (demo_copy.path / "runs" / run / "pre-images.jsonl").read_text().splitlines()]
    assert image["action"] == "mod" and image["kind"] == "payment" and image["remote_id"] == text(old, "TxnID")
    assert image["version"] == text(old, "EditSequence")
    assert text(etree.fromstring(image["record"]), "TxnDate") == text(old, "TxnDate") != "2026-01-03"

    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 0 and "1 restore payment" in undone.stdout, undone
    assert undone.writes == ["ReceivePaymentModRq"]
    assert digest(demo_copy.company) == before
    again = cli("sync", "--yes", "--corrections-log", str(log), "--home", home)  # the billing version again
    assert again.code == 0 and again.writes == ["ReceivePaymentModRq"], again


def test_a_voided_invoice_is_listed_as_not_undoable(demo_copy, cli, demo_data):
    home = str(demo_copy.path)
    paid = {r["apply_to"] for r in demo_data("payments.csv")}
    number = next(r["number"] for r in demo_data("invoices.csv") if r["number"] not in paid)
    assert cli("invoices", "void", number, "--home", home).code == 0
    log = demo_copy.path / "log.csv"
    result = cli("sync", "--yes", "--corrections-log", str(log), "--home", home)
    assert result.code == 0, result
    run = last_run(demo_copy.path)
    image = json.loads((demo_copy.path / "runs" / run / "pre-images.jsonl").read_text().splitlines()[0])
    assert image["action"] == "void" and image["number"] == number and "<InvoiceRet>" in image["record"]
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert f"invoice {number}: voided by the run: QuickBooks cannot un-void a transaction" in dry.stdout, dry


def test_pre_images_are_kept_for_every_mod_void_and_delete_on_quickbooks_online(books: Books, cli):  # noqa: F811
    inv2, inv5, cm2 = books.doc("Invoice", "INV2"), books.doc("Invoice", "INV5"), books.doc("CreditMemo", "CM2")
    books.reimport("invoices", "INV2,2002,2025-01-16,,,4100,Gala,1,150.00,150.00")
    books.invoke("invoices", "void", "INV5")
    books.invoke("credit-memos", "delete", "CM2")
    result, _ = books.sync(cli)
    assert result.code == 0, str(result)
    run = last_run(books.home)
    images = {i["number"]: i for i in map(json.loads, (books.home / "runs" / run / "pre-images.jsonl")
                                          .read_text().splitlines())}
    assert {(i["action"], i["kind"]) for i in images.values()} == {("mod", "invoice"), ("void", "invoice"),
                                                                  ("delete", "credit_memo")}
    for number, before in (("INV2", inv2), ("INV5", inv5), ("CM2", cm2)):
        record = json.loads(images[number]["record"])
        assert record["Id"] == before["Id"] and images[number]["version"] == before["SyncToken"]
        assert Decimal(str(record["TotalAmt"])) == before["TotalAmt"]
    assert Decimal(str(json.loads(images["INV2"]["record"])["TotalAmt"])) == Decimal("170.00")


# ---------------------------------------------------------------------- the request processor: a real copy


def test_the_request_processor_copies_the_company_file_and_its_log_before_the_first_write(small, monkeypatch):
    """With rp2 the session is ended, the .QBW and .TLG copied into the run's backup, and the session begun
    again before anything is written."""
    from click.testing import CliRunner

    from booksync.books.desktop import rp2
    from booksync.cli.main import cli
    from test_rp2 import StandInRequestProcessor, factory, names, use_rp2

    tlg = small.company.with_suffix(".TLG")
    tlg.write_bytes(b"transaction log")
    rp = StandInRequestProcessor(small.company)
    monkeypatch.setattr(rp2, "com_factory", factory(rp))
    use_rp2(small.path, str(small.company))
    result = CliRunner().invoke(cli, ["sync", "--home", str(small.path), "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (backup,) = (small.path / "backups").iterdir()
    assert (backup / small.company.name).exists() and (backup / tlg.name).read_bytes() == b"transaction log"
    assert "The company file is not in it" not in result.output
    calls = names(rp)
    first_write = calls.index("ProcessRequest", calls.index("EndSession"))
    assert calls[:first_write].count("BeginSession") == 2  # the session began again after the copy


def test_the_request_processor_says_plainly_why_a_company_file_in_use_was_not_copied(small, monkeypatch):
    from click.testing import CliRunner

    from booksync.books.desktop import rp2
    from booksync.cli.main import cli
    from test_rp2 import StandInRequestProcessor, factory, use_rp2

    rp = StandInRequestProcessor(small.company)
    monkeypatch.setattr(rp2, "com_factory", factory(rp))
    monkeypatch.setattr(rp2, "company_file_held", lambda path: True)  # a user has it open in QuickBooks
    use_rp2(small.path, str(small.company))
    result = CliRunner().invoke(cli, ["sync", "--home", str(small.path), "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "The company file is not in it: QuickBooks has the company file" in result.output
    assert "File > Back Up Company" in result.output
    (backup,) = (small.path / "backups").iterdir()
    assert not (backup / small.company.name).exists()


def test_a_copied_home_reads_and_writes_its_own_run_folders(demo_copy, cli):
    """Run rows record their folder's absolute path; a copied home (demo_copy is one) must not read the
    original's pre-images nor write its undo log into the original home."""
    home = str(demo_copy.path)
    (first,) = [r for r in json.loads(cli("runs", "list", "--json", "--home", home).stdout)["runs"]]
    assert first["folder"] == str(demo_copy.path / "runs" / first["run_id"])
    shown = json.loads(cli("runs", "show", first["run_id"], "--json", "--home", home).stdout)
    assert shown["folder"] == first["folder"]
    dry = cli("runs", "undo", first["run_id"], "--dry-run", "--json", "--home", home)
    assert dry.code == 0, dry.output
    log = Path(json.loads(dry.stdout)["log"])
    assert log.parent == demo_copy.path / "runs" / first["run_id"] and log.is_file()


# ---------------------------------------------------------------------- review of the undo (issue 20, item 12)


def changed_payment_run(demo_copy, cli):  # noqa: ANN001, ANN201
    """A run that changed payment R (its date): (home, run, receipt)."""
    from test_deposits import single_payments

    home = str(demo_copy.path)
    (a,) = single_payments(1)
    assert cli("payments", "edit", a["number"], "--date", "2026-01-03", "--home", home).code == 0
    result = cli("sync", "--yes", "--corrections-log", str(demo_copy.path / "log.csv"), "--home", home)
    assert result.code == 0 and result.writes == ["ReceivePaymentModRq"], result
    return home, last_run(demo_copy.path), a["number"]


def test_an_undo_quickbooks_refuses_entirely_says_nothing_was_undone(demo_copy, cli):
    """0 records undone is not "partly undone": the run keeps its status, the message says nothing was undone and
    why, and the exit code is 5 (QuickBooks refused). The accountant closes the books after the run: QuickBooks
    refuses to change the payment (a refusal the undo cannot foresee)."""
    home, run, receipt = changed_payment_run(demo_copy, cli)
    assert cli("simulator", "closing-date", "2026-06-30", "--home", home).code == 0
    status = json.loads(cli("runs", "show", run, "--json", "--home", home).stdout)["status"]
    result = cli("runs", "undo", run, "--yes", "--home", home)
    assert result.code == 5, result
    assert "partly undone" not in result.output
    assert f"Nothing was undone: QuickBooks refused all 1 record(s) of run {run}" in result.stdout
    assert "closing date" in result.stdout
    assert json.loads(cli("runs", "show", run, "--json", "--home", home).stdout)["status"] == status
    as_json = json.loads(cli("runs", "undo", run, "--yes", "--json", "--home", home).stdout)
    assert as_json["status"] == "nothing undone" and as_json["exit_code"] == 5


def corrected_deposited_payment(demo_copy, cli):  # noqa: ANN001, ANN201
    """A run that corrected a deposited payment's date (out of its deposit, changed, put back): (home, run, receipt)."""
    from test_deposits import deposit, single_payments

    home = str(demo_copy.path)
    (a,) = single_payments(1)
    deposit(cli, home, a["number"])
    assert cli("payments", "edit", a["number"], "--date", "2026-01-02", "--home", home).code == 0
    result = cli("sync", "--yes", "--corrections-log", str(demo_copy.path / "log.csv"), "--home", home)
    assert result.code == 0 and "DepositModRq" in result.writes, result
    return home, last_run(demo_copy.path), a["number"]


def test_the_undo_names_a_deposit_without_a_doubled_word(demo_copy, cli):
    home, run, _ = corrected_deposited_payment(demo_copy, cli)
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    assert "deposit 2026-01-15" in dry.stdout and "deposit deposit" not in dry.output


def test_the_undo_backs_up_the_company_first_and_says_where(demo_copy, cli):
    """Undo writes to QuickBooks: like a sync it first copies the company file, booksync's database and the logs
    into the backups folder, and prints where."""
    home = str(demo_copy.path)
    assert cli("payments", "edit", "R20001", "--date", "2026-01-03", "--home", home).code == 0
    assert cli("sync", "--yes", "--corrections-log", str(demo_copy.path / "log.csv"), "--home", home).code == 0
    run = last_run(demo_copy.path)
    before_undo = digest(demo_copy.company)
    taken = set((demo_copy.path / "backups").iterdir())
    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 0, undone
    (folder,) = set((demo_copy.path / "backups").iterdir()) - taken
    assert folder.name.endswith(f"-undo-{run}")
    assert f"Backup taken before the undo: {folder}" in undone.stdout
    assert "The company file is not in it" not in undone.stdout
    assert digest(folder / demo_copy.company.name) == before_undo != digest(demo_copy.company)
    assert (folder / "logs").is_dir()


def test_the_dry_run_foresees_what_quickbooks_will_refuse(demo_copy, cli):
    """A payment deposited since the run cannot be set back: the dry run says so, with the deposit and what to do,
    instead of listing it as a restore; the undo does not send it and says nothing was undone."""
    from test_deposits import deposit

    home, run, receipt = changed_payment_run(demo_copy, cli)
    deposit(cli, home, receipt)
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    assert "1 restore payment" not in dry.stdout
    assert (f"payment {receipt}: will be refused: it is in the deposit of 2026-01-15 to Checking" in dry.stdout
            and "take it out of that deposit in QuickBooks" in dry.stdout), dry
    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 5 and undone.writes == [], undone
    assert "Nothing was undone: QuickBooks would refuse all 1 record(s)" in undone.stdout


def test_the_dry_run_foresees_a_customer_still_used_by_a_kept_invoice(nosync_copy, cli):
    home = str(nosync_copy.path)
    assert cli("sync", "--yes", "--home", home).code == 0
    run = last_run(nosync_copy.path)
    (inv,) = ask(nosync_copy.company, "InvoiceQuery", {"RefNumber": ["INV10004"]})
    with open_company(nosync_copy.company) as c:  # a QuickBooks user edits the invoice: the undo keeps it
        c.process(build.message([build.request("InvoiceMod", {
            "TxnID": text(inv, "TxnID"), "EditSequence": text(inv, "EditSequence"), "Memo": "edited in QuickBooks"},
            1)]))
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    refused = int(re.search(r"(\d+) record\(s\) will be refused by QuickBooks", dry.stdout).group(1))
    items = dry.stdout.count("will be refused: invoice INV10004 uses this item and stays in QuickBooks")
    assert items >= 1 and refused == 1 + items, dry.stdout  # its customer, and the items its lines use (3160)
    assert "will be refused: invoice INV10004 of this customer stays in QuickBooks" in dry.stdout
    assert "399 delete customer" in dry.stdout


def test_undo_of_a_corrected_deposited_payment_is_refused_up_front_naming_the_deposit(demo_copy, cli, company_db):
    """The run took the payment out of its deposit, changed it and put it back: QuickBooks refuses to change it
    again while it is deposited (3170). The undo says so before sending anything, names the deposit and what to do,
    and leaves QuickBooks as it is (no 3170 from QuickBooks)."""
    home, run, receipt = corrected_deposited_payment(demo_copy, cli)
    db = company_db(demo_copy.company)
    before = db.fingerprint()
    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    assert (f"payment {receipt}: will be refused: the run corrected it inside the deposit of 2026-01-15 to Checking"
            in dry.stdout), dry
    assert "run the undo again, then put it back in the deposit" in dry.stdout
    assert "deposit 2026-01-15: the undo does not change deposits" in dry.stdout
    undone = cli("runs", "undo", run, "--yes", "--home", home)
    assert undone.code == 5 and undone.writes == [] and "3170" not in undone.output, undone
    assert "Nothing was undone" in undone.stdout
    assert db.fingerprint() == before
