"""Web Connector sessions across processes sharing one billing store (issue 19 item 12).

Two `booksync serve` processes on one home (one billing store: SQLite here, PostgreSQL in the PostgreSQL pass,
`make test-postgres`), as behind a load balancer or across a restart. The Web Connector is the zeep client of
test_webconnector.py, generated from Intuit's WSDL; QuickBooks is the simulator, opened in this process (the
schema guard validates every request and answer). Each test fails on the code before the sessions were kept in
the billing store: a ticket issued by one process was unknown to the other, and each process let a session
begin while another's ran.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests
import zeep
from sqlalchemy import select

from booksync.config import Home
from booksync.simulator import create_company, open_company
from booksync.sources.csvfile.importer import import_file
from booksync.store.connector_sessions import ACTIVE, ConnectorSession, SharedSessions
from booksync.store.db import open_store
from booksync.webconnector.service import UNKNOWN_TICKET, WebConnectorService, ticket_key

from conftest import CompanyDB, demo_csv
from test_webconnector import (BINDING, HCP, PASSWORD, USER, WSDL, Server, request_tags, start_server, stop_server,
                               strings)
from test_webconnector_service import INVOICES, MEMBERS, PAYMENTS, cheap_hash

OTHER_PC = "192.0.2.44"
"""The address of a second Web Connector (told through X-Forwarded-For; the home trusts the loopback proxy)."""


def build_home(folder: Path, **webconnector: object) -> Home:
    """A home with three members, three invoices and a payment, its simulated company, the Web Connector's
    password, the unattended policy (one update applies the plan) and 127.0.0.1 as a trusted proxy."""
    home = Home.load(folder, create=True)
    home.settings["webconnector"].update(user=USER, password_hash=cheap_hash(PASSWORD), wait_seconds=5,
                                         unattended=True, **webconnector)
    home.settings["web"]["trusted_proxies"] = ["127.0.0.1"]
    home.save()
    create_company(home.company_path, "Small Chamber")
    rows = demo_csv("gl_accounts.csv")
    files = {"gl-accounts": "number,name,type,qb_account\n" + "".join(
        f"{r['number']},{r['name']},{r['type']},\"{r['qb_account']}\"\n" for r in rows),
        "members": MEMBERS, "invoices": INVOICES, "payments": PAYMENTS}
    sessions = open_store(home.database_url)
    with sessions() as session:
        for kind, text in files.items():
            path = folder.parent / f"{folder.name}-{kind}.csv"
            path.write_text(text)
            import_file(session, kind, path)
    sessions.kw["bind"].dispose()
    return home


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[Home, Server, Server]]:
    home = build_home(tmp_path / "home")
    first = start_server(home.path)
    try:
        second = start_server(home.path)
    except BaseException:
        stop_server(first)
        raise
    yield home, first, second
    for server in (first, second):
        stop_server(server)


def client(url: str, address: str = ""):
    """A Web Connector's SOAP service at ``url``; ``address``: the PC it speaks from (X-Forwarded-For)."""
    session = requests.Session()
    if address:
        session.headers["X-Forwarded-For"] = address
    return zeep.Client(str(WSDL), transport=zeep.Transport(session=session)).create_service(BINDING, url)


@dataclass
class Update:
    auth: list[str] = field(default_factory=list)
    requests: list[list[str]] = field(default_factory=list)
    percents: list[int] = field(default_factory=list)
    last_error: str = ""
    closed: str = ""


