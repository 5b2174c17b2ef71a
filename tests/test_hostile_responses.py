"""Hostile or malformed QuickBooks answers: each ends in MalformedResponse with a clear message, never in
an unhandled exception or a record taken from the wrong answer; a sync whose answer is corrupted stops
with a clear error and the next sync settles the journal, writes nothing twice and reconciles clean.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from booksync.books.desktop.adapter import DesktopBooks
from booksync.config import Home
from booksync.domain import Action, Kind, LineData, Operation, Ref, SalesData
from booksync.qbxml import build
from booksync.qbxml import parse as qbparse
from booksync.errors import BooksError
from booksync.cli.common import command_name
from booksync.qbxml.parse import MalformedResponse, boolean, date, decimal, parse_response
from booksync.simulator import create_company, open_company
from booksync.store.db import open_store
from booksync.sources.csvfile.importer import import_file

BASE = Path(__file__).resolve().parent / "bad_input" / "_base"
BASE_FILES = (("gl-accounts", "gl_accounts.csv"), ("members", "members.csv"), ("invoices", "invoices.csv"),
              ("credit-memos", "credit_memos.csv"), ("payments", "payments.csv"))


def msg(*rs: str, root: str = "QBXML", msgs: str = "QBXMLMsgsRs") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><{root}><{msgs}>' + "".join(rs) + f"</{msgs}></{root}>").encode()


def rs(kind: str, body: str = "", code: int = 0, severity: str = "Info", rid: str = "1", **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return (f'<{kind}Rs requestID="{rid}" statusCode="{code}" statusSeverity="{severity}" statusMessage="Status OK"'
            f"{extra}>{body}</{kind}Rs>")


CUSTOMER = "<CustomerRet><ListID>80000001-1</ListID><EditSequence>17</EditSequence><Name>Acme</Name></CustomerRet>"
INVOICE = "<InvoiceRet><TxnID>1-17</TxnID><EditSequence>17</EditSequence></InvoiceRet>"
GOOD = msg(rs("CustomerAdd", CUSTOMER))

HOSTILE = {
    # name: (answer, words the message must hold)
    "not XML": (b"QuickBooks is not running", "not well-formed"),
    "empty": (b"", "empty"),
    "whitespace": (b"  \n ", "empty"),
    "truncated in a tag": (GOOD[: GOOD.index(b"<ListID>") + 4], "truncated"),
    "truncated after the Ret": (GOOD[: GOOD.index(b"</CustomerAddRs>")], "not well-formed"),
    "HTML error page": (b"<html><body><h1>503 Service Unavailable</h1></body></html>", "not <QBXML>"),
    "request echoed back": (msg(rs("CustomerAdd", CUSTOMER), msgs="QBXMLMsgsRq"), "no QBXMLMsgsRs"),
    "a Ret instead of an Rs": (msg(CUSTOMER), "unexpected element <CustomerRet>"),
    "a processing instruction": (msg("<?junk data?>"), "unexpected a processing instruction"),
    "no statusCode": (msg('<CustomerAddRs requestID="1" statusSeverity="Info"/>'), "no valid statusCode"),
    "statusCode not a number": (msg(rs("CustomerAdd", CUSTOMER).replace('statusCode="0"', 'statusCode="OK"')),
                                "no valid statusCode"),
    "negative status code": (msg(rs("CustomerAdd", CUSTOMER, code=-1)), "not a QuickBooks status code"),
    "status code beyond Intuit's ranges": (msg(rs("CustomerAdd", code=12000, severity="Error")),
                                           "not a QuickBooks status code"),
    "unknown severity": (msg(rs("CustomerAdd", CUSTOMER, severity="Fatal")), "statusSeverity 'Fatal'"),
    "no severity": (msg(rs("CustomerAdd", CUSTOMER).replace(' statusSeverity="Info"', "")), "statusSeverity None"),
    "success marked as an error": (msg(rs("CustomerAdd", CUSTOMER, severity="Error")), "statusCode 0 with"),
    "error marked as info": (msg(rs("CustomerAdd", code=3100)), "statusCode 3100 with statusSeverity Info"),
    "iterator count not a number": (msg(rs("CustomerQuery", CUSTOMER, iteratorRemainingCount="lots")),
                                    "not a count"),
    "negative iterator count": (msg(rs("CustomerQuery", CUSTOMER, iteratorRemainingCount="-3")), "not a count"),
    "requestID answered twice": (msg(rs("CustomerAdd", CUSTOMER), rs("CustomerAdd", CUSTOMER)), "twice"),
    "an Add without its Ret": (msg(rs("CustomerAdd")), "0 <CustomerRet> instead of one"),
    "an Add with two Rets": (msg(rs("CustomerAdd", CUSTOMER + CUSTOMER)), "2 <CustomerRet> instead of one"),
    "an Add Ret without ListID": (msg(rs("CustomerAdd", "<CustomerRet><Name>Acme</Name></CustomerRet>")),
                                  "has no ListID"),
    "an Add Ret with an empty TxnID": (msg(rs("InvoiceAdd", "<InvoiceRet><TxnID> </TxnID></InvoiceRet>")),
                                       "has no TxnID"),
    "the wrong Ret for the response": (msg(rs("CustomerAdd", INVOICE)), "holds <InvoiceRet>"),
    "a company query without CompanyRet": (msg(rs("CompanyQuery")), "instead of one"),
    "a TxnDel answer wrapped in a Ret": (msg(rs("TxnDel", "<TxnDelRet><TxnID>1-1</TxnID></TxnDelRet>")),
                                         "holds <TxnDelRet>"),
    "a host query with two HostRets": (msg(rs("HostQuery", "<HostRet/><HostRet/>")), "instead of one"),
    "a DTD": (b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x "y">]>' + GOOD[GOOD.index(b"<QBXML>"):], "DTD"),
    "an external entity": (b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                           b"<QBXML><QBXMLMsgsRs>&x;</QBXMLMsgsRs></QBXML>", "DTD"),
    "UTF-16 DTD": (('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE QBXML [<!ENTITY x "y">]><QBXML>'
                    "<QBXMLMsgsRs/></QBXML>").encode("utf-16"), "DTD"),
    "an unknown encoding": (b'<?xml version="1.0" encoding="x-klingon"?><QBXML><QBXMLMsgsRs/></QBXML>', "XML"),
    "deeply nested": (msg(rs("CustomerQuery", "<CustomerRet>" + "<a>" * 300 + "</a>" * 300 + "</CustomerRet>")),
                      "not well-formed"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_hostile_answer_is_malformed_with_a_clear_message(name):
    data, words = HOSTILE[name]
    with pytest.raises(MalformedResponse) as raised:
        parse_response(data)
    assert words in str(raised.value), str(raised.value)


def as_text(data: bytes) -> str | None:
    """The answer as the Web Connector would hand it over (a str), or None when it is not text."""
    try:
        return data.decode("utf-16" if data.startswith(b"\xff\xfe") else "utf-8")
    except UnicodeDecodeError:
        return None


TEXT_ANSWERS = [name for name, (data, _) in HOSTILE.items()
                if as_text(data) is not None and name != "an unknown encoding"]
"""The hostile answers that are text. "an unknown encoding" is not hostile as a str (see the next test)."""


@pytest.mark.parametrize("name", TEXT_ANSWERS)
def test_each_hostile_answer_as_text_is_malformed_too(name):
    """The Web Connector hands answers over as str: the same answers, decoded, are refused the same way."""
    with pytest.raises(MalformedResponse):
        parse_response(as_text(HOSTILE[name][0]))


def test_an_unknown_encoding_declared_in_a_str_is_ignored():
    """A str has no encoding: its declaration is dropped, and the empty message set that remains is read."""
    assert parse_response(as_text(HOSTILE["an unknown encoding"][0])) == []


def test_a_huge_answer_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(qbparse, "MAX_MESSAGE_BYTES", 1000)
    huge = msg(rs("CustomerQuery", CUSTOMER * 50))
    with pytest.raises(MalformedResponse, match="over the limit of 1000"):
        parse_response(huge)
    with pytest.raises(MalformedResponse, match="over the limit of 1000"):
        parse_response(huge.decode())


def test_lone_surrogates_in_a_text_answer_are_malformed():
    with pytest.raises(MalformedResponse, match="not text"):
        parse_response(GOOD.decode().replace("Acme", "Ac\udc80me"))


@pytest.mark.parametrize("accessor, value, words", [
    (decimal, "NaN", "not an amount"), (decimal, "Infinity", "not an amount"), (decimal, "1e5", "not an amount"),
    (decimal, "12.345", "not an amount"), (decimal, "1,000.00", "not an amount"),
    (boolean, "yes", "not a boolean"), (boolean, "TRUE!", "not a boolean"),
    (date, "2025-02-30", "not a date"), (date, "20250101", "not a date"), (date, "01/02/2025", "not a date"),
])
def test_values_inside_rets_are_checked(accessor, value, words):
    ret = etree.fromstring(f"<CustomerRet><X>{value}</X></CustomerRet>")
    with pytest.raises(MalformedResponse, match=words):
        accessor(ret, "X")


def test_values_inside_rets_that_are_fine():
    ret = etree.fromstring("<R><A>-12.50</A><B>true</B><C>2025-01-31</C><E></E></R>")
    assert decimal(ret, "A") == Decimal("-12.50") and decimal(ret, "E") == Decimal("0.00")
    assert boolean(ret, "B") is True and boolean(ret, "E", default=True) is True
    assert str(date(ret, "C")) == "2025-01-31" and date(ret, "E") is None


def test_real_simulator_answers_still_parse(qb):
    """The checks accept what QuickBooks (the simulator) really sends, warnings and 'no match' included."""
    acme = qb.add_customer("Acme Widgets")
    assert acme.findtext("ListID")
    for kind in ("HostQuery", "CompanyQuery", "PreferencesQuery", "AccountQuery", "CustomerQuery", "ItemQuery"):
        rs_ = qb.one(kind)
        assert rs_.ok, kind
    assert qb.one("InvoiceQuery", {"RefNumber": ["none"]}).code == 500   # a lookup that finds nothing warns


# ---------------------------------------------------------------------- answers checked against their request


REQUEST = build.message([build.request("CustomerAdd", {"Name": "Acme"}, 1),
                         build.request("InvoiceQuery", {"RefNumber": ["INV1"]}, 2)])


@pytest.mark.parametrize("answer, words", [
    (msg(rs("CustomerAdd", CUSTOMER, rid="7")), "request '7' (CustomerAdd), which was not asked"),
    (msg(rs("InvoiceAdd", INVOICE, rid="1")), "answered the CustomerAdd request 1 with a InvoiceAdd answer"),
    (msg(rs("InvoiceQuery", INVOICE, rid="2"), rs("CustomerAdd", CUSTOMER, rid="1")), "not in the order"),
    (msg(rs("CustomerAdd", CUSTOMER), rs("InvoiceQuery", INVOICE, rid="2"), rs("InvoiceQuery", rid="3")),
     "3 answers to 2 request(s)"),
    (msg(rs("CustomerAdd", "<CustomerRet><ListID>8-1</ListID></CustomerRet>")), "without EditSequence"),
    (msg(rs("CustomerAdd", CUSTOMER), rs("InvoiceQuery", "<InvoiceRet><EditSequence>1</EditSequence></InvoiceRet>",
                                         rid="2")), "without TxnID"),
])
def test_an_answer_that_does_not_match_its_request_is_malformed(answer, words):
    with pytest.raises(MalformedResponse) as raised:
        parse_response(answer, request=REQUEST)
    assert words in str(raised.value), str(raised.value)


def test_a_matching_answer_parses_against_its_request():
    answer = msg(rs("CustomerAdd", CUSTOMER), rs("InvoiceQuery", code=1, rid="2"))
    first, second = parse_response(answer, request=REQUEST)
    assert (first.kind, second.code) == ("CustomerAdd", 1)
    stopped = msg(rs("CustomerAdd", code=3100, severity="Error"))
    (only,) = parse_response(stopped, request=REQUEST)  # stopOnError: the rest were not processed
    assert not only.ok


# ---------------------------------------------------------------------- through the books port


class Canned:
    """A transport that answers every message with the same bytes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    def process(self, message: bytes) -> bytes:
        return self.answer


