"""Open the billing store and bring its schema up to date with Alembic.

Any SQLAlchemy URL works (``sqlite:///...`` by default, ``postgresql+psycopg://``
for several users). Migrations live in ``booksync/store/migrations``.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # noqa: ANN001
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
    return engine


@contextmanager
def postgres_admin(url: URL) -> Iterator[Connection]:
    """An autocommit connection to the ``postgres`` database of the server ``url`` names (CREATE and
    DROP DATABASE cannot run inside a transaction, nor while connected to the database they name).

    Raises ValueError when the database ``url`` names holds a double quote (it is quoted into SQL)."""
    if '"' in (url.database or ""):
        raise ValueError(f"refusing a database name with a double quote: {url.database!r}")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


def _postgres_exists(conn: Connection, name: str | None) -> bool:
    return bool(conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar())


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` when it does not exist yet (SQLite creates its file)."""
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("postgresql"):
        return
    with postgres_admin(parsed) as conn:
        if not _postgres_exists(conn, parsed.database):
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))


def store_tables(url: str) -> list[str]:
    """The names of the tables the database at ``url`` holds now, sorted ([] when the database, or its
    SQLite file, does not exist; nothing is created)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).exists():
            return []
    elif parsed.get_backend_name().startswith("postgresql"):
        with postgres_admin(parsed) as conn:
            if not _postgres_exists(conn, parsed.database):
                return []
    engine = make_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def reset_database(url: str) -> None:
    """Empty the billing store at ``url`` for good: SQLite deletes its file (and the ``-wal`` and
    ``-shm`` beside it); PostgreSQL drops the database and creates it again, empty.

    Raises ValueError for another kind of database, sqlalchemy.exc.OperationalError when PostgreSQL
    refuses (another session is connected to the database).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    if not parsed.get_backend_name().startswith("postgresql"):
        raise ValueError(f"cannot empty a {parsed.get_backend_name()} database")
    with postgres_admin(parsed) as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))


def upgrade(url: str) -> None:
    """Apply every pending migration to the database at ``url`` (created first if it is PostgreSQL's and missing)."""
    ensure_database(url)
    cfg = alembic_config(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()


def open_store(url: str, migrate: bool = True) -> sessionmaker[Session]:
    """Return a session factory for the billing store at ``url``, migrated to the latest schema."""
    if migrate:
        upgrade(url)
    return sessionmaker(make_engine(url), expire_on_commit=False)
