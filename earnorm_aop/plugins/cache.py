"""The ``cache`` plugin: ``get`` by primary key is served from a cache after the first read.

Only lookups by primary key are cached (the adapter says which ``get`` calls
are).  An entry holds the row's field values (the adapter's snapshot), never
the instance: a hit builds a new instance through the adapter (Django:
``Model.from_db``, so it is a load like any other).  Its key is
``PREFIX + model label + ":" + database alias + ":" + repr(pk)``: a read from
another database (``db_manager("other")``) has its own entry.

Every write path invalidates what it touched: ``save``, ``update`` and
``delete`` the instance's key, ``save_many`` the keys of its objects,
``update_many`` and ``delete_many`` the keys of the rows their queryset
matched (read just before the write, one extra query), for every database
alias (a write on the primary must not leave a replica's entry behind).

Transactions (through the adapter's [`defer`][earnorm_aop.adapters.base.Adapter.defer]):

- a write invalidates at once *and* again when its transaction commits (or
  rolls back), so a reader on another connection that re-cached the old row
  between the write and the ``COMMIT`` does not keep serving it;
- until then, reads of a written row by the writing thread bypass the cache
  (neither served nor stored): the uncommitted row must never reach a key
  other connections read;
- an entry stored by a read inside a transaction is dropped if that
  transaction rolls back;
- a read stores what it read only if its key was not invalidated since the
  read began: the backend's invalidation stamp, taken with the look-up, must be
  unchanged when the entry is stored, checked atomically with the store (in
  Redis, one Lua script: see ``cache_backends``).  So once a write's
  invalidation at commit is done, no read that began before it — in any
  process — can leave the old row behind.

Entries are checked before use: an entry is read by field name and must hold
every field of the model and no other, with the key's primary key
([`cache_misfit`][earnorm_aop.plugins.cache_rows.CachedRows.cache_misfit] of the
``cached rows`` capability each integration provides); an entry that does not
(written by someone else, by another version of the model, or corrupted) is a
miss, logged once per model and reason on ``earnorm_aop.cache``, and the
database row replaces it.

Reads see rows as the model's plugins shape them (softdelete hides some).  A
read with such a plugin switched off — ``registry.disabled("softdelete")``,
``registry.disable(...)``, or inside ``softdelete.including_deleted()`` —
bypasses the cache, so a hidden row never reaches the key normal reads use.

Stampedes (``stampede``): with ``"wait"`` (default) one caller per key
reads the database while the others wait for it (at most ``wait_timeout``
seconds, then read it themselves) and are served from the entry it stored —
one per process through an in-process claim, and, on Redis, one across
processes through a lock key with a timeout (``wait_timeout``: a loader that
dies does not hold it longer); with ``"stale"`` entries are kept ``stale_ttl``
seconds beyond their ``ttl``, and while one caller reloads an expired entry
the others get the expired values; ``"off"`` lets every miss read the
database.

The cache never fails an operation: a backend error (Redis down, a value the
Redis format cannot hold) is logged on the ``earnorm_aop.cache`` logger and
the database is read (or the write goes on).  Entries cached before an outage
may be stale until their ``ttl`` if writes happened while Redis was unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..adapters import tracking
from ..adapters.base import Adapter
from ..plugin_system.spec import hook
from ..weaving import scope, weaver
from ..weaving.aspect import Aspect
from ..weaving.pointcut import Pointcut, split_event
from ._cache_loads import Loads, stored_meanwhile, wait_elsewhere
from ._common import call_with, finally_, is_unfiltered, then
from .cache_backends import (
    MISS,
    STAMP_SECONDS,
    CacheBackend,
    Corrupt,
    MemoryBackend,
    RedisBackend,
)
from .cache_rows import cached_rows

__all__ = ["CachePlugin"]

log = logging.getLogger("earnorm_aop.cache")

_READS = ("get", "get_queryset")


_LOCAL_MADE = threading.Lock()  # one thread-local per plugin instance, however many threads


class CachePlugin:
    """Serve ``get(pk)`` from a TTL cache (in-process or Redis); writes invalidate."""

    name = "cache"
    # Its bulk advice drops the matched keys: those of the rows read for another
    # plugin, else one SELECT of the key column of its own (no row read for it).
    reads_rows = False
    version = "1.0.0"
    priority = 0  # innermost around writes: invalidate after every other plugin's changes

    class Config(BaseModel):
        """Options of the ``cache`` plugin."""

        model_config = ConfigDict(extra="forbid")

        backend: Literal["memory", "redis"] = Field(
            "memory",
            description=(
                "'memory': a cachetools TTLCache in this process (default); "
                "'redis': a Redis server shared by processes (needs the 'redis' extra)."
            ),
        )
        ttl: float = Field(300.0, gt=0, description="Seconds an entry lives.")
        prefix: str = Field(
            "earnorm:",
            description="Prefix of every key: 'PREFIX' + model label + ':' + alias + ':' + key.",
        )
        maxsize: int = Field(10_000, gt=0, description="memory: most entries kept (LRU beyond).")
        url: str = Field(
            "redis://127.0.0.1:6379/0", description="redis: the server's URL (redis://...)."
        )
        timeout: float = Field(
            0.5, gt=0, description="redis: seconds to wait for the server before reading the DB."
        )
        stampede: Literal["wait", "stale", "off"] = Field(
            "wait",
            description=(
                "Concurrent misses of one key: 'wait' (one caller loads, the others wait "
                "for it), 'stale' (the others get the expired entry while one reloads it), "
                "'off' (each reads the database)."
            ),
        )
        wait_timeout: float = Field(
            5.0, gt=0, description="wait: seconds a caller waits for the loader, then reads."
        )
        stale_ttl: float = Field(
            30.0, ge=0, description="stale: seconds an expired entry may still be served."
        )

    config: Config

    def __init__(self) -> None:
        cfg = self.config
        keep = cfg.ttl + (cfg.stale_ttl if cfg.stampede == "stale" else 0.0)
        self.backend: CacheBackend
        if cfg.backend == "redis":
            self.backend = RedisBackend(
                url=cfg.url, ttl=keep, prefix=cfg.prefix, timeout=cfg.timeout
            )
        else:
            self.backend = MemoryBackend(ttl=keep, maxsize=cfg.maxsize)
        self.loads = Loads()
        # Keys with uncommitted writes, per thread (a connection belongs to one thread).
        self._local: threading.local | None = None  # made by the first write (_dirty)
        # (model label, reason) of the entries refused so far: each is logged once
        # (made by the first refusal: most models never refuse one).
        self._refused: set[tuple[str, str]] | None = None

    # -- keys ---------------------------------------------------------------------------

    def _key(self, adapter: Adapter, model: type, alias: str | None, pk: Any) -> str:
        where = "" if alias is None else f"{alias}:"
        return f"{self.config.prefix}{adapter.model_label(model)}:{where}{pk!r}"

    def _keys(self, adapter: Adapter, model: type, subject: Any, pks: Iterable[Any]) -> list[str]:
        aliases = cached_rows(adapter).cache_aliases(model, subject)
        return [self._key(adapter, model, a, pk) for pk in pks if pk is not None for a in aliases]

    def _dirty(self) -> dict[str, int]:
        local = self._local
        if local is None:  # a model that is never written keeps no thread-local (~0.7 KB)
            with _LOCAL_MADE:
                local = self._local
                if local is None:
                    local = self._local = threading.local()
        found: dict[str, int] | None = getattr(local, "dirty", None)
        if found is None:
            found = local.dirty = {}
        return found

    def _plain_view(self, model: type) -> bool:
        """Whether reads now see rows as everyone does (every row-shaping plugin in force)."""
        if is_unfiltered():
            return False
        off = scope.DISABLED.get()
        for aspect in weaver.effective_aspects(model):
            if aspect.plugin is self:
                continue
            if (not aspect.switch.enabled or aspect.switch in off) and _shapes_reads(aspect):
                return False
        return True

    # -- backend calls ------------------------------------------------------------------

    def _safely(self, what: str, action: Callable[[], Any], default: Any = None) -> Any:
        try:
            return action()
        except Exception as exc:
            log.warning(
                "cache %s failed (%s backend): %s: %s; using the database",
                what,
                self.config.backend,
                type(exc).__name__,
                exc,
            )
            return default

    def _invalidate(self, keys: Sequence[str]) -> None:
        if keys:
            self._safely("invalidation", lambda: self.backend.delete(keys))

    def _written(self, adapter: Adapter, model: type, subject: Any, pks: Iterable[Any]) -> None:
        """Invalidate now; inside a transaction, keep the keys out of the cache until it ends."""
        keys = self._keys(adapter, model, subject, pks)
        self._invalidate(keys)
        if not keys or not adapter.in_transaction(model, subject):
            return
        dirty = self._dirty()
        for key in keys:
            dirty[key] = dirty.get(key, 0) + 1

        def ended() -> None:
            for key in keys:
                left = dirty.get(key, 0) - 1
                if left > 0:
                    dirty[key] = left
                else:
                    dirty.pop(key, None)
            self._invalidate(keys)

        adapter.defer(model, subject, ended, ended, robust=True)

    # -- reads --------------------------------------------------------------------------

    @hook("around:get", optional=True)
    def cached_get(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """A lookup by primary key: the cached values, else the database's (then cached)."""
        pk = adapter.lookup_pk(model, args, kwargs)
        if pk is None or not self._plain_view(model):
            return proceed()
        rows = cached_rows(adapter)
        alias = rows.read_alias(model, instance)
        key = self._key(adapter, model, alias, pk)
        if key in self._dirty():
            return proceed()  # this thread's transaction wrote the row: not committed yet
        entry, stamp = self._safely("read", lambda: self.backend.fetch(key), (MISS, None))
        values = self._values(adapter, model, entry, pk)
        mode = self.config.stampede
        if values is not None:
            if mode != "stale" or entry["fresh"] >= time.time():
                return rows.from_values(model, values, alias)
            if not self.loads.claim(key):
                return rows.from_values(model, values, alias)  # another caller reloads it
            lock = self._claim(key)
            if lock is None:  # another process reloads it
                self.loads.release(key)
                return rows.from_values(model, values, alias)
            return self._load(adapter, model, instance, pk, key, proceed, stamp, lock, claimed=True)
        if stamp is None or mode == "off":  # stamp None: the backend failed, nothing stored
            return self._load(adapter, model, instance, pk, key, proceed, stamp, None)
        if self.loads.claim(key):
            lock = self._claim(key)
            if lock is not None and lock is not True:
                found = stored_meanwhile(self, adapter, model, key, pk, lock)
                if found is not None:
                    return rows.from_values(model, found, alias)
            if lock is not None or not _may_block():
                return self._load(
                    adapter, model, instance, pk, key, proceed, stamp, lock, claimed=True
                )
            # Another process is reading this row: wait for its entry.
            self.loads.release(key)
            found = wait_elsewhere(self, adapter, model, key, pk)
            if found is not None:
                return rows.from_values(model, found, alias)
            return self._load(adapter, model, instance, pk, key, proceed, stamp, None)
        # Another caller here is reading this row: wait for it, then take what it stored
        # (not in an event loop's thread, which waiting would block: read instead).
        if _may_block() and self.loads.wait(key, self.config.wait_timeout):
            entry = self._safely("read", lambda: self.backend.get(key), MISS)
            values = self._values(adapter, model, entry, pk)
            if values is not None:
                return rows.from_values(model, values, alias)
        return proceed()

    def _values(self, adapter: Adapter, model: type, entry: Any, pk: Any) -> Any:
        """The field values of ``entry`` if it is one for row ``pk`` of ``model``; else None.

        ``None`` for a miss; for an entry that does not fit (logged once per
        model and reason), so the database is read and its row replaces it.
        """
        if entry is MISS:
            return None
        if isinstance(entry, Corrupt):
            reason = f"it cannot be decoded ({entry.reason})"
        elif (
            not isinstance(entry, dict)
            or not isinstance(entry.get("values"), dict)
            or type(entry.get("fresh")) not in (int, float)
        ):
            reason = "it is not an object with 'fresh' and 'values'"
        else:
            values = entry["values"]
            misfit = cached_rows(adapter).cache_misfit(model, values, pk)
            if misfit is None:
                return values
            reason = misfit
        label = adapter.model_label(model)
        if self._refused is None:
            self._refused = set()
        if (label, reason) not in self._refused:
            self._refused.add((label, reason))
            log.warning(
                "cache: ignoring an entry of %s that does not fit the model (%s); "
                "reading the database, whose row replaces it",
                label,
                reason,
            )
        return None

    def _claim(self, key: str) -> Any:
        """The cross-process claim on ``key`` (a token), ``None`` if another process holds it.

        A backend that cannot be asked lets this caller load (as with no guard).
        """
        return self._safely(
            "lock", lambda: self.backend.claim(key, self.config.wait_timeout), default=True
        )

    def _load(
        self,
        adapter: Adapter,
        model: type,
        subject: Any,
        pk: Any,
        key: str,
        proceed: Callable[..., Any],
        stamp: Any,
        lock: Any,
        *,
        claimed: bool = False,
    ) -> Any:
        began = time.monotonic()

        def store(result: Any) -> Any:
            # ``stamp`` None: nothing to compare with (the backend failed), so nothing
            # is stored; a read slower than a stamp may live would compare with nothing.
            if (
                result is not None
                and stamp is not None
                and time.monotonic() - began < STAMP_SECONDS / 2
            ):
                self._store(adapter, model, subject, pk, key, result, stamp)
            return result

        def release() -> None:
            if lock is not None and lock is not True:
                self._safely("unlock", lambda: self.backend.release(key, lock))
            if claimed:
                self.loads.release(key)

        # On an async model, store and release once the read has been awaited.
        return finally_(lambda: then(proceed(), store), release)

    def _store(
        self,
        adapter: Adapter,
        model: type,
        subject: Any,
        pk: Any,
        key: str,
        result: Any,
        stamp: Any,
    ) -> None:
        values = adapter.snapshot(result)
        if cached_rows(adapter).cache_misfit(model, values, pk) is not None:
            return  # a partial row (deferred fields): not what a get(pk) returns
        entry = {"fresh": time.time() + self.config.ttl, "values": values}
        stored = self._safely("write", lambda: self.backend.store(key, entry, stamp), False)
        if stored and adapter.in_transaction(model, subject):
            # Read inside a transaction: gone again if that transaction rolls back.
            forget = lambda: self._invalidate([key])  # noqa: E731
            adapter.defer(model, subject, None, forget)

    # -- writes -------------------------------------------------------------------------

    @hook("around:save|update|delete", optional=True)
    def invalidate_instance(
        self, instance: Any, model: type, proceed: Callable[..., Any], adapter: Adapter
    ) -> Any:
        """Forget the instance's entry after the write (its key read first: delete clears it)."""
        pk = adapter.pk(instance)
        return finally_(
            proceed, lambda: self._written(adapter, model, instance, {pk, adapter.pk(instance)})
        )

    @hook("around:save_many", optional=True)
    def invalidate_saved(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Forget the entries of a bulk insert's objects."""
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)
        subject = objs[0] if objs else instance
        return finally_(
            lambda: call_with(proceed, args, kwargs),
            lambda: self._written(adapter, model, subject, {adapter.pk(o) for o in objs}),
        )

    @hook("around:update_many|delete_many", optional=True)
    def invalidate_matched(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """Forget the entries of the rows a bulk update or delete matched."""
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        # The rows the tracking read before the write, on the write's state (shared).
        frame = write.frame
        if frame is not None:
            pks = [adapter.pk(rec.instance) for rec in frame.records]
        else:
            pks = adapter.pks(queryset)
        return finally_(proceed, lambda: self._written(adapter, model, queryset, pks))


def _may_block() -> bool:
    """Whether this thread may wait: not while it runs an asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def _shapes_reads(aspect: Aspect) -> bool:
    """Whether ``aspect`` changes what a read returns (advice on get/get_queryset, hidden rows)."""
    if callable(getattr(aspect.plugin, "visible_rows", None)):
        return True
    for spec in aspect.advices:
        target = spec.target
        if isinstance(target, Pointcut):
            if any(target.matches(name) for name in _READS):
                return True
        else:
            split = split_event(target)
            if split is not None and split[1] in _READS:
                return True
    return False
