"""The Web Connector callbacks in process: sessions, the engine's worker thread, confirmation, expiry.

The service is called directly (no HTTP; test_webconnector.py covers SOAP over HTTP). A small
billing store (three members, three invoices, a payment) keeps each session under a second; the
company is the simulator, opened in this process, so conftest's schema guard validates every
request and answer.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from booksync.config import Home
from booksync.domain import Action, Correction, Kind, Plan
from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.simulator import create_company, open_company
from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file
from booksync.store.models import Member, SyncRun
from booksync.sync.result import SyncResult
from booksync.services import confirmation as confirm
from booksync.webconnector.bridge import Bridge
from booksync.services.connector_state import ConnectorState
from booksync.webconnector.company import CompanyInfo, CompanyRefused, check_company, negotiate_version
from booksync.webconnector.service import ERROR_QUICKBOOKS, UNKNOWN_TICKET, WebConnectorService

from conftest import POSTGRES, CompanyDB, _clone_postgres_home, demo_csv

USER, PASSWORD = "office", "correct horse battery"


def cheap_hash(password: str) -> str:
    """An argon2id hash with minimal cost: verification reads the cost from the hash, so logins in tests
    are fast. The stored-hash path itself (default cost) is tested in test_webconnector_qwc.py."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)
# The Web Connector names an OwnerID to see a FileID (guide p.36: QuickBooks returns data extensions only to their
# OwnerID); the simulated company's own FileID is public (OwnerID 0).
HCP = build.message([build.request("HostQuery", None, 1), build.request("CompanyQuery", {"OwnerID": ["0"]}, 2),
                     build.request("PreferencesQuery", None, 3)], on_error="continueOnError")

MEMBERS = """number,name,city,state
2001,Alpha Bakery,Dayton,OH
2002,Beta Books,Kettering,OH
2003,Gamma Garage,Xenia,OH
"""
INVOICES = """number,member,date,due_date,gl_account,description,amount
INV1,2001,2025-01-02,2025-02-01,4020,2025 dues,325.00
INV2,2002,2025-01-02,2025-02-01,4020,2025 dues,325.00
INV3,2003,2025-01-03,2025-02-02,4100,Annual dinner,80.00
"""
PAYMENTS = """number,member,date,amount,method,reference,deposit_account,apply_to,apply_amount
R1,2001,2025-01-10,325.00,Check,1001,1050,INV1,325.00
"""


@dataclass
class Small:
    """A booksync home with a small billing store and its simulated company."""

    path: Path
    company: Path

    def settings(self, **webconnector: object) -> None:
        home = Home.load(self.path)
        home.settings["webconnector"].update(webconnector)
        home.save()

    def import_csv(self, kind: str, text: str, tmp: Path) -> None:
        path = tmp / f"{kind}-{time.monotonic_ns()}.csv"
        path.write_text(text)
        with open_store(Home.load(self.path).database_url)() as session:
            import_file(session, kind, path)

    def runs(self) -> list[tuple[str, str]]:
        with open_store(Home.load(self.path).database_url)() as session:
            return [(r.id, r.status) for r in session.scalars(select(SyncRun).order_by(SyncRun.started_at,
                                                                                       SyncRun.id))]


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Small:
    """Built once per module: the tests change copies of it."""
    tmp = tmp_path_factory.mktemp("small")
    home = Home.load(tmp / "home", create=True)
    home.settings["webconnector"].update(user=USER, password_hash=cheap_hash(PASSWORD), wait_seconds=5)
    home.save()
    create_company(home.company_path, "Small Chamber")
    rows = demo_csv("gl_accounts.csv")
    files = {"gl-accounts": "number,name,type,qb_account\n" + "".join(
        f"{r['number']},{r['name']},{r['type']},\"{r['qb_account']}\"\n" for r in rows),
        "members": MEMBERS, "invoices": INVOICES, "payments": PAYMENTS}
    sessions = open_store(home.database_url)
    with sessions() as session:
        for kind, text in files.items():
            path = tmp / f"{kind}.csv"
            path.write_text(text)
            import_file(session, kind, path)
    # Closed now: a pooled connection closed later by the collector removes billing.db-wal while a test
    # copies the template (shutil.Error: no such file, seen once in a full run).
    sessions.kw["bind"].dispose()
    return Small(home.path, home.company_path)


