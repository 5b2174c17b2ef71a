"""The web interface in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Each test starts its own server (``python -m booksync.web``) on a copy of the demo chamber before its
first sync, with the qbXML schema guard of tests/conftest.py in the server process, and checks both
what the pages show and what changed in the simulated company (``company.qbsim``) and the billing store.

Screenshots of each page at 1280×800 go to ``browser-screenshots/`` at the top of the repository
(``BOOKSYNC_SCREENSHOTS`` overrides it). Chromium is ``$BOOKSYNC_CHROMIUM`` or ``/usr/bin/chromium`` (``make test``
installs Debian's package when it can); without it or Playwright the tests fail at set-up, saying what to install.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from booksync.simulator import open_company
from booksync.services.users import set_user

from conftest import GUARD_DIR, CompanyDB, SqliteFile, copy_home, load_schema, run_cli, schema_path, validate_run_files

CHROMIUM = Path(os.environ.get("BOOKSYNC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("BOOKSYNC_SCREENSHOTS") or REPO / "browser-screenshots")
USER, PASSWORD = "office", "river-chamber-2026"
LINKED_CUSTOMER = "Blue Heron Senior Living, LLC"
"""An existing QuickBooks customer that member 1001 (Blue Heron Senior Living) is linked to by hand."""

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None



@pytest.fixture(autouse=True)
def browser_installed() -> None:
    """Fail at set-up, saying what to install, when Playwright or Chromium is missing (`make test` installs both)."""
    if sync_playwright is None:
        pytest.fail("Playwright for Python is not installed (pip install -e '.[test]'; no 'playwright install' "
                    "needed: the tests drive Debian's Chromium)", pytrace=False)
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: install Debian's package 'chromium' "
                    "(apt-get install chromium), or set BOOKSYNC_CHROMIUM to a Chromium binary", pytrace=False)

CUSTOMER_ADD = f"""<?xml version="1.0" encoding="utf-8"?>
<?qbxml version="13.0"?>
<QBXML><QBXMLMsgsRq onError="stopOnError"><CustomerAddRq requestID="1"><CustomerAdd>
<Name>{LINKED_CUSTOMER}</Name><CompanyName>{LINKED_CUSTOMER}</CompanyName>
</CustomerAdd></CustomerAddRq></QBXMLMsgsRq></QBXML>
"""


# ---------------------------------------------------------------------- the server


@dataclass
class WebServer:
    url: str
    home: Path
    process: subprocess.Popen
    guard_log: Path

    @property
    def company(self) -> CompanyDB:
        return CompanyDB(self.home / "company.qbsim")

    @property
    def billing(self) -> SqliteFile:
        return SqliteFile(self.home / "billing.db")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, tmp: Path) -> WebServer:
    """``python -m booksync.web`` on a free port, with the qbXML guard; waits until it answers."""
    port = _free_port()
    guard_log = tmp / "qbxml-guard.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "QBXML_GUARD_XSD")}
    env.update(PYTHONPATH=os.pathsep.join([str(GUARD_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]),
               QBXML_GUARD_LOG=str(guard_log), PYTHONIOENCODING="utf-8")
    load_schema()
    env["QBXML_GUARD_XSD"] = str(schema_path()[0])
    errors = (tmp / "server.err").open("w")
    process = subprocess.Popen([sys.executable, "-m", "booksync.web", "--home", str(home), "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=errors, cwd=tempfile.gettempdir())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/signin", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the web server did not start:\n{(tmp / 'server.err').read_text()}")
        time.sleep(0.2)
    return WebServer(url, home, process, guard_log)


def stop_server(server: WebServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    entries = [json.loads(line) for line in server.guard_log.read_text().splitlines()] \
        if server.guard_log.exists() else []
    violations = [f"{e['what']}: {e['problem']}" for e in entries if e.get("event") == "violation"]
    assert not violations, "qbXML schema violations in the web server:\n" + "\n".join(violations)
    validate_run_files(server.home)


@pytest.fixture
def web(nosync_home, tmp_path: Path) -> Iterator[WebServer]:
    """The web interface on a fresh copy of the demo chamber before its first sync, with G/L account 4300's
    cross reference cleared, an existing QuickBooks customer to link member 1001 to, and a user."""
    home = copy_home(nosync_home, tmp_path / "home").path
    assert run_cli("accounts", "xref", "--clear", "4300", "--home", str(home)).code == 0
    with open_company(home / "company.qbsim") as company:  # as a QuickBooks user would, before booksync
        assert b'statusCode="0"' in company.process(CUSTOMER_ADD.encode("utf-8"))
    set_user(home, USER, PASSWORD)  # 'booksync users add' itself is tested in tests/test_web.py
    server = start_server(home, tmp_path)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def synced_web(demo_home, tmp_path: Path) -> Iterator[WebServer]:
    """The web interface on a copy of the demo chamber after its first sync, with a user."""
    home = copy_home(demo_home, tmp_path / "home").path
    set_user(home, USER, PASSWORD)
    server = start_server(home, tmp_path)
    try:
        yield server
    finally:
        stop_server(server)


# ---------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, web: WebServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def shot(page: Page, name: str) -> Path:
    """A screenshot of what the user sees (the 1280×800 viewport)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def synchronize(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Synchronize Transactions with QuickBooks").click()
    expect(page.get_by_role("heading", name="Synchronize Transactions with QuickBooks")).to_be_visible()


def dialog(page: Page, title: str):
    """The modal question dialog titled ``title``, once the processing page shows it."""
    box = page.get_by_role("dialog", name=title)
    expect(box).to_be_visible(timeout=60_000)
    return box


def result_message(page: Page):
    message = page.locator("#result-message")
    expect(message).to_be_visible(timeout=120_000)
    return message


# ---------------------------------------------------------------------- tests


def test_sign_in_refuses_a_wrong_password_and_signing_out_ends_the_session(web: WebServer, page: Page) -> None:
    before = web.company.fingerprint()
    page.goto("/members")
    expect(page).to_have_url(f"{web.url}/signin?next=%2Fmembers")
    expect(page.get_by_role("heading", name="Sign in to booksync")).to_be_visible()
    shot(page, "01-sign-in")

    sign_in(page, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("The user name or the password is not right.")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)

    sign_in(page)
    expect(page).to_have_url(f"{web.url}/members")
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()

    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto("/")
    expect(page.get_by_text("Riverside Regional Chamber of Commerce")).to_be_visible()
    shot(page, "02-dashboard-tablet")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{web.url}/signin")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/runs")
    expect(page).to_have_url(f"{web.url}/signin?next=%2Fruns")
    assert web.company.fingerprint() == before


