"""Where the ``cache`` plugin keeps instances: in this process, or in Redis.

A backend stores entries (mappings of plain values: the plugin gives it an
instance's field values, never the instance) under string keys with a time to
live.  It may raise on any call (Redis down); the plugin turns every such
error into a log line and a database read, so backends do not hide their
failures.

:class:`MemoryBackend` (a ``cachetools.TTLCache``, the embedded default) keeps
a deep copy of each entry and hands out deep copies, so a caller changing a
mutable field value (a JSON list) of what it got changes nothing for the next
caller.  :class:`RedisBackend` writes entries as JSON with typed values
(:mod:`earnorm_aop.plugins.cache_codec`), so several processes share them and
reading one never runs code: write access to the Redis server is not code
execution in its readers.  Still, anyone who can write keys under the prefix
can make readers see other field values: use a Redis only your application
writes to (a private instance, or an ACL user restricted to the key prefix).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..errors import PluginConfigError
from . import cache_codec

__all__ = ["MISS", "CacheBackend", "MemoryBackend", "RedisBackend"]


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Any = _Miss()
"""What :meth:`CacheBackend.get` returns for an absent key (``None`` may be a cached value)."""


class CacheBackend(Protocol):
    """The interface of a cache backend; every method may raise on failure."""

    def get(self, key: str) -> Any:
        """The value under ``key``, or :data:`MISS`."""

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for the backend's time to live."""

    def delete(self, keys: Iterable[str]) -> None:
        """Forget ``keys`` (absent keys are ignored)."""

    def clear(self) -> None:
        """Forget every key this backend wrote."""


class MemoryBackend:
    """In-process cache: a ``cachetools.TTLCache`` behind a lock, copies in and out."""

    def __init__(
        self, *, ttl: float, maxsize: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        try:
            import cachetools
        except ImportError as exc:  # pragma: no cover - cachetools is a test dependency
            raise PluginConfigError(
                "the cache plugin's memory backend needs cachetools: "
                "pip install 'earnorm-aop[cache]'"
            ) from exc
        self._data: Any = cachetools.TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._data.get(key, MISS)
        return value if value is MISS else copy.deepcopy(value)

    def set(self, key: str, value: Any) -> None:
        value = copy.deepcopy(value)
        with self._lock:
            self._data[key] = value

    def delete(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class RedisBackend:
    """Cache in Redis, shared by processes; entries are typed JSON (see ``cache_codec``)."""

    def __init__(self, *, url: str, ttl: float, prefix: str, timeout: float) -> None:
        try:
            import redis
        except ImportError as exc:
            raise PluginConfigError(
                "the cache plugin's redis backend needs the redis client: "
                "pip install 'earnorm-aop[redis]'"
            ) from exc
        self._ttl_ms = max(1, int(ttl * 1000))
        self._prefix = prefix
        # Short timeouts: a Redis that hangs must not hang the application,
        # which reads the database instead.
        self.client: Any = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def get(self, key: str) -> Any:
        data = self.client.get(key)
        return MISS if data is None else cache_codec.loads(data)

    def set(self, key: str, value: Any) -> None:
        self.client.set(key, cache_codec.dumps(value), px=self._ttl_ms)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self.client.delete(*keys)

    def clear(self) -> None:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self._prefix) + "*"
        keys = list(self.client.scan_iter(match=pattern))
        if keys:
            self.client.delete(*keys)