@pytest.fixture
def small(small_template: Small, tmp_path: Path) -> Small:
    target = tmp_path / "home"
    shutil.copytree(small_template.path, target, ignore=shutil.ignore_patterns("*.lock"))
    if POSTGRES:  # a billing store of its own, as on SQLite: tests sharing one would see each other's runs and sessions
        _clone_postgres_home(small_template.path, target)
    return Small(target, target / small_template.company.name)


@dataclass
class Update:
    auth: list[str]
    percents: list[int] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    last_error: str = ""
    closed: str = ""


def drive(service: WebConnectorService, company: Path, max_calls: int = 500) -> Update:
    """One Web Connector update, calling the service directly (guide p.21-25)."""
    u = Update(service.authenticate(USER, PASSWORD))
    ticket = u.auth[0]
    if u.auth[1] in ("nvu", "none", "busy"):
        u.closed = service.closeConnection(ticket)
        return u
    with open_company(company, app_name="booksync") as qb:
        hcp = qb.process(HCP).decode()
        for n in range(max_calls):
            request = service.sendRequestXML(ticket, hcp if n == 0 else "", str(company), "US", 13, 0)
            if not request:
                u.last_error = service.getLastError(ticket)
                if u.last_error == "NoOp":
                    continue
                break
            u.sent.append(request)
            try:
                percent = service.receiveResponseXML(ticket, qb.process(request).decode(), "", "")
            except ConnectionFailure as exc:
                percent = service.receiveResponseXML(ticket, "", f"0x{exc.hresult:08X}", exc.message)
            u.percents.append(percent)
            if percent < 0:
                u.last_error = service.getLastError(ticket)
                break
            if percent == 100:
                break
    u.closed = service.closeConnection(ticket)
    return u


# ---------------------------------------------------------------------- stage, confirm, apply


def test_stage_confirm_apply_and_nothing_more(small):
    service = WebConnectorService(small.path)
    customers = CompanyDB(small.company)
    staged = drive(service, small.company)
    assert staged.percents[-1] == 100 and "staged as run" in staged.closed
    assert customers.count_lists("Customer") == 0
    (run_id, status), = small.runs()
    assert status == confirm.AWAITING
    folder = small.path / "runs" / run_id
    awaiting = json.loads((folder / confirm.AWAITING_FILE).read_text())
    assert awaiting["counts"] == {"add customer": 3, "add item": 2, "add invoice": 3,
                                  "add payment": 1}
    assert awaiting["operations"] == 9  # the whole plan, though it was handed to the working files in parts
    assert json.loads((folder / "summary.json").read_text())["status"] == confirm.AWAITING

    assert drive(service, small.company).auth[1] == "none"  # still awaiting, nothing changed
    done = confirm.confirm_run(service.db, None, "tester")
    assert done.run_id == run_id and done.digest == awaiting["digest"]
    applied = drive(service, small.company)
    assert applied.percents[-1] == 100 and "applied in run" in applied.closed and "confirmed by tester" in applied.closed
    assert customers.count_lists("Customer") == 3 and customers.count_txns("Invoice") == 3
    statuses = dict(small.runs())
    assert statuses[run_id] == confirm.USED and list(statuses.values()).count("completed") == 1
    assert drive(service, small.company).auth[1] == "none"
    state = ConnectorState.load(small.path)
    assert state.company_name == "Small Chamber" and state.company_key == state.company_file_id
    assert state.last_session["status"] == "no work" and "Nothing to synchronize" in state.last_session["message"]


