"""The ``cache`` plugin's in-process stampede guard: who reads which key, who waits for it.

One caller per key and process reads a missing row; the others wait on an
event its loader sets when done (the guard across processes is the backend's
[`claim`][earnorm_aop.plugins.cache_backends.CacheBackend.claim]).
"""

from __future__ import annotations

import threading

__all__ = ["Loads"]


class Loads:
    """The keys being read from the database in this process, and who waits for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}
        self._waiting: dict[str, int] = {}

    def claim(self, key: str) -> bool:
        """Become the loader of ``key``; ``False`` when another caller already is."""
        with self._lock:
            if key in self._running:
                return False
            self._running[key] = threading.Event()
            return True

    def release(self, key: str) -> None:
        with self._lock:
            done = self._running.pop(key, None)
        if done is not None:
            done.set()

    def wait(self, key: str, timeout: float) -> bool:
        """Wait for the loader of ``key``; ``False`` if it did not finish within ``timeout``."""
        with self._lock:
            done = self._running.get(key)
            if done is None:
                return True
            self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            return done.wait(timeout)
        finally:
            with self._lock:
                left = self._waiting[key] - 1
                if left:
                    self._waiting[key] = left
                else:
                    del self._waiting[key]

    def waiting(self, key: str) -> int:
        """How many callers wait for ``key``'s loader now (for monitoring and tests)."""
        with self._lock:
            return self._waiting.get(key, 0)
