"""The ``cache`` plugin's stampede guard: who reads which key, who waits for it.

One caller per key and process reads a missing row; the others wait on an
event its loader sets when done ([`Loads`][earnorm_aop.plugins._cache_loads.Loads]).
Across processes the guard is the backend's
[`claim`][earnorm_aop.plugins.cache_backends.CacheBackend.claim]: a caller that
cannot claim waits for the holder's entry (`wait_elsewhere`), and one that
claims after a miss looks once more first (`stored_meanwhile`), since a loader
lets go right after storing.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .cache_backends import MISS, CacheBackend

if TYPE_CHECKING:
    from ..adapters.base import Adapter

__all__ = ["Loads", "stored_meanwhile", "wait_elsewhere"]


class _Guarded(Protocol):
    """What the waits below use of the ``cache`` plugin (a protocol: no import cycle)."""

    backend: CacheBackend
    loads: Loads
    config: Any

    def _safely(self, what: str, action: Callable[[], Any], default: Any = None) -> Any: ...

    def _values(self, adapter: Adapter, model: type, entry: Any, pk: Any) -> Any: ...


# A cross-process waiter looks for the loader's entry this often, up to wait_timeout.
_POLL = 0.01


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


def stored_meanwhile(
    cache: _Guarded, adapter: Adapter, model: type, key: str, pk: Any, lock: Any
) -> Any:
    """What another process stored between this caller's miss and its claim, or None (load).

    Found, both of the caller's claims are given back: it loads nothing.
    """
    entry = cache._safely("read", lambda: cache.backend.get(key), MISS)
    found = None if entry is MISS else cache._values(adapter, model, entry, pk)
    if found is not None:
        cache._safely("unlock", lambda: cache.backend.release(key, lock))
        cache.loads.release(key)
    return found


def wait_elsewhere(cache: _Guarded, adapter: Adapter, model: type, key: str, pk: Any) -> Any:
    """Wait, up to ``wait_timeout``, for another process's entry of ``key``; its values."""
    for _ in range(max(1, int(cache.config.wait_timeout / _POLL))):
        time.sleep(_POLL)
        entry = cache._safely("read", lambda: cache.backend.get(key), MISS)
        if entry is not MISS:
            return cache._values(adapter, model, entry, pk)
        probe = cache._safely("lock", lambda: cache.backend.claim(key, 0.001), None)
        if probe is not None:
            # The loader let go: it stored its entry after the look above, or it is
            # gone without storing (then read the row here). The probe is given back.
            cache._safely("unlock", functools.partial(cache.backend.release, key, probe))
            entry = cache._safely("read", lambda: cache.backend.get(key), MISS)
            return None if entry is MISS else cache._values(adapter, model, entry, pk)
    return None
