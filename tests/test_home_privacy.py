"""A home is private to its owner whatever the umask, and keeps no database password in booksync.toml
(issue 19 item 8)."""
from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from booksync.config import CONFIG_NAME, PASSWORD_ENV, Home

from conftest import copy_home


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loose(root: Path) -> list[str]:
    """Everything under ``root`` that someone other than its owner may read."""
    found = [str(root)] if _mode(root) & 0o077 else []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and _mode(path) & 0o077:
                found.append(f"{path.relative_to(root)} {oct(_mode(path))}")
    return found


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_home_and_everything_a_sync_writes_are_private_under_umask_022(tmp_path, cli, umask_022):
    home = tmp_path / "demo"
    result = cli("demo", "--home", str(home))  # creates the home, imports, synchronizes (runs, backups, logs)
    assert result.code == 0, str(result)
    assert _mode(home) == 0o700
    for name in (CONFIG_NAME, "company.qbsim"):
        assert _mode(home / name) == 0o600, name
    assert any((home / "backups").iterdir()) and any((home / "logs").iterdir())
    assert _loose(home) == []


def test_an_existing_home_is_tightened_on_its_next_use(nosync_copy, cli, umask_022):
    home = nosync_copy.path
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames:
            os.chmod(Path(dirpath) / name, 0o755)
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o644)
    os.chmod(home, 0o755)
    (home / "notes.txt").write_text("the office's own file")
    os.chmod(home / "notes.txt", 0o644)
    assert cli("runs", "list", "--home", str(home)).code == 0
    assert _loose(home) == ["notes.txt 0o644"]  # booksync's files only; someone's own file is left alone


def test_a_database_password_is_kept_out_of_booksync_toml(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv("BOOKSYNC_TOKEN_KEY", raising=False)
    monkeypatch.setenv("BOOKSYNC_DATABASE_URL", "postgresql+psycopg://booksync:s3cr%40t@dbhost/chamber")
    home = Home.load(tmp_path / "new", create=True)
    config = (home.path / CONFIG_NAME).read_text()
    assert "s3cr" not in config
    assert tomllib.loads(config)["database"]["url"] == "postgresql+psycopg://booksync@dbhost/chamber"
    assert Home.load(home.path).database_url == "postgresql+psycopg://booksync:s3cr%40t@dbhost/chamber"
    assert "s3cr" not in (home.path / "secrets" / "database.fernet").read_text()
    assert _mode(home.path / "secrets" / "database.fernet") == 0o600

    monkeypatch.setenv(PASSWORD_ENV, "from-the-environment")
    assert Home.load(home.path).database_url == "postgresql+psycopg://booksync:from-the-environment@dbhost/chamber"


def test_a_password_already_in_booksync_toml_is_moved_out_on_the_next_use(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv("BOOKSYNC_DATABASE_URL", raising=False)
    root = tmp_path / "old"
    root.mkdir()
    (root / CONFIG_NAME).write_text('[database]\nurl = "postgresql+psycopg://booksync:hunter2@dbhost/chamber"\n')
    home = Home.load(root)
    assert "hunter2" not in (root / CONFIG_NAME).read_text()
    assert home.database_url == "postgresql+psycopg://booksync:hunter2@dbhost/chamber"
    assert Home.load(root).database_url == "postgresql+psycopg://booksync:hunter2@dbhost/chamber"