def test_nothing_to_do_reads_once_then_answers_none(small):
    """Synchronized already (here by an unattended session; the company key then forgotten, as in a home that
    synchronized with `booksync sync` before): the first update reads QuickBooks and finds nothing to do,
    the next answers "none" without opening QuickBooks (guide p.21)."""
    small.settings(unattended=True)
    service = WebConnectorService(small.path)
    drive(service, small.company)
    state = ConnectorState.load(small.path)
    state.company_key = ""
    state.save(small.path)
    before = CompanyDB(small.company).fingerprint()
    first = drive(service, small.company)
    assert first.auth[1] == "" and first.percents[-1] == 100
    assert first.closed == "booksync: Nothing to synchronize: QuickBooks is up to date."
    assert first.sent and not any(re.search(r"(Add|Mod)Rq|TxnDelRq|TxnVoidRq", r) for r in first.sent)
    second = drive(service, small.company)
    assert second.auth[1] == "none" and second.sent == [] and "Nothing to synchronize" in second.closed
    assert CompanyDB(small.company).fingerprint() == before


def test_a_change_after_confirmation_stages_again(small, tmp_path):
    service = WebConnectorService(small.path)
    drive(service, small.company)
    first = confirm.confirm_run(service.db, None, "tester").run_id
    small.import_csv("invoices", INVOICES + "INV4,2003,2025-02-01,2025-03-01,4300,Newsletter ad,150.00\n", tmp_path)
    again = drive(service, small.company)
    assert "staged as run" in again.closed and CompanyDB(small.company).count_lists("Customer") == 0
    statuses = dict(small.runs())
    assert statuses[first] == confirm.OUTDATED
    (second,) = [r for r, s in statuses.items() if s == confirm.AWAITING]
    with pytest.raises(confirm.ConfirmError, match="changed before it could be applied"):
        confirm.confirm_run(service.db, first, "tester")
    assert confirm.confirm_run(service.db, None, "tester").run_id == second
    assert drive(service, small.company).percents[-1] == 100
    assert CompanyDB(small.company).count_txns("Invoice") == 4


def test_new_billing_data_while_awaiting_restages_and_supersedes(small, tmp_path):
    service = WebConnectorService(small.path)
    drive(service, small.company)
    (first, _), = small.runs()
    assert drive(service, small.company).auth[1] == "none"
    with open_store(Home.load(small.path).database_url)() as session:
        session.scalar(select(Member).where(Member.number == "2002")).city = "Oakwood"
        session.commit()
    restaged = drive(service, small.company)
    assert restaged.auth[1] == "" and "staged as run" in restaged.closed
    statuses = dict(small.runs())
    assert statuses[first] == confirm.SUPERSEDED and list(statuses.values()).count(confirm.AWAITING) == 1


def test_the_unattended_policy_applies_without_confirmation(small):
    small.settings(unattended=True)
    service = WebConnectorService(small.path)
    u = drive(service, small.company)
    assert u.percents[-1] == 100 and "unattended policy" in u.closed
    assert CompanyDB(small.company).count_lists("Customer") == 3
    (run_id, status), = small.runs()
    assert status == "completed"
    record = json.loads((small.path / "runs" / run_id / confirm.CONFIRMED_FILE).read_text())
    assert record["how"] == "unattended policy"


def test_members_without_customers_and_no_creation_end_negative(small):
    small.settings(create_customers=False)
    u = drive(WebConnectorService(small.path), small.company)
    assert u.percents[-1] < 0 and "no QuickBooks customer" in u.last_error
    assert "booksync members map" in u.last_error and CompanyDB(small.company).count_lists("Customer") == 0


# ---------------------------------------------------------------------- the decision rules


def plan_of(*corrections: Correction) -> Plan:
    plan = Plan()
    plan.add(action=Action.ADD, kind=Kind.CUSTOMER, local_id=1, number="2001", description="Customer",
             fingerprint="f1")
    plan.corrections.extend(corrections)
    return plan


def correction(**kw: object) -> Correction:
    return Correction(kind="Invoice", number="INV1", member="2001 Alpha", date=None, changes=[], action="InvoiceMod",
                      **kw)


def test_unattended_policy_rule():
    assert confirm.unattended_allows(plan_of()) == (True, "")
    assert confirm.unattended_allows(plan_of(correction(past_period=True)))[0]
    ok, why = confirm.unattended_allows(plan_of(correction(closed=True, past_period=True)))
    assert not ok and "closed period" in why
    ok, why = confirm.unattended_allows(plan_of(correction(note="Conflict: edited in QuickBooks ...")))
    assert not ok and "overwrite" in why


