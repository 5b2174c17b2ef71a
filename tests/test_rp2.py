"""The Windows request processor (QBXMLRP2) transport, on any system, with a stand-in COM object.

:class:`StandInRequestProcessor` behaves as ``QBXMLRP2.RequestProcessor`` is documented to
(reference/quickbooks-desktop.md §10–§11; Intuit's SDK samples): OpenConnection2, BeginSession
with the company file and a file mode (returns a ticket), ProcessRequest(ticket, qbXML),
EndSession, CloseConnection; failures are raised as pywin32 raises COM errors, a ``com_error``
whose args are ``(DISP_E_EXCEPTION, text, excepinfo, argerror)`` with the real HRESULT in
``excepinfo[5]`` (as a signed 32-bit int). Behind it is the simulated company.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from booksync.books.desktop import rp2
from booksync.books.desktop.rp2 import CONNECTION_HRESULTS, RP2Transport, com_failure, explain_hresult, parse_hresult
from booksync.config import ConfigError, Home
from booksync.qbxml import build
from booksync.errors import ConnectionFailure
from booksync.simulator import open_company

from conftest import CompanyDB
from test_webconnector_service import small, small_template  # noqa: F401 - fixtures: a small billing store

CONSTANTS = SimpleNamespace(localQBD=1, remoteQBD=2, localQBDLaunchUI=3, qbFileOpenSingleUser=0,
                            qbFileOpenMultiUser=1, qbFileOpenDoNotCare=2)
"""The names booksync takes from the QBXMLRP2 type library (values as the stand-in's own)."""


class ComError(Exception):
    """Shaped like ``pywintypes.com_error``."""


def signed(hresult: int) -> int:
    return hresult - (1 << 32) if hresult & 0x80000000 else hresult


def com_error(hresult: int, description: str) -> ComError:
    return ComError(signed(0x80020009), "Exception occurred.",
                    (0, "QBXMLRP2.RequestProcessor.2", description, None, 0, signed(hresult)), None)


class StandInRequestProcessor:
    """QBXMLRP2.RequestProcessor over the simulator (see module docstring). ``fail`` maps a method name to
    (HRESULT, QuickBooks' description) to raise there."""

    def __init__(self, open_file: Path, fail: dict[str, tuple[int, str]] | None = None) -> None:
        self.open_file = open_file
        self.fail = fail or {}
        self.calls: list[tuple] = []
        self.company = None
        self.ticket = ""
        self.connected = False

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail:
            raise com_error(*self.fail[method])

    def OpenConnection2(self, app_id: str, app_name: str, connection_type: int) -> None:
        self.calls.append(("OpenConnection2", app_id, app_name, connection_type))
        self._maybe_fail("OpenConnection2")
        self.connected = True
        self.app_name = app_name

    def BeginSession(self, company_file: str, mode: int) -> str:
        self.calls.append(("BeginSession", company_file, mode))
        if not self.connected:
            raise com_error(0x80040401, "Could not access QuickBooks.")
        self._maybe_fail("BeginSession")
        try:
            self.company = open_company(Path(company_file or self.open_file), app_name=self.app_name)
        except ConnectionFailure as exc:
            raise com_error(exc.hresult, exc.message) from None
        self.ticket = "{" + str(uuid.uuid4()) + "}"
        return self.ticket

    def ProcessRequest(self, ticket: str, request: str) -> str:
        self.calls.append(("ProcessRequest", ticket))
        if ticket != self.ticket or self.company is None:
            raise com_error(0x8004040D, "The ticket parameter is invalid.")
        self._maybe_fail("ProcessRequest")
        try:
            return self.company.process(request).decode("utf-8")
        except ConnectionFailure as exc:
            raise com_error(exc.hresult, exc.message) from None

    def EndSession(self, ticket: str) -> None:
        self.calls.append(("EndSession", ticket))
        if self.company is not None:
            self.company.close()
            self.company = None

    def CloseConnection(self) -> None:
        self.calls.append(("CloseConnection",))
        self.connected = False


def names(rp: StandInRequestProcessor) -> list[str]:
    return [c[0] for c in rp.calls]


def factory(rp: StandInRequestProcessor):
    return lambda: (rp, CONSTANTS)


def use_rp2(home: Path, company_file: str = "", **rp2_settings: object) -> None:
    settings = Home.load(home)
    settings.settings["company"]["kind"] = "rp2"
    settings.settings["rp2"].update(company_file=company_file, **rp2_settings)
    settings.save()


HOST = build.message([build.request("HostQuery", None, 1)])


# ---------------------------------------------------------------------- a whole sync


def test_sync_and_reconcile_through_the_request_processor(small, monkeypatch):
    from booksync.cli.main import cli

    rp = StandInRequestProcessor(small.company)
    monkeypatch.setattr(rp2, "com_factory", factory(rp))
    use_rp2(small.path, str(small.company), file_mode="SingleUser")
    result = CliRunner().invoke(cli, ["sync", "--home", str(small.path), "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "QuickBooks was updated" in result.output
    assert rp.calls[0] == ("OpenConnection2", "", "booksync", CONSTANTS.localQBD)
    assert rp.calls[1] == ("BeginSession", str(small.company), CONSTANTS.qbFileOpenSingleUser)
    assert names(rp)[-2:] == ["EndSession", "CloseConnection"]
    assert names(rp).count("ProcessRequest") > 5
    assert CompanyDB(small.company).count_lists("Customer") == 3
    reconciled = CliRunner().invoke(cli, ["reconcile", "--home", str(small.path)], catch_exceptions=False)
    assert reconciled.exit_code == 0 and "zero differences" in reconciled.output


def test_a_refused_connection_exits_6_with_what_to_do(small, monkeypatch):
    from booksync.cli.main import cli

    rp = StandInRequestProcessor(small.company, fail={"BeginSession": (0x80040418, "This application has not "
                                                                        "accessed this QuickBooks company data file "
                                                                        "before.")})
    monkeypatch.setattr(rp2, "com_factory", factory(rp))
    use_rp2(small.path)
    result = CliRunner().invoke(cli, ["sync", "--home", str(small.path), "--yes"], catch_exceptions=False)
    assert result.exit_code == 6
    assert "Only the QuickBooks administrator" in result.output and "Admin" in result.output
    assert names(rp) == ["OpenConnection2", "BeginSession", "CloseConnection"]
    assert CompanyDB(small.company).count_lists("Customer") == 0


# ---------------------------------------------------------------------- every HRESULT its own message


@pytest.mark.parametrize("hresult", sorted(CONNECTION_HRESULTS))
@pytest.mark.parametrize("where", ["OpenConnection2", "BeginSession"])
def test_each_connection_hresult_is_explained(hresult, where, small):
    rp = StandInRequestProcessor(small.company, fail={where: (hresult, "QuickBooks' own words.")})
    transport = RP2Transport("booksync", factory=factory(rp))
    with pytest.raises(ConnectionFailure) as caught:
        transport.open()
    failure = caught.value
    message, advice = CONNECTION_HRESULTS[hresult]
    assert failure.hresult == hresult and failure.message.startswith(message) and failure.advice == advice
    assert "QuickBooks' own words." in failure.message
    assert names(rp)[-1] == ("CloseConnection" if where == "BeginSession" else "OpenConnection2")
    assert "EndSession" not in names(rp)


def test_every_hresult_has_its_own_message_and_advice():
    messages = [m for m, _ in CONNECTION_HRESULTS.values()]
    assert len(set(messages)) == len(messages)
    assert all(advice for _, advice in CONNECTION_HRESULTS.values())
    for code in (0x80040418, 0x8004041D, 0x80040420, 0x80040410, 0x80040416, 0x80040408, 0x80040422):
        assert code in CONNECTION_HRESULTS  # the ones the reference (§10) singles out


@pytest.mark.invalid_qbxml_request  # deliberately not XML: QuickBooks' parser refuses it (0x80040400)
def test_process_request_failures_and_the_session_is_always_ended(small):
    rp = StandInRequestProcessor(small.company)
    with RP2Transport("booksync", company_file=str(small.company), factory=factory(rp)) as transport:
        answer = transport.process(HOST)
        assert answer.startswith(b"<?xml version='1.0' encoding='utf-8'?>") and b"HostRet" in answer
        with pytest.raises(ConnectionFailure) as caught:
            transport.process(b"<QBXML><QBXMLMsgsRq onError='stopOnError'><NotARequestRq/></QBXMLMsgsRq></QBXML>"
                              b"<oops")
        assert caught.value.hresult == 0x80040400 and "booksync bug" in caught.value.advice
    assert names(rp)[-2:] == ["EndSession", "CloseConnection"]
    with pytest.raises(ConnectionFailure, match="not open"):
        transport.process(HOST)


def test_in_use_comes_back_from_the_company_file(small):
    holder = open_company(small.company)
    try:
        rp = StandInRequestProcessor(small.company)
        with pytest.raises(ConnectionFailure) as caught:
            RP2Transport("booksync", company_file=str(small.company), factory=factory(rp)).open()
        assert caught.value.hresult == 0x80040422 and "single-user mode" in caught.value.advice
    finally:
        holder.close()


def test_settings_choose_the_connection_type_and_file_mode(small):
    rp = StandInRequestProcessor(small.company)
    with RP2Transport("booksync", app_id="APP", file_mode="MultiUser", launch_ui=True, factory=factory(rp)):
        pass
    assert rp.calls[0] == ("OpenConnection2", "APP", "booksync", CONSTANTS.localQBDLaunchUI)
    assert rp.calls[1] == ("BeginSession", "", CONSTANTS.qbFileOpenMultiUser)
    with pytest.raises(ConfigError, match="file_mode"):
        RP2Transport("booksync", file_mode="Exclusive")


# ---------------------------------------------------------------------- the pieces


def test_hresults_in_every_spelling():
    assert parse_hresult("0x80040408") == parse_hresult("80040408") == parse_hresult("-2147220472") == 0x80040408
    assert parse_hresult(-2147220472) == 0x80040408
    assert parse_hresult("") == parse_hresult(None) == parse_hresult("nonsense") == 0


def test_com_errors_in_both_shapes_and_others_left_alone():
    direct = com_failure(ComError(signed(0x80040420), "User denied access.", None, None))
    assert direct.hresult == 0x80040420 and "denied" in direct.message
    unknown = explain_hresult(0x80041234, "Something new.")
    assert unknown.message == "Something new." and "0x80041234" in unknown.advice
    assert com_failure(ValueError("not COM")) is None


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the real request processor may be installed")
def test_off_windows_the_request_processor_says_to_use_the_web_connector():
    with pytest.raises(ConfigError, match="only on Windows.*Web Connector"):
        rp2.com_factory()