def invoice_op() -> Operation:
    data = SalesData(customer=Ref("customer", None, "80000001-1", "Acme"), date=dt.date(2025, 3, 1),
                     ref_number="INV1", lines=(LineData(Ref("item", None, "80000002-1", "Dues"), "Dues", Decimal(1),
                                                        Decimal(325), Decimal("325.00")),))
    return Operation(seq=1, action=Action.ADD, kind=Kind.INVOICE, local_id=1, number="INV1", description="Invoice",
                     payload=data)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_desktop_port_turns_every_hostile_answer_into_a_quickbooks_error(name):
    """Reading (snapshot) and writing (send) over a transport answering with a hostile message: a BooksError
    (MalformedResponse, or a typed status error), never IndexError, ValueError or AttributeError."""
    port = DesktopBooks(Canned(HOSTILE[name][0]))
    with pytest.raises(BooksError):
        port.snapshot()
    try:
        outcomes = port.send([invoice_op()], lambda ref: None)
    except BooksError:
        return
    assert all(o.status in ("failed", "not processed") for o in outcomes), outcomes


def test_a_wrong_type_answer_never_becomes_a_record():
    port = DesktopBooks(Canned(msg(rs("CustomerAdd", CUSTOMER, rid="1"))))
    with pytest.raises(MalformedResponse):
        port.send([invoice_op()], lambda ref: None)


