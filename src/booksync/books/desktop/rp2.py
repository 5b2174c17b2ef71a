"""QuickBooks Desktop through the Windows request processor, QBXMLRP2 (a qbXML transport).

For offices that run booksync on the QuickBooks PC itself. The COM object
``QBXMLRP2.RequestProcessor`` is driven as Intuit's samples do (reference/quickbooks-desktop.md
§11): ``OpenConnection2(appID, appName, connectionType)``, ``BeginSession(companyFile, fileMode)``
→ ticket, ``ProcessRequest(ticket, qbXML)`` per message, then ``EndSession(ticket)`` and
``CloseConnection()``. Connection types and file modes are taken by name from the type library
(§11: "use the type-library constants, not literals").

pywin32 is imported only when a real connection is opened, so this module loads on any
system; on Linux the tests drive :class:`RP2Transport` with a stand-in object that behaves
as the documented COM interface.

Every COM failure becomes a :class:`~booksync.errors.ConnectionFailure` whose message
says what happened and whose advice says what to do, one per HRESULT of §10
(:data:`CONNECTION_HRESULTS`); the Web Connector service uses the same table to explain the
HRESULTs QBWC reports.
"""
from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from lxml import etree

from booksync.errors import ConnectionFailure
from booksync.qbxml.parse import parse_xml

DISP_E_EXCEPTION = 0x80020009
"""The HRESULT pywin32 reports when the COM server raised; the real code is in excepinfo[5]."""

FILE_MODES = {"DoNotCare": "qbFileOpenDoNotCare", "SingleUser": "qbFileOpenSingleUser",
              "MultiUser": "qbFileOpenMultiUser"}
"""booksync's ``rp2.file_mode`` setting → QBFileMode constant of the QBXMLRP2 type library."""

_ADMIN = ("Log in to QuickBooks as the Admin user in single-user mode with this company file open, "
          "synchronize once, and choose to allow booksync in the dialog QuickBooks shows")
_PREFS = "Edit > Preferences > Integrated Applications > Company Preferences"