def test_confirm_refuses_what_is_not_awaiting(small):
    service = WebConnectorService(small.path)
    with pytest.raises(confirm.ConfirmError, match="No run is awaiting confirmation"):
        confirm.confirm_run(service.db, None, "tester")
    with pytest.raises(confirm.ConfirmError, match="There is no run"):
        confirm.confirm_run(service.db, "20990101-000000", "tester")
    drive(service, small.company)
    run_id = confirm.confirm_run(service.db, None, "tester").run_id
    with pytest.raises(confirm.ConfirmError, match="already confirmed"):
        confirm.confirm_run(service.db, run_id, "tester")


# ---------------------------------------------------------------------- the callbacks' conventions


class Scripted:
    """A stand-in engine: sends ``messages`` through the port's transport (the bridge), after ``gate``."""

    def __init__(self, *messages: bytes, gate: threading.Event | None = None) -> None:
        self.messages = messages
        self.gate = gate
        self.answers: list[bytes] = []
        self.error: BaseException | None = None

    def __call__(self, sessions, port, home, interaction, options):
        if self.gate is not None:
            assert self.gate.wait(10)
        try:
            for message in self.messages:
                self.answers.append(port.transport.process(message))
        except ConnectionFailure as exc:
            self.error = exc
            raise
        return SyncResult("RUN", "nothing", 0, "Nothing to synchronize: QuickBooks is up to date.")


QUERY = build.message([build.request("CustomerQuery", {"MaxReturned": 5}, 1)])
WRITE = build.message([build.request("CustomerAdd", {"Name": "Written Once"}, 1)])


def authenticated(service: WebConnectorService, company: Path) -> tuple[str, str]:
    ticket, status = service.authenticate(USER, PASSWORD)[:2]
    assert status == ""
    with open_company(company, app_name="booksync") as qb:
        return ticket, qb.process(HCP).decode()


def test_noop_while_the_engine_thinks(small):
    small.settings(wait_seconds=0.05)
    gate = threading.Event()
    engine = Scripted(QUERY, gate=gate)
    service = WebConnectorService(small.path, engine=engine)
    ticket, hcp = authenticated(service, small.company)
    assert service.sendRequestXML(ticket, hcp, "", "US", 13, 0) == ""
    assert service.getLastError(ticket) == "NoOp"
    gate.set()
    request = ""
    for _ in range(100):
        request = service.sendRequestXML(ticket, "", "", "US", 13, 0)
        if request:
            break
        assert service.getLastError(ticket) == "NoOp"
    assert "CustomerQueryRq" in request
    with open_company(small.company, app_name="booksync") as qb:
        assert service.receiveResponseXML(ticket, qb.process(request).decode(), "", "") == 100
    assert "Nothing to synchronize" in service.closeConnection(ticket)


def test_asked_again_a_query_is_resent_a_write_is_not(small):
    service = WebConnectorService(small.path, engine=Scripted(QUERY))
    ticket, hcp = authenticated(service, small.company)
    first = service.sendRequestXML(ticket, hcp, "", "US", 13, 0)
    assert service.sendRequestXML(ticket, "", "", "US", 13, 0) == first  # out of sequence: read again (p.53)
    service.closeConnection(ticket)

    engine = Scripted(WRITE)
    service = WebConnectorService(small.path, engine=engine)
    ticket, hcp = authenticated(service, small.company)
    assert "CustomerAddRq" in service.sendRequestXML(ticket, hcp, "", "US", 13, 0)
    assert service.sendRequestXML(ticket, "", "", "US", 13, 0) == ""
    assert "nothing is written twice" in service.getLastError(ticket)
    assert service.receiveResponseXML(ticket, "<QBXML/>", "", "") < 0
    time.sleep(0.5)  # the engine, cancelled, stops at its next step
    assert isinstance(engine.error, ConnectionFailure)
    assert CompanyDB(small.company).count_lists("Customer") == 0