def update(first, then, company: Path, max_calls: int = 500) -> Update:
    """One Web Connector update (guide p.21-25): authenticate on ``first``, every later call on ``then``."""
    u = Update(auth=strings(first.authenticate(USER, PASSWORD)))
    ticket = u.auth[0]
    assert u.auth[1] == "", u.auth
    with open_company(company, app_name="booksync") as qb:
        hcp = qb.process(HCP).decode("utf-8")
        for n in range(max_calls):
            request = then.sendRequestXML(ticket, hcp if n == 0 else "", str(company), "US", 13, 0) or ""
            if not request:
                u.last_error = then.getLastError(ticket) or ""
                if u.last_error == "NoOp":
                    time.sleep(0.05)
                    continue
                break
            u.requests.append(request_tags(request))
            percent = then.receiveResponseXML(ticket, qb.process(request).decode("utf-8"), "", "")
            u.percents.append(percent)
            if percent < 0:
                u.last_error = then.getLastError(ticket)
                break
            if percent == 100:
                break
    u.closed = then.closeConnection(ticket)
    return u


def company_state(company: Path) -> dict[str, object]:
    db = CompanyDB(company)
    state: dict[str, object] = {kind: db.count_lists(kind) for kind in ("Customer", "ItemService", "PaymentMethod")}
    for txn in ("Invoice", "ReceivePayment"):
        state[txn] = (db.count_txns(txn), db.total(txn))
    state["names"] = db.customer_names()
    return state


def session_rows(home: Home) -> list[ConnectorSession]:
    sessions = open_store(home.database_url)
    try:
        with sessions() as db:
            return list(db.scalars(select(ConnectorSession)))
    finally:
        sessions.kw["bind"].dispose()


def test_a_session_authenticated_on_one_server_continues_on_the_other(two_servers, tmp_path):
    """authenticate on A; sendRequestXML, receiveResponseXML, getLastError and closeConnection on B: the update
    runs to the end and QuickBooks ends as after the same update through one server."""
    home, first, second = two_servers
    single_home = build_home(tmp_path / "single")
    single = start_server(single_home.path)
    try:
        alone = update(client(single.url), client(single.url), single_home.company_path)
    finally:
        stop_server(single)
    assert alone.percents and alone.percents[-1] == 100 and "QuickBooks was updated" in alone.closed, alone

    split = update(client(first.url), client(second.url), home.company_path)
    assert split.percents and split.percents[-1] == 100, split
    assert "QuickBooks was updated" in split.closed
    assert [t for tags in split.requests for t in tags] == [t for tags in alone.requests for t in tags]
    assert company_state(home.company_path) == company_state(single_home.company_path)
    assert company_state(home.company_path)["Invoice"][0] == 3
    assert session_rows(home) == []  # closed: the ticket is forgotten everywhere
    # the ticket is stored only as its digest
    wc = client(first.url)
    ticket = strings(wc.authenticate(USER, PASSWORD))[0]
    assert [row.ticket_hash for row in session_rows(home)] == [ticket_key(ticket)]
    assert ticket not in {getattr(row, c.name) for row in session_rows(home) for c in ConnectorSession.__table__.c}
    assert "Nothing to synchronize" in client(second.url).closeConnection(ticket)


def test_a_second_web_connector_is_busy_while_a_session_runs_on_another_server(two_servers):
    """One active session per billing store: another Web Connector gets "busy" from either server while a
    session's sync runs, and begins once it is closed."""
    home, first, second = two_servers
    wc = client(first.url)
    ticket, status = strings(wc.authenticate(USER, PASSWORD))[:2]
    assert status == ""
    with open_company(home.company_path, app_name="booksync") as qb:
        hcp = qb.process(HCP).decode("utf-8")
        request = wc.sendRequestXML(ticket, hcp, str(home.company_path), "US", 13, 0)
        for _ in range(200):
            if request:
                break
            assert wc.getLastError(ticket) == "NoOp"
            request = wc.sendRequestXML(ticket, "", str(home.company_path), "US", 13, 0)
        assert request, "the sync never asked for anything"
        for server in (second, first):
            other = strings(client(server.url, OTHER_PC).authenticate(USER, PASSWORD))
            assert other[1] == "busy", (server.url, other)
        percent = wc.receiveResponseXML(ticket, qb.process(request).decode("utf-8"), "", "")
        assert 0 < percent <= 100
    wc.closeConnection(ticket)
    assert company_state(home.company_path)["Invoice"][0] == 0  # closed before it wrote anything
    later = update(client(second.url, OTHER_PC), client(second.url, OTHER_PC), home.company_path)
    assert later.percents and later.percents[-1] == 100 and "QuickBooks was updated" in later.closed, later