def test_the_office_manager_maps_links_and_synchronizes_the_demo_through_every_dialog(
        web: WebServer, page: Page) -> None:
    company, billing = web.company, web.billing
    untouched = company.fingerprint()
    page.goto("/")
    sign_in(page)

    # The dashboard: the company, nothing synchronized yet, what waits, and what would stop a run.
    expect(page.locator("#company-name")).to_have_text("Riverside Regional Chamber of Commerce")
    expect(page.get_by_text("No synchronization yet.")).to_be_visible()
    expect(page.locator("#waiting-summary")).to_contain_text("1,870 new transaction(s)")
    expect(page.locator("#warn-unmapped")).to_contain_text("G/L account 4300 Advertising")
    expect(page.locator("#warn-customers")).to_contain_text("400 member(s) being billed without a QuickBooks customer")
    shot(page, "03-dashboard")

    # Cross Reference Accounts: the unmapped account comes first, its suggestion preselected; one save.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cross Reference Accounts").click()
    first = page.locator("#xref tbody tr").first
    expect(first).to_have_id("gl-4300")
    expect(first).to_contain_text("Not mapped")
    choice = page.get_by_label("QuickBooks account for G/L account 4300 Advertising")
    expect(choice).to_have_value("Advertising Income")
    shot(page, "04-cross-reference")
    choice.select_option(label="Advertising Income (Income, 4300)")
    page.get_by_role("button", name="Save cross references").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved 1 cross reference(s): 4300 → Advertising Income")
    expect(page.locator("#gl-4300")).to_contain_text("Mapped")
    expect(page.locator("#xref-summary")).to_have_text("Every G/L account has a matching QuickBooks account.")
    assert billing.value("SELECT qb_account FROM gl_accounts WHERE number='4300'") == "Advertising Income"

    # Members: search, open a member, and link it on the Bill Info tab to the existing customer.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_label("Search members").fill("Blue Heron")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#members-count")).to_contain_text("3 member(s) matching “Blue Heron”")
    shot(page, "05-members")
    page.get_by_role("link", name="Blue Heron Senior Living").click()
    page.get_by_role("navigation", name="Member").get_by_role("link", name="Bill Info").click()
    expect(page.locator("#bill-state")).to_contain_text("No QuickBooks customer")
    page.get_by_label("Search QuickBooks customers").fill("heron llc")
    page.get_by_role("button", name="Search").click()
    page.get_by_label(LINKED_CUSTOMER, exact=False).check()
    shot(page, "06-bill-info")
    page.get_by_role("button", name="Link to the selected customer").click()
    expect(page.locator(".flash-success")).to_contain_text(f"is linked to QuickBooks customer \"{LINKED_CUSTOMER}\"")
    expect(page.locator("#bill-state")).to_contain_text(f"Linked to QuickBooks customer {LINKED_CUSTOMER}")
    assert billing.value("SELECT qb_customer FROM members WHERE number='1001'") == LINKED_CUSTOMER
    assert company.fingerprint() == untouched, "mapping must not write to QuickBooks"

    # Synchronize: create the missing customers (yes), then update QuickBooks (yes).
    synchronize(page)
    ask = dialog(page, "Create QuickBooks customers?")
    expect(ask).to_contain_text("399 member(s) being billed have no QuickBooks customer")
    expect(ask.get_by_role("button", name="Yes, create the customers")).to_be_focused()
    shot(page, "07-sync-create-customers")
    ask.get_by_role("button", name="Yes, create the customers").click()
    ask = dialog(page, "Update QuickBooks?")
    expect(ask).to_contain_text("Do you want to update QuickBooks with the synchronization changes now?")
    expect(ask.locator("table")).to_contain_text("Add customer")
    expect(ask.locator("table")).to_contain_text("399")
    assert company.fingerprint() == untouched, "nothing may be written before the user confirms"
    shot(page, "08-sync-confirm")
    ask.get_by_role("button", name="Yes, update QuickBooks").click()
    try:  # the processing view while QuickBooks is updated, if the update is slow enough to catch
        expect(page.locator("#phase")).to_have_text(re.compile("Updating QuickBooks"), timeout=5_000)
        shot(page, "09-sync-progress")
    except AssertionError:
        pass
    expect(result_message(page)).to_have_text("QuickBooks was updated: 2325 operation(s) applied.")
    applied = page.get_by_role("table", name="Applied")
    for change, count in (("Add customer", "399"), ("Add invoice", "1003"), ("Add credit memo", "25"),
                          ("Add sales receipt", "45"), ("Add payment", "842")):
        expect(applied.get_by_role("row", name=f"{change} {count}", exact=True)).to_be_visible()
    expect(page.locator("#result")).to_contain_text("Completed")
    shot(page, "10-sync-result")
    assert company.count_lists("Customer") == 400
    assert company.count_txns("Invoice") == 1003
    assert company.count_txns("CreditMemo") == 25
    assert company.count_txns("ReceivePayment") == 842
    holder = company.value("SELECT DISTINCT l.name FROM txns t JOIN lists l ON l.list_id = t.customer_id "
                           "WHERE t.ref_number = 'INV10367'")
    assert holder == LINKED_CUSTOMER
    assert company.value("SELECT COUNT(*) FROM lists WHERE kind='Customer' AND name='Blue Heron Senior Living'") == 0

    # The member's transactions are synchronized now.
    page.goto("/members/1001/transactions")
    expect(page.locator("#txn-summary")).to_contain_text("5 transaction(s): 5 synchronized, 0 waiting")
    shot(page, "11-member-transactions")

    # A correction: a payment edited in the billing store; the run stops at the Corrections Log gate.
    # (A void would do as well, but the simulator's TxnVoid answer does not validate yet: VOID_DEL_BUG in
    # tests/test_simulator.py, and the schema guard in the server refuses it.)
    edited = run_cli("payments", "edit", "R20767", "--memo", "Check 4411, paid at the front desk",
                     "--home", str(web.home))
    assert edited.code == 0, str(edited)
    synced = company.fingerprint()
    page.goto("/members/1001/transactions")
    expect(page.locator("#txn-summary")).to_contain_text("4 synchronized, 0 waiting, 1 changed since")
    page.goto("/")
    expect(page.locator("#waiting-summary")).to_contain_text("1 correction(s)")
    synchronize(page)
    gate = dialog(page, "Review the Corrections Log")
    expect(gate).to_contain_text("1 correction(s) change transactions already in QuickBooks")
    expect(gate.get_by_role("button", name="Continue")).to_have_count(0)
    gate.get_by_role("button", name="Cancel synchronization").click()
    expect(result_message(page)).to_have_text("Cancelled at the Corrections Log; nothing was written to QuickBooks.")
    assert company.fingerprint() == synced

    # Again: preview the log in the viewer, print it, download the PDF, continue, and confirm.
    synchronize(page)
    gate = dialog(page, "Review the Corrections Log")
    shot(page, "12-sync-corrections-gate")
    gate.get_by_role("link", name="Preview the Corrections Log").click()
    expect(page.get_by_role("heading", name="QuickBooks Corrections Log")).to_be_visible()
    report = page.frame_locator("#log-frame")
    expect(report.locator("table")).to_contain_text("R20767")
    expect(report.locator("table")).to_contain_text("changed")
    shot(page, "13-corrections-log")
    page.get_by_role("button", name="Print").click()
    expect(page.get_by_role("button", name="Print")).to_have_attribute("data-printed", "yes")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(".pdf") and pdf.startswith(b"%PDF")
    from pypdf import PdfReader

    text = PdfReader(download.value.path()).pages[0].extract_text()
    assert "QuickBooks Corrections Log" in text and "R20767" in text
    page.get_by_role("button", name="Continue synchronization").click()
    ask = dialog(page, "Update QuickBooks?")
    expect(ask.locator("table")).to_contain_text("Change payment")
    assert company.fingerprint() == synced
    ask.get_by_role("button", name="Yes, update QuickBooks").click()
    expect(result_message(page)).to_have_text("QuickBooks was updated: 1 operation(s) applied.")
    run_id = page.locator("#run-link").inner_text().rsplit(" ", 1)[-1]
    memo = company.value("SELECT memo FROM txns WHERE txn_type='ReceivePayment' AND memo LIKE 'Receipt R20767%'")
    assert memo == "Receipt R20767 - Check 4411, paid at the front desk"

    # Run history: the three runs, newest first, with their plan, Corrections Log, log and backup.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Run history").click()
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Completed")
    expect(rows.nth(1)).to_contain_text("Cancelled")
    expect(rows.nth(2)).to_contain_text("Completed")
    expect(rows.nth(0).get_by_role("link", name="Corrections Log")).to_be_visible()
    expect(rows.nth(0).get_by_role("link", name="Backup")).to_be_visible()
    shot(page, "14-run-history")
    rows.nth(0).get_by_role("link", name=run_id).click()
    expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
    expect(page.locator("#run-files")).to_contain_text("corrections_log.pdf")
    expect(page.locator("#backup + p")).to_contain_text(f"booksync backups restore {run_id}")
    shot(page, "15-run")
    page.get_by_role("link", name="plan.txt").click()
    expect(page.locator("body")).to_contain_text("Synchronization plan for QuickBooks company")
    page.goto(f"/log?run={run_id}")
    expect(page.locator("pre.log")).to_contain_text(f"run {run_id}: QuickBooks was updated")
    shot(page, "16-log")