def test_an_answer_before_any_request_is_out_of_sequence(small):
    service = WebConnectorService(small.path, engine=Scripted(QUERY))
    ticket, _ = authenticated(service, small.company)
    assert service.receiveResponseXML(ticket, "<QBXML/>", "", "") < 0
    assert "disrupted" in service.getLastError(ticket)


def test_an_hresult_stops_the_engine_and_is_explained(small):
    engine = Scripted(QUERY, QUERY)
    service = WebConnectorService(small.path, engine=engine)
    ticket, hcp = authenticated(service, small.company)
    assert service.sendRequestXML(ticket, hcp, "", "US", 13, 0)
    assert service.receiveResponseXML(ticket, "", "0x8004041D", "Application is not allowed to log in "
                                                                "automatically.") == ERROR_QUICKBOOKS
    message = service.getLastError(ticket)
    assert "0x8004041D" in message and "log in to QuickBooks automatically" in message
    assert "Allow this application to login automatically" in message
    assert service.closeConnection(ticket) == message
    time.sleep(0.5)
    assert isinstance(engine.error, ConnectionFailure) and engine.answers == []


def test_tickets_expire_and_a_new_login_drops_the_old_session(small):
    now = [1000.0]
    service = WebConnectorService(small.path, engine=Scripted(QUERY), clock=lambda: now[0])
    old, _ = authenticated(service, small.company)
    new, hcp = authenticated(service, small.company)
    assert service.getLastError(old) == UNKNOWN_TICKET  # guide p.42: the old ticket is dropped
    now[0] += 601  # idle_timeout_seconds defaults to 600
    assert service.sendRequestXML(new, hcp, "", "US", 13, 0) == ""
    assert service.getLastError(new) == UNKNOWN_TICKET
    assert service.receiveResponseXML(new, "<QBXML/>", "", "") < 0


def test_a_stuck_engine_is_stopped_after_the_idle_limit(small):
    small.settings(wait_seconds=0.01)
    now = [1000.0]
    gate = threading.Event()
    service = WebConnectorService(small.path, engine=Scripted(QUERY, gate=gate), clock=lambda: now[0])
    ticket, hcp = authenticated(service, small.company)
    assert service.sendRequestXML(ticket, hcp, "", "US", 13, 0) == ""
    assert service.getLastError(ticket) == "NoOp"
    now[0] += 599
    assert service.getLastError(ticket) == "NoOp"  # each call keeps the session alive ...
    now[0] += 2
    assert "made no progress" in service.getLastError(ticket)  # ... but not the engine that makes no progress
    gate.set()


def test_an_old_qbxml_version_is_refused(small):
    service = WebConnectorService(small.path, engine=Scripted(QUERY))
    ticket, hcp = authenticated(service, small.company)
    assert service.sendRequestXML(ticket, hcp, "", "US", 12, 0) == ""
    message = service.getLastError(ticket)
    assert "qbXML 12.0" in message and "13.0" in message


def test_client_version_and_server_version(small):
    service = WebConnectorService(small.path)
    assert service.clientVersion("2.3.0.215") == ""
    assert service.clientVersion("1.5.0.1").startswith("W:")
    assert service.clientVersion("") == ""
    assert service.serverVersion("").startswith("booksync ")


def test_the_bridge_never_waits_forever():
    bridge = Bridge(answer_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ConnectionFailure, match="no answer from QuickBooks within"):
        bridge.process(QUERY)
    assert time.monotonic() - started < 2
    assert bridge.next_event(0).kind == "request"
    assert bridge.next_event(0.01) is None


# ---------------------------------------------------------------------- the company check


