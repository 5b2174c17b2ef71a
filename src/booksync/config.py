"""The booksync home folder: configuration, billing database, company connection, runs, backups, logs.

Layout of a home (``--home DIR`` or ``BOOKSYNC_HOME``)::

    booksync.toml      settings (database URL, company connection, sync policy)
    billing.db         the billing store (SQLite, unless database.url says otherwise)
    company.qbsim      the simulated QuickBooks company, when the company is the simulator
    runs/RUN_ID/       working files of each sync run
    backups/RUN_ID/    backups taken before a run's first write
    logs/              run logs
    secrets/           the billing store's database password, encrypted (vault.py), when it has one

The home is private to its owner (issue 19): folder 0700, files 0600. Loading a home sets the process's
umask to 077, so everything booksync writes afterwards (the SQLite files, runs, backups, logs) is
created 0600/0700; a home made before that is tightened on its next use (:func:`tighten`). A database
password never stays in ``booksync.toml``: it comes from ``BOOKSYNC_DATABASE_PASSWORD``, or from
``secrets/database.fernet``, where a password found in the URL is moved on the next use.
"""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from booksync.errors import ConfigError  # noqa: F401 - raised here; importers of config use it

CONFIG_NAME = "booksync.toml"
PASSWORD_ENV = "BOOKSYNC_DATABASE_PASSWORD"
SECRETS_DIR = "secrets"
DATABASE_SECRET = "database.fernet"
PRIVATE_NAMES = ("booksync.toml", "billing.db", "billing.db-wal", "billing.db-shm", "billing.db-journal",
                 "company.qbsim", "company.qbsim-wal", "company.qbsim-shm", "company.qbsim-journal",
                 "users.json", "web_secret", "sync.lock", "sync.lock.json", "restore.json",
                 "runs", "backups", "logs", "online", SECRETS_DIR)
"""What booksync keeps in a home (files, and folders tightened with everything in them)."""
DEFAULTS: dict[str, Any] = {
    "database": {"url": ""},
    "company": {"kind": "simulator", "path": "company.qbsim", "app_name": "booksync"},
    # create_payment_methods: a billing payment method without a mapping ('booksync payments methods') whose name
    # QuickBooks does not have is created (true) or stops the run before anything is written (false).
    # default_class: the QuickBooks class of every line whose G/L account names none ('booksync accounts classes').
    "sync": {"message_size": 50, "keep_backups": 10, "create_payment_methods": True, "default_class": ""},
    # How 'booksync import' reads files (docs/import.md): dates "iso" (YYYY-MM-DD) or "us" (MM/DD/YYYY);
    # amounts "strict" (1250.00) or "lenient" (also $1,250.00); encoding "" = detect a CSV file's encoding.
    "import": {"date_format": "iso", "amounts": "strict", "encoding": ""},
    "corrections": {"period": "month", "fiscal_year_start": 1, "on_conflict": "stop", "closed_period": "stop"},
    # QuickBooks Web Connector service (docs/webconnector.md): owner_id/file_id are the .qwc GUIDs, made
    # once by 'booksync qwc'; password_hash is argon2, set by 'booksync webconnector set-password'.
    "webconnector": {"user": "", "password_hash": "", "owner_id": "", "file_id": "", "company_file": "",
                     "create_customers": True, "unattended": False, "wait_seconds": 15,
                     "idle_timeout_seconds": 600, "max_session_seconds": 14400, "max_body_bytes": 10485760},
    # The web interface (docs/web.md): users live in users.json (argon2 hashes, mode 0600), the cookie-signing
    # key in web_secret; a sync question unanswered for question_timeout_seconds is answered "no" (nothing written).
    "web": {"session_hours": 12, "secure_cookies": False, "question_timeout_seconds": 1800, "members_per_page": 50,
            # Who may reach booksync serve and how hard it is to guess passwords (docs/web.md, "Limits"): extra
            # Host names (localhost names and the address served on are always allowed), the reverse proxies
            # whose X-Forwarded-For is believed (none), sign-in attempts per user and per address in the
            # window, and argon2 checks at once (each holds 64 MiB).
            "allowed_hosts": [], "trusted_proxies": [], "signin_attempts_per_user": 10,
            "signin_attempts_per_address": 30, "signin_window_seconds": 600, "concurrent_password_checks": 2},
    # logs/booksync.log is rotated at max_bytes, keeping `keep` older files (booksync.log.1 ...).
    "logs": {"max_bytes": 5242880, "keep": 5},
    # The Windows request processor (company.kind = "rp2"); company_file "" = the file open in QuickBooks.
    "rp2": {"company_file": "", "file_mode": "DoNotCare", "app_id": "", "launch_ui": False},
    # QuickBooks Online (company kind "online"; docs/quickbooks-online.md). Sandbox and production keep
    # separate URLs (reference/quickbooks-online.md §1); tokens live encrypted in online/, never here.
    "online": {"environment": "sandbox", "realm_id": "", "client_id": "",
               "redirect_uri": "http://localhost:8080/qbo/callback",  # booksync serve's default address
               "sandbox_api_base": "https://sandbox-quickbooks.api.intuit.com",
               "production_api_base": "https://quickbooks.api.intuit.com",
               "sandbox_discovery_url": "https://developer.intuit.com/.well-known/openid_sandbox_configuration/",
               "production_discovery_url": "https://developer.intuit.com/.well-known/openid_configuration/",
               "minorversion": 75, "batch_size": 30, "requests_per_minute": 490, "batches_per_minute": 38,
               "concurrent_requests": 10, "rate_window_seconds": 60, "count_batch_items": True,
               "refresh_margin_seconds": 300, "max_retries": 6, "backoff_seconds": 1.0, "timeout_seconds": 60},
}


