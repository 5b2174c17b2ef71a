"""Shared fixtures of booksync's test suite.

* qbXML schema guard: every request handed to the simulator and every response it
  returns is validated against Intuit's qbxmlops130.xsd, in process (an autouse
  fixture wraps ``Processor.process``) and in CLI subprocesses (``qbxml_guard/
  sitecustomize.py`` does the same there, and every staged ``runs/*/requests/*.xml``
  is validated after each run).
* ``cli``: runs the real command line, ``python -m booksync.cli.main``.
* ``demo_home`` / ``nosync_home``: the demo chamber, synchronized or not, built once
  per session (per xdist worker) and copied by the tests that change it.
* ``qb``: a fresh simulated company in process, with helpers to talk qbXML to it.

The schema is ``$QBXML_XSD`` or, unset, the copy of Intuit's files the repository carries
(``tests/data/qbxml/13.0/qbxmlops130.xsd``; see ``tests/data/NOTICE``). A missing schema fails the session.

No skips: a skipped test (or module) is reported as a failure of set-up, with the reason the test gave
(``pytest_runtest_makereport`` / ``pytest_make_collect_report`` below), so that a machine missing something
the suite needs never says "passed". Expected failures (``xfail``) stay, each with its documented reason.
In a PostgreSQL run (``BOOKSYNC_TEST_POSTGRES``) the tests that read or edit the SQLite billing file (those
taking ``billing_db`` or marked ``sqlite_billing``) are deselected, not skipped, and the summary names them.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import pytest
from lxml import etree

from booksync.qbxml import build
from booksync.qbxml.parse import Response, parse_response
from booksync.simulator import create_company, open_company
from booksync.simulator.processor import Processor

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
DEFAULT_XSD = DATA / "qbxml" / "13.0" / "qbxmlops130.xsd"
DEFAULT_WSDL = DATA / "qbwc" / "QBWebConnectorSvc.wsdl"
GUARD_DIR = TESTS / "qbxml_guard"
DEMO_DATA = resources.files("booksync.demo") / "data"
WRITE_REQUESTS = re.compile(r"(Add|Mod)Rq$|^TxnDelRq$|^TxnVoidRq$")


# ---------------------------------------------------------------------- the schema


def schema_path() -> tuple[Path, bool]:
    """The XSD to validate against, and whether QBXML_XSD named it explicitly."""
    env = os.environ.get("QBXML_XSD")
    if env:
        return Path(env), True
    return DEFAULT_XSD, False


# Every run relies on the change mark (no 10-minute look-back), so the suite proves that records changed
# after a run or left outstanding by it are found without scanning the history (sync/marks.py).
os.environ.setdefault("BOOKSYNC_MARK_MARGIN_SECONDS", "0")
# Records to add are read and staged 7 at a time, so that every run crosses parts and hands its plan over
# to the working files many times (sync/load.py part_size; docs/performance.md "Streaming a full sync").
os.environ.setdefault("BOOKSYNC_PLAN_PART", "7")

# ---------------------------------------------------------------------- PostgreSQL mode

POSTGRES = os.environ.get("BOOKSYNC_TEST_POSTGRES", "")
"""A PostgreSQL URL template with {home_id} (e.g. postgresql+psycopg://u:p@127.0.0.1/booksync_{home_id}):
every home the tests create keeps its billing store in its own database on that server."""
if POSTGRES:
    os.environ["BOOKSYNC_DATABASE_URL"] = POSTGRES


def _clone_postgres_home(source: Path, target: Path) -> None:
    """Give a copied home its own database: a copy of the source's (CREATE DATABASE ... TEMPLATE)."""
    from sqlalchemy import make_url, text

    from booksync.config import Home, initial_database_url
    from booksync.store.db import postgres_admin

    home = Home.load(target)  # the URL with its password (kept out of booksync.toml: config.py)
    old = make_url(home.database_url)
    new_url = initial_database_url(target)
    name = make_url(new_url).database
    with postgres_admin(old) as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{old.database}"'))
    home.save_database_url(new_url)


def _drop_stale_postgres_homes() -> None:
    """Drop the databases earlier runs of the suite left on the server (names from the template).

    Home paths repeat across runs (pytest numbers its base folders and keeps three), so a database named
    for a path may hold an old run's billing store; `booksync demo` rightly refuses such a database."""
    import re

    from sqlalchemy import make_url, text

    from booksync.store.db import postgres_admin

    template = make_url(POSTGRES)
    pattern = re.compile(re.escape(template.database or "").replace(re.escape("{home_id}"), "[0-9a-f]{12}") + "$")
    with postgres_admin(template) as conn:
        for (name,) in conn.execute(text("SELECT datname FROM pg_database")).all():
            if pattern.match(name):
                conn.execute(text(f'DROP DATABASE "{name}"'))


def pytest_configure(config: pytest.Config) -> None:
    if POSTGRES and not hasattr(config, "workerinput"):  # once, in the controller, before workers start
        _drop_stale_postgres_homes()
    config.addinivalue_line(
        "markers", "invalid_qbxml_request: the test deliberately sends the simulator a request that breaks "
                   "the schema (responses are still validated)")
    config.addinivalue_line(
        "markers", "known_invalid_response(*rs_tags, reason): tolerate schema violations in these response "
                   "elements only (a documented simulator bug); strict: fails when the violation no longer happens")
    config.addinivalue_line(
        "markers", "sqlite_billing: the test reads or edits the SQLite billing file directly; deselected in a "
                   "PostgreSQL run")
    config.addinivalue_line(
        "markers", "postgres_server: the test needs the PostgreSQL server of BOOKSYNC_TEST_POSTGRES; deselected "
                   "in a run without one (make test-postgres runs it)")
    path, explicit = schema_path()
    if not path.is_file():
        named = "QBXML_XSD is set to" if explicit else "The qbXML schema the repository carries is missing:"
        pytest.exit(f"{named} {path}, which does not exist; cannot validate qbXML.",
                    returncode=pytest.ExitCode.USAGE_ERROR)


_DESELECTED_FOR_POSTGRES = pytest.StashKey[list[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a PostgreSQL run, deselect the tests that read or edit the SQLite billing file; in a run without a
    PostgreSQL server, those that need one (each said in the summary)."""
    keep, drop = [], []
    for item in items:
        if POSTGRES:
            other = "billing_db" in getattr(item, "fixturenames", ()) or item.get_closest_marker("sqlite_billing")
        else:
            other = item.get_closest_marker("postgres_server")
        (drop if other else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        config.stash[_DESELECTED_FOR_POSTGRES] = [item.nodeid for item in drop]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    dropped = config.stash.get(_DESELECTED_FOR_POSTGRES, [])
    if dropped:
        why = ("they read or edit the SQLite billing file, and this run keeps the billing store on PostgreSQL"
               if POSTGRES else "they need a PostgreSQL server; make test-postgres runs them (README, 'Tests')")
        terminalreporter.write_line(f"{len(dropped)} test(s) deselected: {why}")


SKIP_IS_A_FAILURE = ("\nA skip is a failure of set-up in this suite: install what the test needs (README, 'Tests') "
                     "rather than skip it.")


def _skip_as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skip report into a failure naming the skip's reason (xfail reports are left alone)."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped: {reason.removeprefix('Skipped: ')}{SKIP_IS_A_FAILURE}"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    _skip_as_failure(report)
    return report


_SCHEMA: dict[str, Any] = {}


def load_schema() -> etree.XMLSchema:
    """The qbXML 13.0 schema, loaded once per process. Exits the session when the file is missing."""
    if "schema" not in _SCHEMA:
        path, explicit = schema_path()
        if not path.is_file():
            pytest.exit(f"{'QBXML_XSD is set to' if explicit else 'The qbXML schema is missing:'} {path}, "
                        "which does not exist.", returncode=pytest.ExitCode.USAGE_ERROR)
        _SCHEMA["schema"] = etree.XMLSchema(etree.parse(str(path)))
    return _SCHEMA["schema"]


@pytest.fixture(scope="session")
def qbxml_schema() -> etree.XMLSchema:
    """Intuit's qbXML 13.0 schema (``qbxmlops130.xsd`` and the files it includes)."""
    return load_schema()


class QbxmlSchemaViolation(AssertionError):
    """A qbXML message that does not validate against qbxmlops130.xsd."""


_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _as_bytes(message: bytes | str) -> bytes:
    if isinstance(message, bytes):
        return message
    # A str cannot carry its encoding declaration into lxml; drop it.
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", message).encode("utf-8")


def schema_errors(schema: etree.XMLSchema, message: bytes | str) -> str:
    """'' when ``message`` is a valid qbXML document, else the schema's complaint."""
    try:
        doc = etree.fromstring(_as_bytes(message), _SAFE)
    except etree.XMLSyntaxError as exc:
        return f"not well-formed: {exc}"
    if schema.validate(doc):
        return ""
    return "; ".join(str(e) for e in list(schema.error_log)[:3])


def assert_valid_qbxml(schema: etree.XMLSchema, message: bytes | str, what: str = "message") -> None:
    problem = schema_errors(schema, message)
    if problem:
        text = _as_bytes(message)[:1500].decode("latin-1")
        raise QbxmlSchemaViolation(f"qbXML {what} does not validate against the schema: {problem}\n{text}")


@dataclass
class GuardLog:
    """What the in-process guard saw during one test."""

    requests: int = 0
    responses: int = 0
    violations: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)


def _invalid_responses(schema: etree.XMLSchema, response: bytes) -> list[str]:
    """The tags of the *Rs elements of a response message that do not validate on their own."""
    root = etree.fromstring(response, _SAFE)
    bad = []
    for rs in root.find("QBXMLMsgsRs"):
        single = etree.Element("QBXML")
        etree.SubElement(single, "QBXMLMsgsRs").append(copy.deepcopy(rs))
        if not schema.validate(single):
            bad.append(rs.tag)
    return bad


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Report a skip as a failure; remember whether a test's call phase passed (the guard's teardown needs it)."""
    report = yield
    _skip_as_failure(report)
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed
    return report


@pytest.fixture(autouse=True)
def qbxml_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[GuardLog]:
    """Validate every request given to, and every response returned by, the in-process simulator.

    A test may carry ``@pytest.mark.known_invalid_response("TxnVoidRs", reason=...)`` to tolerate a
    documented simulator bug in those response elements only; the marker is strict: if no tolerated
    violation happens, the test fails so that the marker is removed once the bug is fixed.
    """
    schema = load_schema()
    check_requests = request.node.get_closest_marker("invalid_qbxml_request") is None
    known = request.node.get_closest_marker("known_invalid_response")
    tolerated_tags = set(known.args) if known else set()
    log = GuardLog()
    original = Processor.process

    def process(self: Processor, message: bytes | str) -> bytes:
        if check_requests:
            problem = schema_errors(schema, message)
            if problem:
                log.violations.append(f"request: {problem}")
                assert_valid_qbxml(schema, message, "request")
        log.requests += 1
        response = original(self, message)
        problem = schema_errors(schema, response)
        if problem:
            bad = _invalid_responses(schema, response)
            if tolerated_tags and bad and set(bad) <= tolerated_tags:
                log.tolerated.extend(bad)
            else:
                log.violations.append(f"response: {problem}")
                assert_valid_qbxml(schema, response, "response")
        log.responses += 1
        return response

    monkeypatch.setattr(Processor, "process", process)
    yield log
    call_passed = request.node.stash.get(_CALL_PASSED, False)
    if log.violations and call_passed:
        pytest.fail("qbXML schema violations seen by the simulator (and swallowed):\n" + "\n".join(log.violations),
                    pytrace=False)
    if known and call_passed and not log.tolerated:
        pytest.fail(f"known_invalid_response{known.args} no longer happens: the simulator's responses validate "
                    "now; remove the marker", pytrace=False)


# ---------------------------------------------------------------------- the command line


@dataclass(repr=False)
class CliResult:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    requests: list[list[str]]
    """Request tags of every message the simulator processed during the run, in order."""
    violations: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def writes(self) -> list[str]:
        """The write requests (Add, Mod, TxnDel, TxnVoid) the simulator received."""
        return [tag for message in self.requests for tag in message if WRITE_REQUESTS.search(tag)]

    def __str__(self) -> str:
        return (f"booksync {' '.join(self.args)} -> exit {self.code}\n--- stdout (end)\n{self.stdout[-4000:]}\n"
                f"--- stderr (end)\n{self.stderr[-4000:]}")

    __repr__ = __str__


_VALIDATED: dict[Path, float] = {}


def validate_run_files(home: Path) -> int:
    """Validate every staged request file under ``home/runs``; return how many files there are."""
    schema = load_schema()
    files = sorted(Path(home).glob("runs/*/requests/*.xml"))
    for path in files:
        mtime = path.stat().st_mtime
        if _VALIDATED.get(path) == mtime:
            continue
        assert_valid_qbxml(schema, path.read_bytes(), f"request file {path}")
        _VALIDATED[path] = mtime
    return len(files)


def run_cli(*args: str, input: str | None = None, timeout: float = 180, allow_violations: bool = False,
            env: dict[str, str] | None = None) -> CliResult:
    """Run ``python -m booksync.cli.main ARGS`` with the schema guard; validate the home's staged requests.

    A schema violation seen by the simulator in the subprocess fails the test, unless
    ``allow_violations`` (then they are in ``result.violations``)."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "QBXML_GUARD_XSD", "QBXML_GUARD_LOG")}
    env.update(PYTHONPATH=os.pathsep.join([str(GUARD_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]),
               COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    env.update(extra)  # e.g. COLUMNS="80": the terminal the test stands for
    path, _ = schema_path()
    fd, log_name = tempfile.mkstemp(prefix="qbxml-guard-", suffix=".jsonl")
    os.close(fd)
    log_path = Path(log_name)
    load_schema()
    env["QBXML_GUARD_XSD"] = str(path)
    env["QBXML_GUARD_LOG"] = str(log_path)
    try:
        proc = subprocess.run([sys.executable, "-m", "booksync.cli.main", *args], input=input, capture_output=True,
                              text=True, encoding="utf-8", env=env, timeout=timeout, cwd=tempfile.gettempdir())
        entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    finally:
        log_path.unlink(missing_ok=True)
    violations = [e for e in entries if e.get("event") == "violation"]
    result = CliResult(tuple(args), proc.returncode, proc.stdout, proc.stderr,
                       [e["requests"] for e in entries if e.get("event") == "request"],
                       [f"{v['what']}: {v['problem']}" for v in violations])
    if violations and not allow_violations:
        pytest.fail(f"qbXML schema violations in the simulator during {result.args}:\n"
                    + "\n".join(f"{v['what']}: {v['problem']}" for v in violations), pytrace=False)
    if "--home" in args:
        home = Path(args[args.index("--home") + 1])
        if home.exists():
            validate_run_files(home)
    return result


@pytest.fixture(scope="session")
def cli():
    """The ``run_cli`` function: ``cli("sync", "--home", str(h), "--yes")``."""
    return run_cli


# ---------------------------------------------------------------------- homes


@dataclass
class DemoHome:
    path: Path
    output: str
    result: CliResult | None = None

    @property
    def company(self) -> Path:
        return self.path / "company.qbsim"

    @property
    def billing(self) -> Path:
        if POSTGRES:
            pytest.fail("reads the SQLite billing file directly, and the billing store is on PostgreSQL in this run: "
                        "mark the test sqlite_billing", pytrace=False)
        return self.path / "billing.db"


def _build_demo(tmp_path_factory: pytest.TempPathFactory, *extra: str) -> DemoHome:
    home = tmp_path_factory.mktemp("demo") / "home"
    result = run_cli("demo", "--home", str(home), *extra)
    assert result.code == 0, str(result)
    return DemoHome(home, result.output, result)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> DemoHome:
    """The demo chamber after `booksync demo` (synchronized). Read-only: copy it to change it."""
    return _build_demo(tmp_path_factory)


@pytest.fixture(scope="session")
def nosync_home(tmp_path_factory: pytest.TempPathFactory) -> DemoHome:
    """The demo chamber after `booksync demo --no-sync`. Read-only: copy it to change it."""
    return _build_demo(tmp_path_factory, "--no-sync")


def copy_home(source: DemoHome, target: Path) -> DemoHome:
    shutil.copytree(source.path, target, ignore=shutil.ignore_patterns("*.lock"))
    if POSTGRES:
        _clone_postgres_home(source.path, target)
    return DemoHome(target, source.output, source.result)


@pytest.fixture
def demo_copy(demo_home: DemoHome, tmp_path: Path) -> DemoHome:
    """A private copy of the synchronized demo home."""
    return copy_home(demo_home, tmp_path / "home")


@pytest.fixture
def nosync_copy(nosync_home: DemoHome, tmp_path: Path) -> DemoHome:
    """A private copy of the not-yet-synchronized demo home."""
    return copy_home(nosync_home, tmp_path / "home")


# ---------------------------------------------------------------------- reading company and billing files


class SqliteFile:
    """Read-only questions to a SQLite file (the simulated company or the billing store)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        db = sqlite3.connect(str(self.path))
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def value(self, sql: str, *args: Any) -> Any:
        rows = self.rows(sql, *args)
        return rows[0][0] if rows else None

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]

    def fingerprint(self) -> str:
        """A digest of every row of every table: equal fingerprints mean nothing was written."""
        digest = hashlib.sha256()
        db = sqlite3.connect(str(self.path))
        try:
            for table in self.tables():
                digest.update(table.encode())
                for row in sorted(repr(tuple(r)) for r in db.execute(f"SELECT * FROM {table}")):
                    digest.update(row.encode())
        finally:
            db.close()
        return digest.hexdigest()


class CompanyDB(SqliteFile):
    """The simulated company file, read through its tables."""

    def count_lists(self, kind: str) -> int:
        return self.value("SELECT COUNT(*) FROM lists WHERE kind=?", kind)

    def count_txns(self, txn_type: str) -> int:
        return self.value("SELECT COUNT(*) FROM txns WHERE txn_type=?", txn_type)

    def total(self, txn_type: str) -> Decimal:
        cents = self.value("SELECT COALESCE(SUM(total), 0) FROM txns WHERE txn_type=?", txn_type)
        return (Decimal(cents) / 100).quantize(Decimal("0.01"))

    def customer_names(self) -> dict[str, str]:
        """Customer Name -> AccountNumber (the member number booksync writes there)."""
        return {r["name"]: r["account_number"] for r in self.rows("SELECT name, account_number FROM lists "
                                                                   "WHERE kind='Customer'")}

    def max_modified(self) -> str:
        return max(self.value("SELECT COALESCE(MAX(modified), '') FROM lists"),
                   self.value("SELECT COALESCE(MAX(modified), '') FROM txns"))


@pytest.fixture
def company_db():
    return CompanyDB


@pytest.fixture
def billing_db():
    """Read-only questions to the SQLite billing file (tests taking it are deselected in a PostgreSQL run)."""
    return SqliteFile


def demo_csv(name: str) -> list[dict[str, str]]:
    """Rows of a bundled demo CSV file."""
    with resources.as_file(DEMO_DATA / name) as path:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))


@pytest.fixture
def demo_data():
    return demo_csv


# ---------------------------------------------------------------------- an in-process company


class QB:
    """A fresh simulated company, open in this process, spoken to in qbXML."""

    def __init__(self, company: Any) -> None:
        self.company = company

    def send(self, *requests: etree._Element, on_error: str = "stopOnError") -> list[Response]:
        return parse_response(self.company.process(build.message(list(requests), on_error=on_error)))

    def one(self, kind: str, body: dict[str, Any] | None = None, **attrs: Any) -> Response:
        (rs,) = self.send(build.request(kind, body, 1, **attrs))
        return rs

    def ok(self, kind: str, body: dict[str, Any] | None = None, **attrs: Any) -> etree._Element:
        """Send one request that must succeed; return its first Ret."""
        rs = self.one(kind, body, **attrs).raise_for_status()
        return rs.rets[0]

    # -- conveniences

    def account_id(self, full_name: str) -> str:
        (ret,) = self.one("AccountQuery", {"FullName": full_name}).raise_for_status().rets
        return ret.findtext("ListID")

    def add_customer(self, name: str, **fields: Any) -> etree._Element:
        return self.ok("CustomerAdd", {"Name": name, **fields})

    def add_item(self, name: str = "Dues", account: str = "Membership Dues") -> etree._Element:
        return self.ok("ItemServiceAdd", {"Name": name, "SalesOrPurchase": {"Desc": name,
                                                                            "AccountRef": {"FullName": account}}})

    def sales(self, kind: str, customer_id: str, amount: str, date: str = "2025-03-01", item: str = "Dues",
              ref: str | None = None) -> Response:
        return self.one(f"{kind}Add", {"CustomerRef": {"ListID": customer_id}, "TxnDate": date, "RefNumber": ref,
                                       f"{kind}LineAdd": [{"ItemRef": {"FullName": item}, "Amount": amount}]})

    def payment(self, customer_id: str, total: str, applications: list[dict[str, Any]] | None = None,
                deposit_to: str | None = None, date: str = "2025-03-15") -> Response:
        body: dict[str, Any] = {"CustomerRef": {"ListID": customer_id}, "TxnDate": date, "TotalAmount": total,
                                "DepositToAccountRef": {"FullName": deposit_to} if deposit_to else None}
        if applications:
            body["AppliedToTxnAdd"] = applications
        else:
            body["IsAutoApply"] = False
        return self.one("ReceivePaymentAdd", body)

    def customer(self, list_id: str) -> etree._Element:
        (ret,) = self.one("CustomerQuery", {"ListID": list_id}).raise_for_status().rets
        return ret

    def txn(self, kind: str, txn_id: str) -> etree._Element | None:
        rs = self.one(f"{kind}Query", {"TxnID": txn_id})
        return rs.rets[0] if rs.rets else None

    def count(self, sql: str, *args: Any) -> int:
        return self.company.db.execute(sql, args).fetchone()[0]


@pytest.fixture
def company_path(tmp_path: Path) -> Path:
    path = tmp_path / "company.qbsim"
    create_company(path, "Test Chamber")
    return path


@pytest.fixture
def qb(company_path: Path) -> Iterator[QB]:
    """A new simulated company with the standard chart, open for this test."""
    with open_company(company_path, app_name="booksync") as company:
        yield QB(company)
