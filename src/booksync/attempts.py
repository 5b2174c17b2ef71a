"""Limits on password checks, shared by the web sign-in and the Web Connector's ``authenticate``.

* :class:`AttemptThrottle` counts each attempt *before* its password is checked, per user name and per
  client address, in a sliding window: the attempt that would go over either limit is refused without
  checking anything, so parallel guesses cannot all reach argon2 before the first failure is recorded.
  A successful attempt is taken off both counts.
* :func:`password_check` bounds how many argon2 verifications run at once in this process (each costs
  the hash's memory, 64 MiB with argon2-cffi's defaults): callers wait for a slot, and give up with
  :class:`ChecksBusy` after ``wait`` seconds.
* :func:`clip` makes a caller-supplied value safe to put in a log line (control characters escaped,
  length capped).

Settings (``[web]`` in booksync.toml, docs/web.md): ``signin_attempts_per_user`` (10),
``signin_attempts_per_address`` (30), ``signin_window_seconds`` (600), ``concurrent_password_checks`` (2).
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

MAX_KEYS = 10_000
"""Buckets kept at most; beyond it the emptiest are forgotten (names an attacker makes up must not fill memory)."""
LOG_VALUE_CHARS = 200
"""Longest caller-supplied value put into a log line (:func:`clip`)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (C0, DEL, C1, Unicode line and paragraph separators)."""


def clip(value: Any, limit: int = LOG_VALUE_CHARS) -> str:
    """``value`` as one line for a log: control characters (newlines included) escaped as ``\\n``,
    ``\\x1b``…, then cut to ``limit`` characters with the length it had (``…(9437184 characters)``)."""
    text = "" if value is None else str(value)
    total = len(text)
    if total > limit:
        text = text[:limit]
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if total > limit:
        text += f"…({total} characters)"
    return text


@dataclass(frozen=True)
class Attempt:
    """One counted attempt: what :meth:`AttemptThrottle.succeeded` takes off the counts."""

    keys: tuple[str, ...]
    at: float


class AttemptThrottle:
    """Sliding-window limits on password attempts per user name and per client address.

    ``per_user`` and ``per_address`` attempts within ``window`` seconds; ``clock`` in seconds (monotonic).
    Thread-safe. The address limit is higher than the user limit, so guesses at other names from the same
    computer (every local user shares 127.0.0.1) do not lock a real user out before their own limit.
    """

    def __init__(self, per_user: int = 10, per_address: int = 30, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self.clock = clock
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, web: dict[str, Any], clock: Callable[[], float] = time.monotonic) -> "AttemptThrottle":
        """From the ``[web]`` settings (module docstring)."""
        return cls(int(web.get("signin_attempts_per_user", 10)), int(web.get("signin_attempts_per_address", 30)),
                   float(web.get("signin_window_seconds", 600)), clock)

    @staticmethod
    def _keys(user: str, address: str) -> tuple[str, str]:
        return "user:" + (user or "").strip().casefold()[:100], "address:" + (address or "?")

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._attempts.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def begin(self, user: str, address: str) -> Attempt | None:
        """Count an attempt for ``user`` from ``address`` and return it; None (nothing counted) when either
        limit is reached: refuse without checking the password."""
        user_key, address_key = self._keys(user, address)
        with self._lock:
            now = self.clock()
            by_user, by_address = self._recent(user_key, now), self._recent(address_key, now)
            if len(by_user) >= self.per_user or len(by_address) >= self.per_address:
                return None
            by_user.append(now)
            by_address.append(now)
            if len(self._attempts) > MAX_KEYS:
                self._forget(now)
            return Attempt((user_key, address_key), now)

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until ``user`` from ``address`` may try again (0 when not refused)."""
        user_key, address_key = self._keys(user, address)
        with self._lock:
            now = self.clock()
            wait = 0.0
            for key, limit in ((user_key, self.per_user), (address_key, self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self.window - now)
            return wait

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt no longer counts."""
        with self._lock:
            for key in attempt.keys:
                times = self._attempts.get(key)
                if times is not None and attempt.at in times:
                    times.remove(attempt.at)

    def _forget(self, now: float) -> None:
        for key in [k for k, times in self._attempts.items() if not self._recent(k, now)]:
            del self._attempts[key]
        while len(self._attempts) > MAX_KEYS:
            del self._attempts[min(self._attempts, key=lambda k: len(self._attempts[k]))]


class ChecksBusy(RuntimeError):
    """No password check could start within the wait: too many are running."""


_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_slots_size = 0


def set_concurrent_checks(limit: int) -> None:
    """How many password checks may run at once in this process (``web.concurrent_password_checks``).
    Called when a server starts; checks already waiting keep the semaphore they wait on."""
    global _slots, _slots_size
    limit = max(1, int(limit))
    with _slots_lock:
        if _slots is None or _slots_size != limit:
            _slots, _slots_size = threading.BoundedSemaphore(limit), limit


def _semaphore() -> threading.BoundedSemaphore:
    if _slots is None:
        set_concurrent_checks(2)
    assert _slots is not None
    return _slots


@contextmanager
def password_check(wait: float = 30.0) -> Iterator[None]:
    """Hold one of the process's password-check slots while verifying a hash. Raises :class:`ChecksBusy`
    when none frees within ``wait`` seconds."""
    slots = _semaphore()
    if not slots.acquire(timeout=wait):
        raise ChecksBusy("Too many sign-ins are being checked at once; try again in a minute.")
    try:
        yield
    finally:
        slots.release()


__all__ = ["Attempt", "AttemptThrottle", "ChecksBusy", "clip", "password_check", "set_concurrent_checks"]