CONNECTION_HRESULTS: dict[int, tuple[str, str]] = {
    0x80040400: ("QuickBooks found an error when parsing the request booksync sent.",
                 "This is a booksync bug, not something to fix in QuickBooks: send the run's working files "
                 "(runs/RUN_ID/requests) to booksync's maintainers. Do not resend the request unchanged."),
    0x80040401: ("booksync could not access QuickBooks.",
                 "Try again in a few minutes; if it keeps happening, restart QuickBooks."),
    0x80040402: ("QuickBooks reported an unexpected error.",
                 "Look at qbsdklog.txt (in QuickBooks' application data folder) for details, then try again."),
    0x80040408: ("QuickBooks could not be started.",
                 "Start QuickBooks and open the company file, then synchronize again."),
    0x8004040A: ("A different company file is already open in QuickBooks.",
                 "Close it and open the company file booksync is set up for (rp2.company_file), or set "
                 "rp2.company_file to \"\" to use whichever file is open."),
    0x8004040D: ("The QuickBooks session ended unexpectedly (the ticket is no longer valid).",
                 "Synchronize again; booksync opens a new session."),
    0x80040410: ("The company file is open in a different mode (single-user or multi-user) than booksync asked for.",
                 "Switch QuickBooks to the other mode (File > Switch to Single-user/Multi-user Mode), or set "
                 "rp2.file_mode = \"DoNotCare\"."),
    0x80040414: ("A dialog box is open in QuickBooks and blocks other applications.",
                 "Close the dialog in QuickBooks, then synchronize again."),
    0x80040416: ("QuickBooks is not running, so booksync must name the company file to open.",
                 "Start QuickBooks with the company file open, or set rp2.company_file to the full path of the "
                 ".qbw file."),
    0x80040418: ("booksync has not been granted access to this QuickBooks company file. Only the QuickBooks "
                 "administrator can grant an application access the first time.",
                 _ADMIN + "."),
    0x8004041A: ("booksync does not have permission to access this company file.",
                 f"As the QuickBooks Admin, open {_PREFS} and allow booksync access."),
    0x8004041B: ("QuickBooks could not lock the information booksync needs; another user is working with it.",
                 "Try again in a few minutes."),
    0x8004041C: ("QuickBooks had an internal error opening the company file.",
                 "Open the company file in QuickBooks yourself (and run File > Utilities > Verify Data if it "
                 "misbehaves), then synchronize again."),
    0x8004041D: ("booksync is not allowed to log in to QuickBooks automatically.",
                 f"As the QuickBooks Admin, open {_PREFS} > booksync > Properties, tick \"Allow this application "
                 "to login automatically\" and choose the user it logs in as."),
    0x8004041E: ("booksync's permission to log in automatically has expired (its certificate changed).",
                 f"As the QuickBooks Admin, grant access again in {_PREFS} (\"Allow always\")."),
    0x8004041F: ("This edition of QuickBooks cannot exchange data with other applications (qbXML).",
                 "Use QuickBooks Pro, Premier or Enterprise."),
    0x80040420: ("The QuickBooks user denied booksync access to the company file.",
                 f"As the QuickBooks Admin, open {_PREFS} > booksync > Properties and tick \"Allow this "
                 "application to login automatically\" (or answer Yes when QuickBooks asks)."),
    0x80040422: ("The company file is in use: booksync needs it in single-user mode and another application or "
                 "user is sharing it.",
                 "Close the other applications and users working in the company file, or switch QuickBooks to "
                 "single-user mode, then synchronize again."),
    0x80040423: ("This QuickBooks does not support the qbXML version booksync uses (13.0).",
                 "Update QuickBooks Desktop to 2014 or later."),
    0x80040424: ("QuickBooks has not finished starting up.",
                 "Wait until QuickBooks shows the company file, then synchronize again."),
    0x80040427: ("This copy of QuickBooks is not registered.",
                 "Register QuickBooks (Help > Register QuickBooks), then synchronize again."),
    0x8004042A: ("QuickBooks does not allow remote access to this company file.",
                 "Run booksync on the computer where QuickBooks runs, or use the Web Connector."),
}
"""HRESULT → (what happened, what to do): reference/quickbooks-desktop.md §10 (QuickBooks' own
wording there is partly unconfirmed, so booksync says it in its own words and keeps QuickBooks'
message beside it)."""


def parse_hresult(value: str | int | None) -> int:
    """An HRESULT from ``"0x80040408"``, ``"80040408"``, ``"-2147220472"`` or an int; 0 when absent or unreadable.

    The Web Connector passes HRESULTs as hex strings (guide p.51, "the HRESULT is provided (in HEX)")."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    text = value.strip()
    try:
        if text.lower().startswith("0x"):
            return int(text, 16) & 0xFFFFFFFF
        if text.startswith("-") or (text.isdigit() and len(text) != 8):
            return int(text) & 0xFFFFFFFF
        return int(text, 16) & 0xFFFFFFFF
    except ValueError:
        return 0


def explain_hresult(hresult: int, quickbooks_message: str = "") -> ConnectionFailure:
    """The :class:`ConnectionFailure` for ``hresult``: booksync's explanation and advice (reference §10),
    with QuickBooks' own message kept beside it."""
    known = CONNECTION_HRESULTS.get(hresult)
    theirs = " ".join(quickbooks_message.split())
    if known is None:
        message = theirs or "QuickBooks reported an error."
        return ConnectionFailure(hresult, message, f"QuickBooks error 0x{hresult:08X}: look it up in QuickBooks' "
                                                   "SDK documentation, or try again later.")
    message, advice = known
    if theirs and theirs.rstrip(".") not in message:
        message = f"{message} QuickBooks said: \"{theirs}\""
    return ConnectionFailure(hresult, message, advice)