# ---------------------------------------------------------------------- a sync whose answer is corrupted


class TruncateInvoiceAnswer:
    """The simulated company, except that the answer to the first message adding invoices is cut in half
    (QuickBooks processed the invoices; booksync never learns their TxnIDs)."""

    def __init__(self, company) -> None:
        self.company = company
        self.path = company.path
        self.done = False

    def process(self, message: bytes) -> bytes:
        answer = self.company.process(message)
        if not self.done and b"<InvoiceAddRq" in message:
            self.done = True
            return answer[: len(answer) // 2]
        return answer

    def backup_to(self, target: Path) -> None:
        self.company.backup_to(target)


@pytest.fixture
def small_home(tmp_path: Path) -> Home:
    """A home with the corpus' base billing data and a fresh simulated company (nothing synchronized)."""
    home = Home.load(tmp_path / "home", create=True)
    create_company(home.company_path, "Hostile Answers Chamber")
    sessions = open_store(home.database_url)
    with sessions() as session:
        for kind, name in BASE_FILES:
            import_file(session, kind, BASE / name)
    sessions.kw["bind"].dispose()
    return home


def test_a_corrupted_answer_stops_the_sync_clearly_and_the_next_sync_settles_it(small_home, cli, capsys,
                                                                                  company_db):
    from booksync.cli.common import sessions_for
    from booksync.cli.sync_cmd import CliInteraction, run_sync
    from booksync.sync.options import SyncOptions

    home = small_home
    sessions = sessions_for(home)
    company = open_company(home.company_path, app_name="booksync")
    try:
        port = DesktopBooks(TruncateInvoiceAnswer(company), backup_source=company)
        ui = CliInteraction(assume_yes=True, create_customers=True, quiet=True)
        with pytest.raises(SystemExit) as exited:
            run_sync(sessions, port, home, ui, SyncOptions())
    finally:
        company.close()
        sessions.kw["bind"].dispose()
    assert exited.value.code == 9
    err = capsys.readouterr().err
    assert "QuickBooks' answer could not be read:" in err
    assert "not well-formed XML (truncated or corrupted?)" in err
    assert f"Run it again: {command_name()} sync --home {home.path}" in " ".join(err.split())
    db = company_db(home.company_path)
    assert db.count_txns("Invoice") == 4, "QuickBooks had processed the invoices"
    assert db.count_txns("ReceivePayment") == 0, "nothing after the corrupted answer was sent"

    again = cli("sync", "--yes", "--home", str(home.path))
    assert again.code == 0, again
    assert "settled by asking QuickBooks first" in again.stdout
    assert re.search(r"add invoice INV1: had taken effect; recorded", again.stdout), again.stdout
    assert "InvoiceAddRq" not in {tag for message in again.requests for tag in message}, "no invoice re-sent"
    assert db.count_txns("Invoice") == 4 and db.count_txns("CreditMemo") == 2
    assert db.count_txns("ReceivePayment") == 2
    refs = [r["ref_number"] for r in db.rows("SELECT ref_number FROM txns WHERE txn_type='Invoice'")]
    assert sorted(refs) == ["INV1", "INV2", "INV3", "INV9"], "each invoice once"
    reconciled = cli("reconcile", "--home", str(home.path))
    assert reconciled.code == 0, reconciled
    assert "The books agree" in reconciled.stdout
    assert cli("sync", "--yes", "--home", str(home.path)).writes == []
