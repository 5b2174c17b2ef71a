"""Small secrets encrypted at rest: QuickBooks Online's tokens (``HOME/online/``, books/online/auth.py) and
the billing store's database password (``HOME/secrets/``, config.py).

Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``). The key is ``BOOKSYNC_TOKEN_KEY`` when set (kept
outside the home), else ``token.key`` in the vault's folder, created on first use with O_EXCL so that two
processes never end with different keys.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from booksync.errors import ConfigError

KEY_ENV = "BOOKSYNC_TOKEN_KEY"


class Vault:
    """Fernet encryption of small JSON documents in ``folder`` (mode 0700, files 0600), keyed by
    ``BOOKSYNC_TOKEN_KEY`` or ``folder/token.key`` (created on first use). Raises :class:`ConfigError` for
    a key that is not a Fernet key or a document another key encrypted (``advice`` says what to do)."""

    def __init__(self, folder: Path, advice: str = "store the secret again") -> None:
        self.folder = Path(folder)
        self.advice = advice
        self._fernet: Fernet | None = None

    def _ensure_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)

    def fernet(self) -> Fernet:
        if self._fernet is not None:
            return self._fernet
        key = os.environ.get(KEY_ENV, "").strip()
        if not key:
            self._ensure_folder()
            path = self.folder / "token.key"
            if not path.exists():
                # O_EXCL: two processes creating the key at once must not end with different keys.
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(Fernet.generate_key())
                except FileExistsError:
                    pass
            key = path.read_text().strip()
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(f"the token key ({KEY_ENV} or {self.folder / 'token.key'}) is not a Fernet key") \
                from None
        return self._fernet

    def write(self, name: str, data: dict[str, Any]) -> Path:
        """Encrypt ``data`` into ``folder/name`` atomically (write, fsync, rename), mode 0600."""
        self._ensure_folder()
        target = self.folder / name
        tmp = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.fernet().encrypt(json.dumps(data).encode()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def read(self, name: str) -> dict[str, Any] | None:
        """Decrypt ``folder/name``; None when it does not exist. Raises :class:`ConfigError` when the key differs."""
        path = self.folder / name
        if not path.exists():
            return None
        try:
            return json.loads(self.fernet().decrypt(path.read_bytes()))
        except InvalidToken:
            raise ConfigError(f"{path} cannot be decrypted with this token key (was {KEY_ENV} or token.key "
                              "changed?); {self.advice}") from None

    def delete(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)
