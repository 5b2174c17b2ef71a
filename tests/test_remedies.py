"""Advice fits where it is read (issue 20, item 3): every problem the sync reports carries its remedy for the
command line (commands, flags) and for the web interface (pages, options) separately, and each face shows its
own. The command line names --allow-deposit-changes; the web page names the checkbox, never a flag."""
from __future__ import annotations

import ast
import json
import re
import warnings
from html import unescape
from pathlib import Path

from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import booksync
from booksync.cli.common import command_name
from booksync.config import Home
from booksync.store.db import open_store
from booksync.store.models import SyncRun
from booksync.web.app import create_app
from booksync.services.users import set_user

from test_deposits import deposit, single_payments, sync
from test_web import Browser

SRC = Path(booksync.__file__).resolve().parent
CLI_WORDS = re.compile(r"--[a-z]|\bbooksync (sync|accounts|members|payments|invoices|credit-memos|runs|backups|"
                       r"import|company|simulator|users|serve|reconcile)\b")


def _problem_calls() -> list[tuple[str, int, ast.Call]]:
    calls = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                calls.append((str(path.relative_to(SRC)), node.lineno, node))
    return calls


def test_every_problem_the_sync_reports_has_a_web_remedy_without_command_line_words():
    """Each Problem(...) in the code gives code, record, message, fix (command line) and fix_web; the web
    remedy's literal text names no command and no flag."""
    calls = _problem_calls()
    assert len(calls) >= 19
    for where, line, call in calls:
        given = len(call.args) + len(call.keywords)
        assert given >= 5, f"{where}:{line}: Problem without its web remedy"
        web = call.args[4] if len(call.args) >= 5 else next(k.value for k in call.keywords if k.arg == "fix_web")
        for node in ast.walk(web):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not CLI_WORDS.search(node.value), f"{where}:{line}: web remedy names a command: {node.value}"


def test_the_deposit_remedy_names_the_flag_on_the_command_line_and_the_checkbox_on_the_web(demo_copy, cli, tmp_path):
    a, b = single_payments(2)
    home = str(demo_copy.path)
    deposit(cli, home, a["number"], b["number"])
    assert cli("payments", "edit", a["number"], "--amount", "5.00", "--apply", f"{a['apply_to']}=5.00",
               "--home", home).code == 0
    stopped, _ = sync(cli, home)
    assert stopped.code == 3, stopped
    assert "--allow-deposit-changes" in stopped.stdout
    assert f"run '{command_name()} sync --home {home}' again" in stopped.stdout  # a command to paste
    with open_store(Home.load(demo_copy.path).database_url)() as session:
        run = session.scalars(select(SyncRun).where(SyncRun.status == "stopped")).one()
    problem = json.loads(run.summary)["problems"][0]
    assert problem["code"] == "deposit-change" and "Correct deposited payments" in problem["fix_web"]

    set_user(demo_copy.path, "office", "river-chamber-2026")
    with TestClient(create_app(Home.load(demo_copy.path)), base_url="http://127.0.0.1") as client:
        browser = Browser(client)
        browser.sign_in("office", "river-chamber-2026")
        page = unescape(client.get(f"/runs/{run.id}").text)
    assert "the deposit of 2026-01-15 to Checking" in page
    assert "Correct deposited payments even when the deposit's total changes" in page
    assert "Options for corrections" in page and "synchronize again" in page
    assert "--allow-deposit-changes" not in page and "booksync sync" not in page
    assert not CLI_WORDS.search(page.split('class="fix"', 1)[1].split("</li>", 1)[0])