def test_a_running_session_reached_through_the_other_server_ends_cleanly(two_servers):
    """A session whose sync runs on A cannot move: a callback on B ends it with a message the Web Connector shows;
    the sync on A stops, nothing more is sent, and the next update (through B) applies everything."""
    home, first, second = two_servers
    wc_a, wc_b = client(first.url), client(second.url)
    ticket = strings(wc_a.authenticate(USER, PASSWORD))[0]
    with open_company(home.company_path, app_name="booksync") as qb:
        hcp = qb.process(HCP).decode("utf-8")
        request = ""
        for n in range(200):
            request = wc_a.sendRequestXML(ticket, hcp if n == 0 else "", str(home.company_path), "US", 13, 0)
            if request:
                break
        assert request
        assert wc_b.receiveResponseXML(ticket, qb.process(request).decode("utf-8"), "", "") < 0
    message = wc_b.getLastError(ticket)
    assert "runs in another booksync server" in message and "nothing more was sent" in message, message
    assert "Update again" in message
    assert not wc_a.sendRequestXML(ticket, "", "", "US", 13, 0)  # A's sync stopped: nothing more from A either
    assert wc_a.getLastError(ticket) == message
    assert wc_b.closeConnection(ticket) == message
    assert company_state(home.company_path)["Invoice"][0] == 0
    after = update(wc_b, wc_b, home.company_path)  # A released the sync lock
    assert after.percents and after.percents[-1] == 100 and "QuickBooks was updated" in after.closed, after
    assert company_state(home.company_path)["Invoice"][0] == 3


def _age_sessions(home: Home, seconds: float) -> None:
    """Make every session in the table ``seconds`` older (created, last callback, owner's heartbeat)."""
    sessions = open_store(home.database_url)
    with sessions() as session:
        for row in session.scalars(select(ConnectorSession)):
            row.created -= seconds
            row.last_seen -= seconds
            row.heartbeat -= seconds
        session.commit()
    sessions.kw["bind"].dispose()


def test_a_session_of_a_dead_server_expires_and_its_ticket_is_refused(tmp_path):
    """A server killed in a session's sync: another Web Connector is busy until the session expires
    (``idle_timeout_seconds``), then its ticket is refused on the surviving server and a new update runs there.
    The session is aged in the table rather than waited out, so no assertion races a clock."""
    home = build_home(tmp_path / "home", idle_timeout_seconds=600)
    first, second = start_server(home.path), start_server(home.path)
    try:
        wc = client(first.url)
        ticket = strings(wc.authenticate(USER, PASSWORD))[0]
        with open_company(home.company_path, app_name="booksync") as qb:
            hcp = qb.process(HCP).decode("utf-8")
            request = ""
            for n in range(200):
                request = wc.sendRequestXML(ticket, hcp if n == 0 else "", str(home.company_path), "US", 13, 0)
                if request:
                    break
            assert request
        first.process.kill()  # no shutdown: the session is abandoned with its sync
        first.process.wait(10)
        survivor = client(second.url)
        assert strings(client(second.url, OTHER_PC).authenticate(USER, PASSWORD))[1] == "busy"
        _age_sessions(home, 3600)  # an hour without a callback: past idle_timeout_seconds
        time.sleep(1.1)  # expired sessions are looked for at most once a second per process (waiting longer is fine)
        assert not survivor.sendRequestXML(ticket, "", "", "US", 13, 0)
        assert survivor.getLastError(ticket) == UNKNOWN_TICKET
        assert survivor.receiveResponseXML(ticket, "<QBXML/>", "", "") < 0
        later = update(client(second.url, OTHER_PC), client(second.url, OTHER_PC), home.company_path)
        assert later.percents and later.percents[-1] == 100 and "QuickBooks was updated" in later.closed, later
        assert company_state(home.company_path)["Invoice"][0] == 3
    finally:
        for server in (first, second):
            stop_server(server)


