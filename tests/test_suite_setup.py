"""The suite carries what it needs, and a machine missing something fails loudly instead of skipping.

Each test runs pytest in a subprocess on a tiny test file beside a copy of tests/conftest.py (with the
repository's tests/data and tests/qbxml_guard linked in), and reads what pytest says.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import DATA, DEFAULT_WSDL, DEFAULT_XSD, GUARD_DIR, TESTS

PROBE = '''
import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


def test_passes():
    assert True


def test_skips():
    pytest.skip("the widget is not installed")


@pytest.mark.skipif(True, reason="no frobnicator here")
def test_skipped_by_marker():
    pass


@pytest.mark.xfail(strict=True, reason="a documented expected failure")
def test_expected_failure():
    assert False
'''


def run_probe(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (tmp_path / "data").symlink_to(DATA)
    (tmp_path / "qbxml_guard").symlink_to(GUARD_DIR)
    (tmp_path / "test_probe.py").write_text(source)
    # Without CI/BUILD_NUMBER: pytest then shortens summary lines as on a developer's machine (in CI it prints
    # them whole, repeating each reason), so the output is the same wherever the suite runs.
    environ = {k: v for k, v in os.environ.items()
               if k not in ("QBXML_XSD", "BOOKSYNC_TEST_POSTGRES", "CI", "BUILD_NUMBER")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-rA", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, env=environ,
                          timeout=120)


def test_the_repository_carries_the_schema_and_the_wsdl():
    """Intuit's qbXML 13.0 schema (the main file and every file it includes) and the WSDL are in tests/data,
    with a NOTICE naming Intuit; nothing is looked for beside the checkout."""
    included = {"qbxml130.xsd", "qbxmltypes130.xsd", "qbxmlso130.xsd"}
    assert all(f'schemaLocation="{name}"' in DEFAULT_XSD.read_text() for name in included)
    assert all((DEFAULT_XSD.parent / name).is_file() for name in included)
    assert DEFAULT_WSDL.is_file() and "QBWebConnectorSvcSoap" in DEFAULT_WSDL.read_text()
    assert "Intuit" in (DATA / "NOTICE").read_text()
    assert "shared" not in str(DEFAULT_XSD) and "shared" not in str(DEFAULT_WSDL)


def test_a_skip_is_a_failure_of_set_up_with_its_reason(tmp_path: Path):
    result = run_probe(tmp_path, PROBE)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    summary = [line for line in out.splitlines() if " passed" in line][-1]
    assert summary.startswith("1 failed, 1 passed, 1 xfailed, 1 error"), out
    assert "FAILED test_probe.py::test_skips - skipped: the widget is not installed" in out, out
    assert "ERROR test_probe.py::test_skipped_by_marker - skipped: no frobnicator here" in out, out
    assert out.count("A skip is a failure of set-up in this suite") == 2, out


def test_a_module_that_skips_itself_fails_the_run(tmp_path: Path):
    result = run_probe(tmp_path, 'import pytest\npytest.importorskip("no_such_module_anywhere")\n\n'
                                 'def test_x():\n    pass\n')
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "A skip is a failure of set-up" in out and "no_such_module_anywhere" in out, out


def test_a_missing_schema_stops_the_session(tmp_path: Path):
    result = run_probe(tmp_path, "def test_x():\n    pass\n", QBXML_XSD=str(tmp_path / "nowhere.xsd"))
    out = result.stdout + result.stderr
    assert result.returncode == 4, out
    assert "nowhere.xsd, which does not exist" in out, out


def test_make_demo_installs_only_what_running_needs():
    """Issue 20.11: `make demo` installed the test extras (Playwright, Hypothesis...); it installs booksync
    alone now (psycopg stays: it is a runtime dependency, for billing stores on PostgreSQL), `make test` the
    test extra on top."""
    import tomllib

    repo = TESTS.parent

    def planned(target: str) -> str:
        return subprocess.run(["make", "-n", "-B", target], cwd=repo, capture_output=True, text=True,
                              check=True).stdout

    demo = planned("demo")
    assert "pip install --quiet -e .\n" in demo and "[test]" not in demo, demo
    assert "booksync demo --home booksync-demo" in demo
    test = planned("test")
    assert "pip install --quiet -e '.[test]'" in test and "pytest" in test, test
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "psycopg" in runtime
    assert not any(name in runtime for name in ("playwright", "hypothesis", "pytest", "zeep", "pypdf"))