def test_company_check_prefers_the_qwc_file_id():
    owner, mine = "{11111111-1111-1111-1111-111111111111}", "{22222222-2222-2222-2222-222222222222}"
    info = CompanyInfo("Chamber", file_ids=[("0", "{33333333-3333-3333-3333-333333333333}"), (owner, mine.lower())])
    state = ConnectorState()
    assert check_company(info, state, owner, mine, "C:\\Books\\chamber.qbw") is True
    assert state.company_file_id == mine and state.company_file == "C:\\Books\\chamber.qbw"
    assert check_company(info, state, owner, mine, "") is False
    other = CompanyInfo("Other", file_ids=[("0", "{44444444-4444-4444-4444-444444444444}")])
    with pytest.raises(CompanyRefused, match="set up for \"Chamber\""):
        check_company(other, state, owner, mine, "C:\\Books\\other.qbw")
    with pytest.raises(CompanyRefused, match="did not report a FileID"):
        check_company(CompanyInfo("Bare"), ConnectorState(), owner, mine, "")


def test_version_negotiation():
    assert negotiate_version(16, 0) == "13.0"
    assert negotiate_version(13, 0) == "13.0"
    assert negotiate_version(0, 0, CompanyInfo("x", versions=["12.0", "13.0"])) == "13.0"
    with pytest.raises(CompanyRefused, match="speaks qbXML 12.0"):
        negotiate_version(0, 0, CompanyInfo("x", versions=["11.0", "12.0"]))


def test_the_log_is_one_line_a_record_and_is_rotated(tmp_path):
    """Issue 19 item 5: a value with newlines cannot forge a record; a traceback's lines are indented (a line
    at the margin always starts a record); the file rotates at logs.max_bytes, keeping logs.keep files."""
    import logging

    from booksync.logfile import file_handler

    handler = file_handler(tmp_path, {"max_bytes": 20_000, "keep": 2})
    logger = logging.getLogger("booksync.test-log-file")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for i in range(400):
            logger.warning("user %s sent %s", f"u{i}\r\n2026-01-01 00:00:00,000 INFO forged", "\x1b[2J" + "z" * 100)
        try:
            raise ValueError("bad value\n2026-01-01 00:00:00,000 INFO forged by an exception")
        except ValueError:
            logger.exception("callback failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["booksync.log", "booksync.log.1", "booksync.log.2"]
    record = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) booksync\.test-log-file: ")
    for name in files:
        path = tmp_path / name
        assert path.stat().st_size <= 20_000
        for line in path.read_text().splitlines():
            assert record.match(line) or line.startswith("    "), line
            assert "\x1b" not in line
    text = (tmp_path / "booksync.log").read_text()
    assert "u399\\r\\n2026-01-01 00:00:00,000 INFO forged sent \\x1b[2Jzzz" in text
    assert "    ValueError: bad value" in text and "\n    2026-01-01 00:00:00,000 INFO forged by" in text


def test_authenticate_is_throttled_per_user_before_the_password_is_checked(small, monkeypatch, caplog):
    """Issue 19 item 3: authenticate had no limit. Attempts are counted before the check, per user (10) and per
    address (30), as the web sign-in; over a limit the answer is "busy" with the seconds to postpone, and no
    password is checked (even the right one) until the window has passed."""
    import booksync.webconnector.service as service_module

    now = [1000.0]
    service = WebConnectorService(small.path, clock=lambda: now[0])
    checked = []
    real = service_module.check_credentials
    monkeypatch.setattr(service_module, "check_credentials", lambda *a: checked.append(a[1]) or real(*a))
    for i in range(10):
        assert service.authenticate(USER, f"guess {i}", client="192.0.2.7")[1] == "nvu"
    locked = service.authenticate(USER, PASSWORD, client="192.0.2.7")
    assert locked[1:] == ["busy", "601"] and len(checked) == 10
    for i in range(20):  # other names from the same address: under the address limit (30)
        assert service.authenticate(f"someone{i}", "guess", client="192.0.2.7")[1] == "nvu"
    assert service.authenticate("someone-else", "guess", client="192.0.2.7")[1] == "busy"
    assert service.authenticate(USER, PASSWORD, client="198.51.100.1")[1] == "busy"  # the user's limit
    assert len(checked) == 30
    now[0] += 601
    assert service.authenticate(USER, PASSWORD, client="192.0.2.7")[1] in ("", "none")
    assert "too many attempts" in caplog.text and "guess 3" not in caplog.text
    service.shutdown()