def com_failure(exc: BaseException) -> ConnectionFailure | None:
    """The ConnectionFailure for a pywin32 ``com_error`` (or anything shaped like one), else None.

    A com_error's args are ``(hresult, text, excepinfo, argerror)``; when the COM server raised,
    ``hresult`` is DISP_E_EXCEPTION and ``excepinfo = (wcode, source, description, helpfile,
    helpcontext, scode)`` carries the real code and QuickBooks' description.
    """
    args = getattr(exc, "args", ())
    if len(args) < 2 or not isinstance(args[0], int):
        return None
    hresult, description = args[0] & 0xFFFFFFFF, str(args[1] or "")
    excepinfo = args[2] if len(args) > 2 else None
    if isinstance(excepinfo, tuple) and len(excepinfo) >= 6:
        if excepinfo[5]:
            hresult = excepinfo[5] & 0xFFFFFFFF
        description = str(excepinfo[2] or description)
    return explain_hresult(hresult, description)


def answer_bytes(answer: str | bytes) -> bytes:
    """QuickBooks' answer, delivered as text by COM or SOAP, as UTF-8 bytes with a matching declaration.

    A text answer may declare an encoding it no longer has (it was decoded on the way); it is
    parsed with booksync's safe parser and written again, so the engine reads exactly what
    QuickBooks sent. Raises :class:`~booksync.qbxml.parse.MalformedResponse` when it is not XML.
    """
    root = parse_xml(answer, "QuickBooks response")
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)


ProcessorFactory = Callable[[], tuple[Any, Any]]
"""Returns ``(request_processor, constants)``: the COM object and the type library's constants."""


def company_file_held(path: Path) -> bool:
    """Whether another program holds the company file: QuickBooks opens a .QBW denying writes to others, so
    opening it for update fails (PermissionError on Windows) while anyone has it open."""
    try:
        with open(path, "r+b"):
            return False
    except PermissionError:
        return True


def com_factory() -> tuple[Any, Any]:
    """Create ``QBXMLRP2.RequestProcessor`` through pywin32 (Windows only).

    Raises :class:`~booksync.config.ConfigError` when not on Windows or pywin32 is missing.
    """
    from booksync.config import ConfigError

    if sys.platform != "win32":
        raise ConfigError("The QuickBooks request processor (company kind \"rp2\") works only on Windows, on the "
                          "computer where QuickBooks Desktop runs. Elsewhere, use the Web Connector "
                          "('booksync serve'; docs/webconnector.md).")
    try:
        import pythoncom  # type: ignore[import-not-found]
        from win32com.client import constants, gencache  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError("The QuickBooks request processor needs pywin32: pip install pywin32 (in booksync's "
                          "environment, with the same 32/64-bit Python as QuickBooks needs).") from None
    pythoncom.CoInitialize()
    try:
        # EnsureDispatch generates the type library's wrappers, which fills win32com.client.constants.
        processor = gencache.EnsureDispatch("QBXMLRP2.RequestProcessor")
    except Exception as exc:  # noqa: BLE001 - a com_error, or the class is not registered
        failure = com_failure(exc)
        raise failure or ConfigError(f"QuickBooks' request processor is not installed: {exc}") from None
    return processor, constants