def test_a_run_stopped_by_a_check_or_declined_writes_nothing(web: WebServer, page: Page) -> None:
    company = web.company
    untouched = company.fingerprint()
    page.goto("/")
    sign_in(page)

    synchronize(page)
    expect(result_message(page)).to_contain_text("You have 1 account(s) which do not have a matching QuickBooks "
                                                 "account specified.")
    expect(page.locator(".problems")).to_contain_text("G/L account 4300 Advertising")
    shot(page, "17-sync-stopped")
    page.locator(".problems").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Cross Reference Accounts with QuickBooks Accounts")).to_be_visible()
    page.get_by_role("button", name="Save cross references").click()

    synchronize(page)
    dialog(page, "Create QuickBooks customers?").get_by_role("button", name="No").click()
    expect(result_message(page)).to_have_text("400 member(s) have no QuickBooks customer and none were created; "
                                              "nothing was written.")
    expect(page.locator(".problems").get_by_role("link").first).to_have_attribute("href", "/members/1001/bill-info")

    synchronize(page)
    dialog(page, "Create QuickBooks customers?").get_by_role("button", name="Yes, create the customers").click()
    dialog(page, "Update QuickBooks?").get_by_role("button", name="No").click()
    expect(result_message(page)).to_have_text("QuickBooks was not updated; the plan was discarded.")
    assert company.fingerprint() == untouched

    # Every run is listed, newest first, with why it ended: declined at the last question, declined at the
    # customers question, stopped by the unmapped account.
    page.goto("/runs")
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Declined")
    expect(rows.nth(1)).to_contain_text("Declined")
    expect(rows.nth(2)).to_contain_text("Stopped by a check")


