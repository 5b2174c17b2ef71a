"""The web interface's users: names and argon2 password hashes in ``users.json`` in the home.

The file is written atomically with mode 0600 and holds no plain password. ``booksync users add``
creates a user; :func:`check_password` verifies one in constant work whether or not the name exists,
so the time a failed sign-in takes does not tell which part was wrong.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from booksync.attempts import password_check

USERS_FILE = "users.json"
MIN_PASSWORD_LENGTH = 8
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,39}$")

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user cannot be added, changed or removed; the message says why."""


def users_path(home_path: Path) -> Path:
    return Path(home_path) / USERS_FILE


def load_users(home_path: Path) -> dict[str, dict[str, Any]]:
    """Every user by name: ``{"hash": PHC string, "created": ISO time}``; {} when there is no file."""
    path = users_path(home_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); fix or remove it, then add the users again.") from None
    return dict(data.get("users", {}))


def _save(home_path: Path, users: dict[str, dict[str, Any]]) -> None:
    path = users_path(home_path)
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"users": users}, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def set_user(home_path: Path, name: str, password: str, replace: bool = False) -> bool:
    """Add user ``name`` (or, with ``replace``, change its password). Returns True when it was new."""
    if not NAME_PATTERN.match(name):
        raise UserError("A user name has 1 to 40 letters, digits, '.', '_', '@' or '-', and starts with a letter "
                        "or digit.")
    users = load_users(home_path)
    if name in users and not replace:
        raise UserError(f"There is already a user {name!r}; use 'booksync users passwd {name}' to change its "
                        "password.")
    if name not in users and replace:
        raise UserError(f"There is no user {name!r}; add it with 'booksync users add {name}'.")
    now = dt.datetime.now().replace(microsecond=0).isoformat()
    entry = {**users.get(name, {"created": now}), "hash": hash_password(password), "changed": now}
    users[name] = entry
    _save(home_path, users)
    return not replace


def remove_user(home_path: Path, name: str) -> None:
    users = load_users(home_path)
    if name not in users:
        raise UserError(f"There is no user {name!r}.")
    del users[name]
    _save(home_path, users)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash("booksync: no such user")


def check_password(home_path: Path, name: str, password: str) -> str | None:
    """The user's password version (a digest of its hash, which changes with the password) when ``name``
    and ``password`` match, else None. Raises :class:`booksync.attempts.ChecksBusy` when too many checks run
    at once (``web.concurrent_password_checks``)."""
    user = load_users(home_path).get(name) if name else None
    stored = str(user.get("hash", "")) if user else ""
    try:
        with password_check():  # bounded: each verification holds the hash's memory (64 MiB)
            decoy = _decoy_hash()  # made once, inside the bound too
            ok = _hasher.verify(stored or decoy, password) and bool(stored)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return password_version(stored) if ok else None


def password_version(stored_hash: str) -> str:
    import hashlib

    return hashlib.sha256(stored_hash.encode()).hexdigest()[:16]


def current_version(home_path: Path, name: str) -> str | None:
    """The password version of ``name`` now, or None when the user no longer exists."""
    user = load_users(home_path).get(name)
    return password_version(str(user.get("hash", ""))) if user else None
