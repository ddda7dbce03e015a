"""Where the ``cache`` plugin keeps instances: in this process, or in Redis.

A backend stores entries (mappings of plain values: the plugin gives it an
instance's field values, never the instance) under string keys with a time to
live.  It may raise on any call (Redis down); the plugin turns every such
error into a log line and a database read, so backends do not hide their
failures.

[`MemoryBackend`][earnorm_aop.plugins.cache_backends.MemoryBackend] (a ``cachetools.TTLCache``, the
embedded default) keeps a deep copy of each entry and hands out deep copies, so a caller changing a
mutable field value (a JSON list) of what it got changes nothing for the next
caller.  [`RedisBackend`][earnorm_aop.plugins.cache_backends.RedisBackend] writes entries as JSON
with typed values ([`earnorm_aop.plugins.cache_codec`][earnorm_aop.plugins.cache_codec]), so several
processes share them and reading one never runs code: write access to the Redis server is not code
execution in its readers.  Still, anyone who can write keys under the prefix
can make readers see other field values: use a Redis only your application
writes to (a private instance, or an ACL user restricted to the key prefix).

Invalidation stamps.  A read that missed must not store what it read after a
write that committed meanwhile was invalidated (the entry would be stale until
its ``ttl``).  So each key has a *stamp* that every invalidation changes: a
read takes the stamp with its look-up
([`CacheBackend.fetch`][earnorm_aop.plugins.cache_backends.CacheBackend.fetch]) and stores only if
the stamp is still that one
([`CacheBackend.store`][earnorm_aop.plugins.cache_backends.CacheBackend.store]).  In memory the
stamp is the backend's invalidation counter, checked under its lock; in Redis it is a random token
under ``PREFIX + "\x1fstamp:" + key``, written by every invalidation in the same ``MULTI`` as the
``DEL``, and a store is one Lua script that compares it and sets the entry atomically, one round
trip.  A stamp lives ``STAMP_SECONDS``; a read that took longer than half of that does not store at
all.

The stampede guard across processes:
[`CacheBackend.claim`][earnorm_aop.plugins.cache_backends.CacheBackend.claim] takes a per-key lock
(Redis: ``SET NX PX`` of a token under ``PREFIX + "\x1flock:" + key``, expiring on its own if its
holder dies; released only by its holder), so one process reads a missing row while the others wait
for its entry.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from ..errors import PluginConfigError
from . import cache_codec

__all__ = ["MISS", "STAMP_SECONDS", "CacheBackend", "Corrupt", "MemoryBackend", "RedisBackend"]

STAMP_SECONDS = 120.0
"""How long an invalidation stamp lives (a read taking half of it does not store)."""


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Any = _Miss()
"""What [`CacheBackend.get`][earnorm_aop.plugins.cache_backends.CacheBackend.get] returns for an
absent key (``None`` may be a cached value)."""


class Corrupt:
    """What [`CacheBackend.fetch`][earnorm_aop.plugins.cache_backends.CacheBackend.fetch] returns
    for an entry it cannot decode: a miss, with why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Corrupt({self.reason!r})"