def initial_database_url(root: Path) -> str:
    """The database URL a new home starts with: BOOKSYNC_DATABASE_URL when set (``{home_id}`` in it
    becomes a short digest of the home's path, so several homes can share one PostgreSQL server),
    else "" (SQLite in the home)."""
    url = os.environ.get("BOOKSYNC_DATABASE_URL", "")
    return url.replace("{home_id}", hashlib.sha1(str(root).encode()).hexdigest()[:12])


def database_url_of(root: Path, configured: str) -> str:
    """The billing store's URL of the home at ``root``: ``configured`` (its ``database.url``) when set,
    else its SQLite file ``billing.db``."""
    return configured or f"sqlite:///{root / 'billing.db'}"


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (None when it has none). Shapes: SQLAlchemy URLs."""
    if not url:
        return url, None
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.password is None:
        return url, None
    # URL.set() takes None as "unchanged"; URL is a NamedTuple, so _replace drops the password.
    return parsed._replace(password=None).render_as_string(hide_password=False), str(parsed.password)


def _vault(root: Path) -> Any:
    from booksync.vault import Vault

    return Vault(root / SECRETS_DIR, advice=f"set {PASSWORD_ENV}, or put the password in [database] url once "
                                            "(booksync moves it into the encrypted store)")


def tighten(root: Path) -> None:
    """Make booksync's files in the home ``root`` private to their owner: the folder 0700, the files named
    in :data:`PRIVATE_NAMES` 0600 and their folders' contents 0600/0700. Other files are left alone."""
    def private(path: Path) -> None:
        if path.is_symlink():
            return
        os.chmod(path, 0o700 if path.is_dir() else 0o600)

    private(root)
    for name in PRIVATE_NAMES:
        path = root / name
        if not path.exists() or path.is_symlink():
            continue
        private(path)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                for child in (*dirnames, *filenames):
                    private(Path(dirpath) / child)


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
        os.umask(0o077)  # everything booksync creates from here on is its owner's only
        if not config.exists():
            if not create:
                raise ConfigError(f"{root} is not a booksync home (no {CONFIG_NAME}). "
                                  f"Run 'booksync init --home {root}' or 'booksync demo --home {root}'.")
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            settings = {k: dict(v) for k, v in DEFAULTS.items()}
            settings["database"]["url"], password = split_password(initial_database_url(root))
            if password is not None and os.environ.get(PASSWORD_ENV) != password:
                _vault(root).write(DATABASE_SECRET, {"password": password})
            config.write_text(tomli_w.dumps(settings))
        if root.stat().st_mode & 0o077:
            tighten(root)  # a home made before booksync kept its files private
        try:
            data = tomllib.loads(config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config} is not valid TOML: {exc}") from None
        settings = {k: {**v, **data.get(k, {})} for k, v in DEFAULTS.items()}
        for k, v in data.items():
            settings.setdefault(k, v)
        home = cls(root, settings)
        bare, password = split_password(settings["database"].get("url", ""))
        if password is not None:  # written there by hand or by an older booksync: move it out
            if os.environ.get(PASSWORD_ENV) != password:
                _vault(root).write(DATABASE_SECRET, {"password": password})
            settings["database"]["url"] = bare
            home.save()
        for folder in (home.runs_dir, home.backups_dir, home.logs_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return home

    def save(self) -> None:
        (self.path / CONFIG_NAME).write_text(tomli_w.dumps(self.settings))

    def save_database_url(self, url: str) -> None:
        """Set ``[database] url`` to ``url``, keeping any password in it out of booksync.toml."""
        bare, password = split_password(url)
        if password is not None and os.environ.get(PASSWORD_ENV) != password:
            _vault(self.path).write(DATABASE_SECRET, {"password": password})
        self.settings["database"]["url"] = bare
        self.save()

    @property
    def database_url(self) -> str:
        """The billing store's SQLAlchemy URL, with its password (``BOOKSYNC_DATABASE_PASSWORD``, else the
        encrypted store) when ``[database] url`` names a server. Raises :class:`ConfigError` when the
        encrypted store cannot be read with this key."""
        configured = self.settings["database"].get("url", "")
        if configured and split_password(configured)[1] is None and not configured.startswith("sqlite"):
            password = os.environ.get(PASSWORD_ENV)
            if password is None:
                stored = _vault(self.path).read(DATABASE_SECRET) if (self.path / SECRETS_DIR).is_dir() else None
                password = stored["password"] if stored else None
            if password is not None:
                from sqlalchemy import make_url

                return make_url(configured).set(password=password).render_as_string(hide_password=False)
        return database_url_of(self.path, configured)

    @property
    def company_path(self) -> Path:
        return (self.path / self.settings["company"]["path"]).resolve()

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    def run_folder(self, run_id: str) -> Path:
        """The working files of run ``run_id``: always under this home's ``runs/``. A run row records the folder's
        absolute path when it was made, which a copied or moved home would still point at (the original's)."""
        return self.runs_dir / run_id

    @property
    def backups_dir(self) -> Path:
        return self.path / "backups"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"
