"""The booksync home folder: configuration, billing database, company connection, runs, backups, logs.

Layout of a home (``--home DIR`` or ``BOOKSYNC_HOME``)::

    booksync.toml      settings (database URL, company connection, sync policy)
    billing.db         the billing store (SQLite, unless database.url says otherwise)
    company.qbsim      the simulated QuickBooks company, when the company is the simulator
    runs/RUN_ID/       working files of each sync run
    backups/RUN_ID/    backups taken before a run's first write
    logs/              run logs
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

CONFIG_NAME = "booksync.toml"
DEFAULTS: dict[str, Any] = {
    "database": {"url": ""},
    "company": {"kind": "simulator", "path": "company.qbsim", "app_name": "booksync"},
    "sync": {"message_size": 50, "keep_backups": 10},
    "corrections": {"period": "month", "fiscal_year_start": 1, "on_conflict": "stop", "closed_period": "stop"},
}


class ConfigError(Exception):
    """The home folder or its configuration is missing or wrong."""


def default_home() -> Path:
    return Path(os.environ.get("BOOKSYNC_HOME") or Path.home() / ".booksync")


@dataclass
class Home:
    """A booksync home folder and its settings."""

    path: Path
    settings: dict[str, Any]

    @classmethod
    def load(cls, path: Path | str | None = None, create: bool = False) -> "Home":
        """Read ``booksync.toml`` in ``path``. With ``create``, make the folder and
        a default configuration when missing; otherwise raise :class:`ConfigError`."""
        root = Path(path or default_home()).expanduser().resolve()
        config = root / CONFIG_NAME
        if not config.exists():
            if not create:
                raise ConfigError(f"{root} is not a booksync home (no {CONFIG_NAME}). "
                                  f"Run 'booksync init --home {root}' or 'booksync demo --home {root}'.")
            root.mkdir(parents=True, exist_ok=True)
            config.write_text(tomli_w.dumps(DEFAULTS))
        try:
            data = tomllib.loads(config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config} is not valid TOML: {exc}") from None
        settings = {k: {**v, **data.get(k, {})} for k, v in DEFAULTS.items()}
        for k, v in data.items():
            settings.setdefault(k, v)
        home = cls(root, settings)
        for folder in (home.runs_dir, home.backups_dir, home.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return home

    def save(self) -> None:
        (self.path / CONFIG_NAME).write_text(tomli_w.dumps(self.settings))

    @property
    def database_url(self) -> str:
        return self.settings["database"].get("url") or f"sqlite:///{self.path / 'billing.db'}"

    @property
    def company_path(self) -> Path:
        return (self.path / self.settings["company"]["path"]).resolve()

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def backups_dir(self) -> Path:
        return self.path / "backups"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"
