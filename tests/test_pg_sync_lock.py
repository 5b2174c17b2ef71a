"""With the billing store on PostgreSQL, one sync at a time holds across homes (and machines) sharing the
database: an advisory lock, not a file in the home (issue 19 item 12). Runs in the PostgreSQL pass
(``make test-postgres``, BOOKSYNC_TEST_POSTGRES names the server); deselected, never skipped, without one."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from sqlalchemy import make_url, text

from booksync.config import Home
from booksync.store.db import postgres_admin
from booksync.sync.lock import SyncBusy, sync_lock

from conftest import POSTGRES

pytestmark = pytest.mark.postgres_server
SERVER = POSTGRES.replace("{home_id}", "postgres")

HOLD = """
import sys
from booksync.config import Home
from booksync.sync.lock import sync_lock
with sync_lock(Home.load(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def shared_database(monkeypatch):
    """The URL of a new, empty PostgreSQL database (dropped afterwards)."""
    name = f"booksync_locktest_{uuid.uuid4().hex[:10]}"
    url = make_url(SERVER).set(database=name)
    with postgres_admin(url) as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.render_as_string(hide_password=False)
    with postgres_admin(url) as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _home(folder, url, monkeypatch) -> Home:
    monkeypatch.setenv("BOOKSYNC_DATABASE_URL", url)
    return Home.load(folder, create=True)


def test_a_sync_in_another_home_on_the_same_database_is_refused_with_who_holds_it(tmp_path, shared_database,
                                                                                   monkeypatch, cli):
    first = _home(tmp_path / "office-pc", shared_database, monkeypatch)
    second = _home(tmp_path / "laptop", shared_database, monkeypatch)
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "BOOKSYNC_DATABASE_URL")}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(first.path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env, cwd=tempfile.gettempdir())
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not (second.path / "sync.lock.json").exists()  # nothing in the second home tells it...
        busy = cli("sync", "--yes", "--home", str(second.path))  # ...the database does
        assert busy.code == 8, str(busy)
        assert "Another sync is running for this company:" in busy.stderr
        assert f"(process {holder.pid}), since " in busy.stderr and " on " in busy.stderr
        assert "Nothing was written" in busy.stderr
        assert busy.writes == []
        with pytest.raises(SyncBusy, match=f"process {holder.pid}"), sync_lock(second):
            pass
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    with sync_lock(second):  # released when the holder ends
        with pytest.raises(SyncBusy):
            with sync_lock(first):
                pass
    with sync_lock(first):
        pass


def test_a_killed_holder_leaves_no_lock_behind(tmp_path, shared_database, monkeypatch):
    first = _home(tmp_path / "a", shared_database, monkeypatch)
    second = _home(tmp_path / "b", shared_database, monkeypatch)
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "BOOKSYNC_DATABASE_URL")}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(first.path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env, cwd=tempfile.gettempdir())
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=60)
    for _ in range(100):  # PostgreSQL ends the session when it sees the socket closed
        try:
            with sync_lock(second):
                break
        except SyncBusy:
            time.sleep(0.1)
    else:
        pytest.fail("the lock of a killed process was never released")


def test_the_holder_named_is_the_one_in_this_database_not_a_sync_of_another_company(tmp_path, monkeypatch):
    """pg_locks lists the advisory locks of every database on the server; another company's sync (its own
    database, the same key) was named as this one's holder when the suite ran in parallel (CI, stop 25)."""
    names = [f"booksync_locktest_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    urls = [make_url(SERVER).set(database=name) for name in names]
    for url in urls:
        with postgres_admin(url) as conn:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    env = {k: v for k, v in os.environ.items() if k not in ("BOOKSYNC_HOME", "BOOKSYNC_DATABASE_URL")}
    holders = []
    try:
        homes = [_home(tmp_path / name, url.render_as_string(hide_password=False), monkeypatch)
                 for name, url in zip(names, urls)]
        for home in homes:  # the other company's sync first, so its row comes first in pg_locks
            holders.append(subprocess.Popen([sys.executable, "-c", HOLD, str(home.path)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True, env=env,
                                            cwd=tempfile.gettempdir()))
            assert holders[-1].stdout.readline().strip() == "held"
        with pytest.raises(SyncBusy, match=f"process {holders[1].pid}\\)"), sync_lock(homes[1]):
            pass
        with pytest.raises(SyncBusy, match=f"process {holders[0].pid}\\)"), sync_lock(homes[0]):
            pass
    finally:
        for holder in holders:
            holder.stdin.close()
            holder.wait(timeout=60)
        for url in urls:
            with postgres_admin(url) as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
