"""Consistent copies of booksync's own database, whatever the engine.

SQLite: the SQLite backup API, one file. Other databases (PostgreSQL): every table
exported as JSON lines through SQLAlchemy, and restored by replacing the rows.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, Integer, insert, select

from booksync.store.models import Base

SQLITE_PREFIX = "sqlite:///"


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database onto ``target`` with the SQLite backup API (consistent, WAL-safe)."""
    src = sqlite3.connect(str(source))
    dest = sqlite3.connect(str(target))
    try:
        with dest:
            src.backup(dest)
    finally:
        src.close()
        dest.close()


def backup_database(url: str, engine: Engine, target: Path) -> Path:
    """Copy the database at ``url`` into folder ``target``; return the copy's path."""
    target.mkdir(parents=True, exist_ok=True)
    if url.startswith(SQLITE_PREFIX):
        path = target / "billing.db"
        copy_sqlite(Path(url[len(SQLITE_PREFIX):]), path)
        return path
    folder = target / "billing"
    folder.mkdir(exist_ok=True)
    with engine.connect() as conn, conn.begin():  # one transaction: one consistent snapshot
        for table in Base.metadata.sorted_tables:
            with (folder / f"{table.name}.jsonl").open("w", encoding="utf-8") as fh:
                for row in conn.execute(select(table)).mappings():
                    fh.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")
    return folder


def _plain(value: object) -> object:
    if isinstance(value, (dt.date, dt.datetime)):
        return {"__dt__": value.isoformat()}
    if isinstance(value, Decimal):
        return {"__dec__": str(value)}
    return value


def _back(value: object) -> object:
    if isinstance(value, dict) and "__dec__" in value:
        return Decimal(value["__dec__"])
    if isinstance(value, dict) and "__dt__" in value:
        text = value["__dt__"]
        return dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)
    return value


def restore_database(url: str, engine: Engine, source: Path) -> None:
    """Replace the database's rows with a copy made by :func:`backup_database`."""
    if url.startswith(SQLITE_PREFIX):
        copy_sqlite(source / "billing.db", Path(url[len(SQLITE_PREFIX):]))
        return
    folder = source / "billing"
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        for table in Base.metadata.sorted_tables:
            path = folder / f"{table.name}.jsonl"
            rows = [{k: _back(v) for k, v in json.loads(line).items()}
                    for line in path.read_text(encoding="utf-8").splitlines() if line]
            if rows:
                conn.execute(insert(table), rows)
        if engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and isinstance(table.c.id.type, Integer):
                    conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                         f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)")