def test_the_same_web_connector_logging_in_again_drops_its_session_on_the_other_server(tmp_path):
    """Two services (separate memory) on one billing store: a Web Connector that lost its session and logs in again
    through B drops the session whose sync runs on A (guide p.42): A's sync stops, B's update applies everything,
    and the old ticket is unknown on both."""
    home = build_home(tmp_path / "home")
    first, second = WebConnectorService(home.path), WebConnectorService(home.path)
    try:
        old = first.authenticate(USER, PASSWORD)[0]
        with open_company(home.company_path, app_name="booksync") as qb:
            hcp = qb.process(HCP).decode("utf-8")
            request = ""
            for n in range(200):
                request = first.sendRequestXML(old, hcp if n == 0 else "", str(home.company_path), "US", 13, 0)
                if request:
                    break
            assert request
        again = update(second, second, home.company_path)
        assert again.percents and again.percents[-1] == 100 and "QuickBooks was updated" in again.closed, again
        assert company_state(home.company_path)["Invoice"][0] == 3
        for service in (first, second):
            assert service.getLastError(old) == UNKNOWN_TICKET
    finally:
        first.shutdown()
        second.shutdown()


def test_a_server_stopped_in_a_session_ends_it_for_the_others(two_servers):
    """A server stopped (SIGTERM) while its session's sync runs: the other server tells the Web Connector so at
    its next call, and the session no longer holds the active place (another Web Connector begins at once)."""
    home, first, second = two_servers
    wc = client(first.url)
    ticket = strings(wc.authenticate(USER, PASSWORD))[0]
    with open_company(home.company_path, app_name="booksync") as qb:
        hcp = qb.process(HCP).decode("utf-8")
        request = ""
        for n in range(200):
            request = wc.sendRequestXML(ticket, hcp if n == 0 else "", str(home.company_path), "US", 13, 0)
            if request:
                break
        assert request
        stop_server(first)
        survivor = client(second.url)
        assert survivor.receiveResponseXML(ticket, qb.process(request).decode("utf-8"), "", "") < 0
    assert survivor.getLastError(ticket) == ("booksync: the server running this update stopped; nothing more was "
                                             "sent. Update again.")
    later = update(client(second.url, OTHER_PC), client(second.url, OTHER_PC), home.company_path)
    assert later.percents and later.percents[-1] == 100 and "QuickBooks was updated" in later.closed, later


def test_the_database_holds_one_active_session_and_one_claim(tmp_path):
    """The unique ``active`` place and ``claim`` decide inside the database (SQLite here, PostgreSQL in its pass),
    whichever process asks: a second active session is refused, an ended one is not counted, a new session's
    sync is claimed once."""
    home = Home.load(tmp_path / "home", create=True)
    sessions = open_store(home.database_url)
    table = SharedSessions(sessions)
    try:
        def row(key: str, active: bool) -> ConnectorSession:
            return ConnectorSession(ticket_hash=key, user=USER, client="", active=ACTIVE if active else None,
                                    phase="new", created=1.0, last_seen=1.0, heartbeat=1.0)

        assert table.insert(row("a" * 64, True))
        assert not table.insert(row("b" * 64, True))
        assert table.insert(row("c" * 64, False)) and table.insert(row("d" * 64, False))
        assert table.claim("a" * 64, "one", 2.0) and not table.claim("a" * 64, "two", 2.0)
        assert table.get("a" * 64).owner == "one"
        table.ask_to_stop("a" * 64, "stopped", release=True)
        assert table.get("a" * 64).stop_reason == "stopped" and table.active() is None
        assert table.insert(row("b" * 64, True))
        assert not table.claim("c" * 64, "two", 2.0)  # not active: nothing to run
    finally:
        sessions.kw["bind"].dispose()