class RP2Transport:
    """A qbXML transport over QBXMLRP2: ``process(message) -> answer`` within one session.

    Use as a context manager (or :meth:`open` / :meth:`close`). ``company_file`` is the .qbw
    path for BeginSession ("" = the file open in QuickBooks); ``file_mode`` one of
    :data:`FILE_MODES`; ``launch_ui`` opens QuickBooks visibly (localQBDLaunchUI) instead of in
    the background (localQBD). Every COM failure raises :class:`ConnectionFailure` (reference §10).
    """

    def __init__(self, app_name: str, company_file: str = "", app_id: str = "", file_mode: str = "DoNotCare",
                 launch_ui: bool = False, factory: ProcessorFactory | None = None) -> None:
        if file_mode not in FILE_MODES:
            from booksync.config import ConfigError

            raise ConfigError(f"rp2.file_mode must be one of {', '.join(FILE_MODES)}, not {file_mode!r}")
        self.app_name = app_name
        self.company_file = company_file
        self.app_id = app_id
        self.file_mode = file_mode
        self.launch_ui = launch_ui
        self._factory = factory or com_factory
        self._rp: Any = None
        self._ticket: str | None = None
        self._connected = False

    def open(self) -> "RP2Transport":
        rp, constants = self._factory()
        connection = getattr(constants, "localQBDLaunchUI" if self.launch_ui else "localQBD")
        mode = getattr(constants, FILE_MODES[self.file_mode])
        self._rp = rp
        try:
            rp.OpenConnection2(self.app_id, self.app_name, connection)
            self._connected = True
            self._ticket = rp.BeginSession(self.company_file, mode)
        except Exception as exc:  # noqa: BLE001 - COM raises com_error; anything else is re-raised
            failure = com_failure(exc)
            self.close()
            if failure is None:
                raise
            raise failure from None
        return self

    def process(self, message: bytes) -> bytes:
        """Send one request message set; return QuickBooks' response message set as bytes."""
        if self._ticket is None:
            raise ConnectionFailure(0x8004040D, "The QuickBooks session is not open.",
                                    "Open the transport before sending requests.")
        # The message is ISO-8859-1 (booksync.qbxml.build.message); COM takes a Unicode string.
        text = message.decode("iso-8859-1")
        try:
            answer = self._rp.ProcessRequest(self._ticket, text)
        except Exception as exc:  # noqa: BLE001
            failure = com_failure(exc)
            if failure is None:
                raise
            raise failure from None
        return answer_bytes(answer)

    def close(self) -> None:
        """End the session and close the connection; errors while closing are not worth a failure."""
        rp, ticket, self._ticket = self._rp, self._ticket, None
        if rp is None:
            return
        if ticket is not None:
            try:
                rp.EndSession(ticket)
            except Exception:  # noqa: BLE001 - QuickBooks may already be gone (QBWC1015 is the same case)
                pass
        if self._connected:
            self._connected = False
            try:
                rp.CloseConnection()
            except Exception:  # noqa: BLE001
                pass
        self._rp = None

    def copy_company(self, target: Path) -> tuple[str | None, str]:
        """Copy the company file (.QBW) and its transaction log (.TLG) into folder ``target`` before booksync's
        first write, as the seed product's step 7 does: the session is ended first, so that QuickBooks started
        for it lets go of the file, the copy is made only when nobody else holds the file
        (:func:`company_file_held`), and the session is begun again. Returns (path of the copy, "") or (None, why
        it could not be copied, in words for the person): QuickBooks Desktop has no backup request in qbXML 13.0
        (reference/quickbooks-desktop.md §8), so a file someone has open cannot be copied safely."""
        if not self.company_file:
            return None, ("booksync does not know the company file's path (rp2.company_file is empty: it uses the "
                          "file open in QuickBooks), so it did not copy it. Back the company up in QuickBooks "
                          "(File > Back Up Company) before synchronizing, or set rp2.company_file.")
        source = Path(self.company_file)
        self.close()
        try:
            if company_file_held(source):
                return None, (f"QuickBooks has the company file {source} open (someone is working in it, on this "
                              "computer or another), so booksync did not copy it. Back it up in QuickBooks (File > "
                              "Back Up Company) before synchronizing, or close QuickBooks everywhere and "
                              "synchronize again.")
            target.mkdir(parents=True, exist_ok=True)
            for path in (source, source.with_suffix(".TLG"), source.with_suffix(".tlg")):
                if path.exists():
                    shutil.copy2(path, target / path.name)
            return str(target / source.name), ""
        finally:
            self.open()

    def __enter__(self) -> "RP2Transport":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def open_rp2(settings: dict[str, Any], factory: ProcessorFactory | None = None) -> Iterator[RP2Transport]:
    """Open an :class:`RP2Transport` from a home's settings (``company.app_name`` and the ``[rp2]`` section)."""
    rp2 = settings.get("rp2", {})
    transport = RP2Transport(app_name=settings["company"].get("app_name", "booksync"),
                             company_file=str(rp2.get("company_file", "")), app_id=str(rp2.get("app_id", "")),
                             file_mode=str(rp2.get("file_mode", "DoNotCare")),
                             launch_ui=bool(rp2.get("launch_ui", False)), factory=factory)
    with transport:
        yield transport
