"""The ``cache`` plugin: ``get`` by primary key is served from a cache after the first read.

Only lookups by primary key are cached (the adapter says which ``get`` calls
are); every write path invalidates what it touched: ``save``, ``update`` and
``delete`` the instance's key, ``save_many`` the keys of its objects,
``update_many`` and ``delete_many`` the keys of the rows their queryset
matched (read just before the write, one extra query).  Invalidation happens
after the write, even when it fails, so a reader cannot re-cache the old row
in between.

The cache never fails an operation: a backend error (Redis down, a value that
cannot be pickled) is logged on the ``earnorm_aop.cache`` logger and the
database is read (or the write goes on).  Entries cached before an outage may
be stale until their ``ttl`` if writes happened while Redis was unreachable.
Reads inside ``softdelete.including_deleted()`` bypass the cache, so a hidden
row never reaches a cache key that normal reads use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..integrations.base import Adapter, adapter_for
from ..plugin_spec import hook
from ._common import call_with, finally_, is_unfiltered, then
from .cache_backends import MISS, CacheBackend, MemoryBackend, RedisBackend

__all__ = ["CachePlugin"]

log = logging.getLogger("earnorm_aop.cache")


class CachePlugin:
    """Serve ``get(pk)`` from a TTL cache (in-process or Redis); writes invalidate."""

    name = "cache"
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
            "earnorm:", description="Prefix of every key: 'PREFIX' + model label + ':' + key."
        )
        maxsize: int = Field(10_000, gt=0, description="memory: most entries kept (LRU beyond).")
        url: str = Field(
            "redis://127.0.0.1:6379/0", description="redis: the server's URL (redis://...)."
        )
        timeout: float = Field(
            0.5, gt=0, description="redis: seconds to wait for the server before reading the DB."
        )

    config: Config

    def __init__(self) -> None:
        cfg = self.config
        self.backend: CacheBackend
        if cfg.backend == "redis":
            self.backend = RedisBackend(
                url=cfg.url, ttl=cfg.ttl, prefix=cfg.prefix, timeout=cfg.timeout
            )
        else:
            self.backend = MemoryBackend(ttl=cfg.ttl, maxsize=cfg.maxsize)

    def _key(self, adapter: Adapter, model: type, pk: Any) -> str:
        return f"{self.config.prefix}{adapter.model_label(model)}:{pk!r}"

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

    def _invalidate(self, adapter: Adapter, model: type, pks: Iterable[Any]) -> None:
        keys = [self._key(adapter, model, pk) for pk in pks if pk is not None]
        if keys:
            self._safely("invalidation", lambda: self.backend.delete(keys))

    # -- reads ------------------------------------------------------------------------

    @hook("around:get", optional=True)
    def cached_get(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        """A lookup by primary key: the cached instance, else the database's (then cached)."""
        adapter = adapter_for(model)
        pk = adapter.lookup_pk(model, args, kwargs)
        if pk is None or is_unfiltered():
            return proceed()
        key = self._key(adapter, model, pk)
        hit = self._safely("read", lambda: self.backend.get(key), MISS)
        if hit is not MISS:
            adapter.remember_state(hit)  # a cache hit is a load (audit diffs against it)
            return hit

        def store(result: Any) -> Any:
            self._safely("write", lambda: self.backend.set(key, result))
            return result

        return then(proceed(), store)

    # -- writes -----------------------------------------------------------------------

    @hook("around:save|update|delete", optional=True)
    def invalidate_instance(self, instance: Any, model: type, proceed: Callable[..., Any]) -> Any:
        """Forget the instance's entry after the write (its key read first: delete clears it)."""
        adapter = adapter_for(model)
        pk = adapter.pk(instance)
        return finally_(
            proceed, lambda: self._invalidate(adapter, model, {pk, adapter.pk(instance)})
        )

    @hook("around:save_many", optional=True)
    def invalidate_saved(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        """Forget the entries of a bulk insert's objects."""
        adapter = adapter_for(model)
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)
        return finally_(
            lambda: call_with(proceed, args, kwargs),
            lambda: self._invalidate(adapter, model, {adapter.pk(o) for o in objs}),
        )

    @hook("around:update_many|delete_many", optional=True)
    def invalidate_matched(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        """Forget the entries of the rows a bulk update or delete matched."""
        adapter = adapter_for(model)
        pks = adapter.pks(adapter.bulk_queryset(instance, args, kwargs))
        return finally_(proceed, lambda: self._invalidate(adapter, model, pks))