def test_every_question_can_be_answered_without_javascript(browser, synced_web: WebServer) -> None:
    """Without the script, the processing page refreshes itself and the dialogs are plain forms."""
    web = synced_web
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web.url, java_script_enabled=False)
    page = context.new_page()
    try:
        assert run_cli("payments", "edit", "R20767", "--memo", "Check 4411", "--home", str(web.home)).code == 0
        before = web.company.fingerprint()
        page.goto("/")
        sign_in(page)
        synchronize(page)
        gate = page.locator("#question")
        expect(gate.get_by_role("heading", name="Review the Corrections Log")).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Preview the Corrections Log").click()
        expect(page.get_by_role("button", name="Print")).to_be_hidden()
        expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
        page.get_by_role("button", name="Continue synchronization").click()
        expect(page.locator("#question").get_by_role("heading", name="Update QuickBooks?")).to_be_visible(
            timeout=60_000)
        assert web.company.fingerprint() == before
        page.get_by_role("button", name="Yes, update QuickBooks").click()
        expect(result_message(page)).to_have_text("QuickBooks was updated: 1 operation(s) applied.")
        assert web.company.value("SELECT memo FROM txns WHERE txn_type='ReceivePayment' "
                                 "AND memo LIKE 'Receipt R20767%'") == "Receipt R20767 - Check 4411"
    finally:
        context.close()
