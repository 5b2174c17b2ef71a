"""The Web Connector's user and password: stored as an argon2 hash, checked in constant time.

The Web Connector sends the user name from the .qwc file and the password the user typed into
it (guide p.13, p.62); the password is never in the .qwc file (guide p.38, "UserName").
``booksync webconnector set-password`` stores ``webconnector.user`` and
``webconnector.password_hash`` in booksync.toml.
"""
from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from booksync.attempts import password_check

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


class WeakPassword(ValueError):
    """The password is too short to protect access to the books."""


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string). Raises :class:`WeakPassword` when shorter
    than :data:`MIN_PASSWORD_LENGTH`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Verified against when no password is set or the user is wrong, so that every failed login
    # costs the same time as a real check.
    return _hasher.hash("booksync: no password is set")


def check_credentials(settings: dict[str, Any], user: str, password: str) -> bool:
    """True when ``user`` and ``password`` match ``settings["webconnector"]``.

    The user name is compared with :func:`hmac.compare_digest`, the password with argon2's
    verification, and both always run, so the time taken does not tell which one was wrong. At most
    ``web.concurrent_password_checks`` verifications run at once (shared with the web sign-in); raises
    :class:`booksync.attempts.ChecksBusy` when no slot frees in time.
    """
    wc = settings.get("webconnector", {})
    stored_user = str(wc.get("user", ""))
    stored_hash = str(wc.get("password_hash", ""))
    user_ok = hmac.compare_digest(user.encode("utf-8"), stored_user.encode("utf-8")) and bool(stored_user)
    try:
        with password_check():  # bounded: each verification holds the hash's memory (64 MiB)
            decoy = _decoy_hash()  # made once, inside the bound too
            password_ok = _hasher.verify(stored_hash or decoy, password) and bool(stored_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        password_ok = False
    return user_ok and password_ok