class CacheBackend(Protocol):
    """The interface of a cache backend; every method may raise on failure."""

    def get(self, key: str) -> Any:
        """The value under ``key``, or [`MISS`][earnorm_aop.plugins.cache_backends.MISS]."""

    def fetch(self, key: str) -> tuple[Any, Any]:
        """The value under ``key`` (or [`MISS`][earnorm_aop.plugins.cache_backends.MISS], or a
        [`Corrupt`][earnorm_aop.plugins.cache_backends.Corrupt]) and its stamp."""

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for the backend's time to live."""

    def store(self, key: str, value: Any, stamp: Any) -> bool:
        """Store ``value`` only if ``key`` was not invalidated since its stamp was ``stamp``."""

    def delete(self, keys: Iterable[str]) -> None:
        """Invalidate ``keys``: forget their values, change their stamps."""

    def claim(self, key: str, seconds: float) -> Any:
        """A token if this process may load ``key`` (no other holds it), else ``None``."""

    def release(self, key: str, token: Any) -> None:
        """Give back the claim ``token`` on ``key`` (a claim no longer held is left alone)."""

    def clear(self) -> None:
        """Forget every key this backend wrote."""


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class MemoryBackend:
    """In-process cache: a ``cachetools.TTLCache`` behind a lock, copies in and out.

    The stamp of every key is the count of invalidations so far: a read that
    overlapped any invalidation in this process is not stored (exact, and
    cheaper than a stamp per key).  Claims are the plugin's own (in-process).
    """

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
        # The TTL cache is made by the first write: a model never read through the
        # cache (many woven models, few served) keeps none.  Until then reads see
        # the one shared empty mapping.
        self._data: Any = _EMPTY
        self._made = (cachetools.TTLCache, maxsize, ttl, timer)
        self._lock = threading.Lock()
        self._invalidations = 0

    def _cache(self) -> Any:
        """The TTL cache, made now if this is the first write (the caller holds the lock)."""
        if self._data is _EMPTY:
            make, maxsize, ttl, timer = self._made
            self._data = make(maxsize=maxsize, ttl=ttl, timer=timer)
        return self._data

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._data.get(key, MISS)
        return value if value is MISS else copy.deepcopy(value)

    def fetch(self, key: str) -> tuple[Any, Any]:
        with self._lock:
            value = self._data.get(key, MISS)
            stamp = self._invalidations
        return (value if value is MISS else copy.deepcopy(value)), stamp

    def set(self, key: str, value: Any) -> None:
        value = copy.deepcopy(value)
        with self._lock:
            self._cache()[key] = value

    def store(self, key: str, value: Any, stamp: Any) -> bool:
        value = copy.deepcopy(value)
        with self._lock:
            if stamp != self._invalidations:
                return False
            self._cache()[key] = value
            return True

    def delete(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._invalidations += 1
            if self._data is not _EMPTY:
                for key in keys:
                    self._data.pop(key, None)

    def claim(self, key: str, seconds: float) -> Any:
        return True

    def release(self, key: str, token: Any) -> None:
        pass

    def clear(self) -> None:
        with self._lock:
            self._invalidations += 1
            if self._data is not _EMPTY:
                self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


# Set the entry only if the key's stamp is still the one read with the miss
# ("" for none): one atomic round trip.
_STORE = """
local current = redis.call('GET', KEYS[2])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""

# Delete the lock only if this claim still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


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
        self._stamp_ms = int(STAMP_SECONDS * 1000)
        self._prefix = prefix
        # Short timeouts: a Redis that hangs must not hang the application,
        # which reads the database instead.
        self.client: Any = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._store = self.client.register_script(_STORE)
        self._release = self.client.register_script(_RELEASE)

    def _side(self, key: str, kind: str) -> str:
        """The stamp or lock key of ``key``: under the prefix, never an entry's key."""
        return f"{self._prefix}\x1f{kind}:{key[len(self._prefix) :]}"

    def get(self, key: str) -> Any:
        data = self.client.get(key)
        return MISS if data is None else _decoded(data)

    def fetch(self, key: str) -> tuple[Any, Any]:
        data, stamp = self.client.mget([key, self._side(key, "stamp")])
        return (MISS if data is None else _decoded(data)), (stamp or b"")

    def set(self, key: str, value: Any) -> None:
        self.client.set(key, cache_codec.dumps(value), px=self._ttl_ms)

    def store(self, key: str, value: Any, stamp: Any) -> bool:
        data = cache_codec.dumps(value)
        keys = [key, self._side(key, "stamp")]
        return bool(self._store(keys=keys, args=[stamp, data, self._ttl_ms]))

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        token = os.urandom(12).hex()  # unique: a stamp never comes back (no ABA)
        with self.client.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(self._side(key, "stamp"), token, px=self._stamp_ms)
            pipe.delete(*keys)
            pipe.execute()

    def claim(self, key: str, seconds: float) -> Any:
        token = os.urandom(12).hex()
        taken = self.client.set(
            self._side(key, "lock"), token, nx=True, px=max(1, int(seconds * 1000))
        )
        return token if taken else None

    def release(self, key: str, token: Any) -> None:
        self._release(keys=[self._side(key, "lock")], args=[token])

    def clear(self) -> None:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self._prefix) + "*"
        keys = list(self.client.scan_iter(match=pattern))
        if keys:
            self.client.delete(*keys)


def _decoded(data: bytes) -> Any:
    """The entry ``data`` holds, or a [`Corrupt`][earnorm_aop.plugins.cache_backends.Corrupt] saying
    why it cannot be read."""
    try:
        return cache_codec.loads(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return Corrupt(f"{type(exc).__name__}: {exc}")
