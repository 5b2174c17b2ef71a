"""`booksync runs undo RUN` through the Web Connector (issue 20, item 12): booksync reaches QuickBooks only during an
update, so the undo is planned from the run's journal and pre-images, confirmed, and staged; the next Web Connector
update reads QuickBooks, sends it, and the run shows "undo waiting" then "undone". Through the real CLI and the Web
Connector service driven as QBWC drives it (tests/test_webconnector_service.py)."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import tomli_w

from booksync.config import Home
from booksync.services.users import load_users, set_user
from booksync.web.app import create_app

from booksync.qbxml import build
from booksync.services import confirmation as confirm
from booksync.simulator import open_company
from booksync.webconnector.service import WebConnectorService
from test_undo import ask, digest
from test_web import Browser
from test_webconnector_service import drive, small, small_template  # noqa: F401 - fixtures
from booksync.qbxml.parse import text


def web_history(home: Path) -> str:
    """The web interface's run history page, signed in."""
    from starlette.testclient import TestClient

    if "office" not in load_users(home):
        set_user(home, "office", "river-chamber-2026")
    with TestClient(create_app(Home.load(home)), base_url="http://127.0.0.1") as client:
        browser = Browser(client)
        assert browser.sign_in("office", "river-chamber-2026").status_code == 303
        return client.get("/runs").text


def through_the_web_connector(home: Path) -> None:
    config = home / "booksync.toml"
    settings = tomllib.loads(config.read_text())
    settings["company"]["kind"] = "webconnector"
    config.write_text(tomli_w.dumps(settings))


def applied_run(small, service: WebConnectorService) -> str:  # noqa: ANN001, F811
    """Stage the small chamber's first sync, confirm it, apply it at the next update: the run that wrote."""
    drive(service, small.company)
    confirm.confirm_run(service.db, None, "tester")
    applied = drive(service, small.company)
    assert "applied in run" in applied.closed, applied
    (run,) = [r for r, status in small.runs() if status == "completed"]
    return run


def status(cli, home: str, run: str) -> str:  # noqa: ANN001
    return json.loads(cli("runs", "show", run, "--json", "--home", home).stdout)["status"]


def test_the_undo_is_staged_and_the_next_update_sends_it(small, cli):  # noqa: F811
    home = str(small.path)
    service = WebConnectorService(small.path)
    before = digest(small.company)
    run = applied_run(small, service)
    written = digest(small.company)
    assert written != before
    through_the_web_connector(small.path)

    dry = cli("runs", "undo", run, "--dry-run", "--home", home)
    assert dry.code == 0, dry
    said = " ".join(dry.stdout.split())
    assert "3 delete customer" in said and "3 delete invoice" in said and "1 delete payment" in said, said
    assert "Through the Web Connector booksync reaches QuickBooks only during an update" in said
    assert (small.path / "runs" / run / f"undo-{run}.csv").is_file()
    declined = cli("runs", "undo", run, "--home", home, input="n\n")
    assert declined.code == 4 and "Nothing was changed" in declined.stdout
    assert status(cli, home, run) == "completed"

    staged = cli("runs", "undo", run, "--yes", "--home", home)
    assert staged.code == 0, staged
    assert f"The undo of run {run} is staged: the next Web Connector update sends it" in " ".join(staged.stdout.split())
    assert status(cli, home, run) == "undo waiting" and digest(small.company) == written  # nothing sent yet
    assert "Undo staged: sent at next update" in web_history(small.path)
    shown = cli("runs", "show", run, "--home", home)
    assert "Its undo waits for the next Web Connector update" in " ".join(shown.stdout.split()), shown
    again = cli("runs", "undo", run, "--yes", "--home", home)
    assert again.code == 3 and "staged already" in again.stderr, again

    update = drive(service, small.company)
    assert update.percents[-1] == 100, update
    assert f"The undo was sent: 9 record(s) deleted or set back in run {run}" in update.closed, update.closed
    assert digest(small.company) == before
    assert status(cli, home, run) == "undone"
    assert ">Undone<" in web_history(small.path)
    sent = json.loads((small.path / "runs" / run / "undo-sent.json").read_text())
    assert sent["status"] == "completed" and sent["status_before"] == "completed"
    assert not (small.path / "runs" / run / "undo-staged.json").exists()
    shown = cli("runs", "show", run, "--home", home)
    assert "Its undo was sent by a Web Connector update" in " ".join(shown.stdout.split()), shown
    assert cli("runs", "undo", run, "--yes", "--home", home).code == 3  # undone already


def test_a_record_edited_in_quickbooks_before_the_update_is_left_alone_and_named(small, cli):  # noqa: F811
    home = str(small.path)
    service = WebConnectorService(small.path)
    run = applied_run(small, service)
    through_the_web_connector(small.path)
    assert cli("runs", "undo", run, "--yes", "--home", home).code == 0
    (inv,) = ask(small.company, "InvoiceQuery", {"RefNumber": ["INV2"]})
    with open_company(small.company) as c:  # a QuickBooks user edits an invoice before the next update
        c.process(build.message([build.request("InvoiceMod", {
            "TxnID": text(inv, "TxnID"), "EditSequence": text(inv, "EditSequence"), "Memo": "edited in QuickBooks"},
            1)]))
    update = drive(service, small.company)
    assert f"Run {run} was partly undone" in update.closed, update.closed
    assert status(cli, home, run) == "partly undone"
    log = (small.path / "runs" / run / f"undo-{run}.csv").read_text()
    assert 'INV2,left alone,"changed in QuickBooks since the run' in log, log
    # Foreseen, not sent: the item INV2 uses (QuickBooks would answer 3160) and its customer (3170).
    assert 'item,4020,will be refused by QuickBooks,"invoice INV2 uses this item and stays in QuickBooks' in log, log
    assert "customer,2002,will be refused by QuickBooks" in log and "3160" not in log, log
    (kept,) = ask(small.company, "InvoiceQuery", {"RefNumber": ["INV2"]})
    assert text(kept, "Memo") == "edited in QuickBooks"
