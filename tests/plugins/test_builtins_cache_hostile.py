"""The ``cache`` plugin against a hostile store and racing processes (issue 19).

An entry is used only if it fits the model (every field by name, no other,
the key's primary key); anything else is a miss, logged once, replaced by the
database row.  A read stores what it read only if its key was not invalidated
meanwhile (the stamp), and on Redis one process loads a missing row while the
others wait for its entry (the lock).
"""

from __future__ import annotations

import enum
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _builtin_backends import RedisServer

from earnorm_aop import with_plugins
from earnorm_aop.adapters.base import adapter_for
from earnorm_aop.plugins import cache_codec
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.plugins.cache_backends import MISS, Corrupt, MemoryBackend, RedisBackend
from earnorm_aop.weaving import weaver


def plugin_of(model: type) -> CachePlugin:
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == "cache"]
    assert isinstance(aspect.plugin, CachePlugin)
    return aspect.plugin


def selects(queries: list[str]) -> int:
    return sum(q.startswith("SELECT") for q in queries)


def entry_key(model: type, pk: Any) -> str:
    """The key the plugin keeps row ``pk`` under (read from its backend after a get)."""
    cache = plugin_of(model)
    backend = cache.backend
    if isinstance(backend, MemoryBackend):
        keys = [k for k in backend._data if k.endswith(f":{pk!r}")]
    else:
        assert isinstance(backend, RedisBackend)
        keys = [
            k.decode()
            for k in backend.client.keys(f"{backend._prefix}[^\x1f]*")
            if k.decode().endswith(f":{pk!r}")
        ]
    (key,) = keys
    return key


def put(model: type, key: str, entry: Any) -> None:
    """Write ``entry`` under ``key`` as someone else could: raw, unchecked."""
    backend = plugin_of(model).backend
    if isinstance(backend, MemoryBackend):
        backend.set(key, entry)
    else:
        assert isinstance(backend, RedisBackend)
        backend.client.set(key, json.dumps(entry))


# What someone with write access to the cache could leave under row 1's key.
CRAFTED: dict[str, Callable[[dict[str, Any], int], Any]] = {
    "no fields": lambda values, other: {"fresh": 1e12, "values": {}},
    "no values": lambda values, other: {"fresh": 1e12},
    "another row's primary key": lambda values, other: {
        "fresh": 1e12,
        "values": {**values, "id": other},
    },
    "an unknown column": lambda values, other: {
        "fresh": 1e12,
        "values": {**values, "nosuch": 1},
    },
    "a field missing": lambda values, other: {
        "fresh": 1e12,
        "values": {k: v for k, v in values.items() if k != "title"},
    },
    "values not an object": lambda values, other: {"fresh": 1e12, "values": [1, 2]},
    "not an object": lambda values, other: [values],
    "fresh not a number": lambda values, other: {"fresh": "later", "values": values},
}


@pytest.mark.parametrize("where", ["memory", "redis"])
@pytest.mark.parametrize("craft", sorted(CRAFTED))
def test_an_entry_that_does_not_fit_is_a_miss_logged_once_and_replaced(
    backend: Any, redis_url: str, where: str, craft: str, caplog: pytest.LogCaptureFixture
) -> None:
    if craft == "an unknown column" and backend.name == "memory":  # plain classes
        pytest.skip("a plain class's public attributes are its fields: none is unknown")
    config = {"backend": "redis", "url": redis_url, "prefix": f"c{where}{craft}:"}
    Article = backend.model("cache", cache=config if where == "redis" else {})
    a = backend.create(Article, title="t", views=3)
    b = backend.create(Article, title="u", views=4)
    backend.get(Article, a.id)
    key = entry_key(Article, a.id)
    values = {"id": a.id, "title": "t", "views": 3}
    if where == "redis":
        values = json.loads(plugin_of(Article).backend.client.get(key))["values"]  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.cache"):
        for _ in range(2):  # the second time: not logged again
            put(Article, key, CRAFTED[craft](dict(values), b.id))
            with backend.queries() as queries:
                got = backend.get(Article, a.id)
            assert (got.id, got.title, got.views) == (a.id, "t", 3)
            assert selects(queries) == 1  # the database row ...
            with backend.queries() as queries:
                again = backend.get(Article, a.id)
            assert queries == []  # ... replaced the entry
            assert (again.id, again.title, again.views) == (a.id, "t", 3)
    warnings = [r.getMessage() for r in caplog.records if "does not fit" in r.getMessage()]
    assert len(warnings) == 1, warnings


def test_fields_stored_in_another_order_are_read_by_name(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="t", views=3)
    backend.get(Article, a.id)
    key = entry_key(Article, a.id)
    entry = plugin_of(Article).backend.get(key)
    put(Article, key, {**entry, "values": dict(reversed(list(entry["values"].items())))})
    with backend.queries() as queries:
        got = backend.get(Article, a.id)
    assert queries == []  # a hit ...
    assert (got.id, got.title, got.views) == (a.id, "t", 3)  # ... by name, not by position


def test_an_entry_redis_cannot_decode_is_a_miss_too(
    backend: Any, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    Article = backend.model("cache", cache={"backend": "redis", "url": redis_url, "prefix": "d:"})
    a = backend.create(Article, title="t")
    backend.get(Article, a.id)
    key = entry_key(Article, a.id)
    client = plugin_of(Article).backend.client  # type: ignore[attr-defined]
    for bad in (b"\xff not utf-8", b"{not json", b'{"fresh": 1, "values": {"x": {"$": "nope"}}}'):
        client.set(key, bad)
        with caplog.at_level(logging.WARNING, logger="earnorm_aop.cache"):
            assert backend.get(Article, a.id).title == "t"
        assert json.loads(client.get(key))["values"]["title"] == "t"  # replaced
    assert "cannot be decoded" in caplog.text


# -- a read racing with another process's write -----------------------------------------


class Race:
    """The racing model's table and what runs in the middle of its read."""

    table: dict[int, str]
    during_read: Callable[[], None] | None = None


def racing_model(config: dict[str, Any]) -> Any:
    """A plain model whose ``get`` reads the row, then lets ``during_read`` run (a commit)."""
    race = Race()
    race.table = {1: "old"}

    class Row:
        id: int
        title: str

        @classmethod
        def get(cls, pk: int) -> Any:
            row = cls.__new__(cls)
            row.id, row.title = pk, race.table[pk]  # the row as read
            if race.during_read is not None:
                race.during_read()  # another process commits a write and invalidates now
            return row

    Row.race = race  # type: ignore[attr-defined]
    return with_plugins("cache", cache=config)(Row)


@pytest.mark.parametrize("where", ["memory", "redis"])
def test_a_read_that_began_before_a_write_was_invalidated_is_not_stored(
    redis_url: str, where: str
) -> None:
    config = {"backend": "redis", "url": redis_url, "prefix": "race:"} if where == "redis" else {}
    Row: Any = racing_model(config)
    cache = plugin_of(Row)
    key = cache._key(adapter_for(Row), Row, None, 1)
    # The other process: its own backend on the same store (Redis), or this one (memory).
    other = (
        RedisBackend(url=redis_url, ttl=60, prefix="race:", timeout=1)
        if where == "redis"
        else cache.backend
    )

    def commit_elsewhere() -> None:
        Row.race.table[1] = "new"
        other.delete([key])  # the write's invalidation at commit

    Row.race.during_read = commit_elsewhere
    try:
        assert Row.get(1).title == "old"  # read before the commit
    finally:
        Row.race.during_read = None
    assert cache.backend.get(key) is MISS  # ... so not stored after it
    assert Row.get(1).title == "new"
    assert cache.backend.get(key)["values"]["title"] == "new"
    assert Row.get(1).title == "new"  # a hit now
    weaver.unweave(Row)


def test_one_process_loads_a_missing_row_the_others_wait_for_its_entry(redis_url: str) -> None:
    Row: Any = racing_model({"backend": "redis", "url": redis_url, "prefix": "lock:"})
    cache = plugin_of(Row)
    key = cache._key(adapter_for(Row), Row, None, 1)
    loader = RedisBackend(url=redis_url, ttl=60, prefix="lock:", timeout=1)  # another process
    reads: list[int] = []
    Row.race.during_read = lambda: reads.append(1)
    token = loader.claim(key, 30)
    assert token is not None and loader.claim(key, 30) is None  # held
    found: list[Any] = []
    waiter = threading.Thread(target=lambda: found.append(Row.get(1)))
    waiter.start()
    _, stamp = loader.fetch(key)
    assert loader.store(key, {"fresh": 1e12, "values": {"id": 1, "title": "loaded"}}, stamp)
    loader.release(key, token)
    waiter.join(30)
    assert [row.title for row in found] == ["loaded"] and reads == []  # its entry, no read
    # A loader that is gone without storing: the waiter reads the row itself.
    loader.delete([key])
    token = loader.claim(key, 30)
    waiter = threading.Thread(target=lambda: found.append(Row.get(1)))
    waiter.start()
    loader.release(key, token)
    waiter.join(30)
    assert found[-1].title == "old" and reads == [1]
    weaver.unweave(Row)


@pytest.mark.parametrize(
    ("look", "looks"),
    [("fetch", 1), ("get", 2)],
    ids=["between-the-look-and-the-claim", "while-it-waits"],
)
def test_a_loader_that_stores_and_lets_go_meanwhile_is_not_taken_for_gone(
    redis_url: str, look: str, looks: int
) -> None:
    """The caller looks (a miss) while another process loads; that loader stores and lets go
    right after the caller's first look -- its first ``fetch`` (so the caller's own claim then
    succeeds) or, waiting for the loader, its first ``get``. Either way the caller takes the
    entry and does not read the row."""
    prefix = f"gap-{look}:"
    Row: Any = racing_model({"backend": "redis", "url": redis_url, "prefix": prefix})
    cache = plugin_of(Row)
    key = cache._key(adapter_for(Row), Row, None, 1)
    loader = RedisBackend(url=redis_url, ttl=60, prefix=prefix, timeout=1)  # another process
    reads: list[int] = []
    Row.race.during_read = lambda: reads.append(1)
    token = loader.claim(key, 30)
    assert token is not None
    waiting = cache.backend
    seen: list[Any] = []

    def finish() -> None:
        _, stamp = loader.fetch(key)
        assert loader.store(key, {"fresh": 1e12, "values": {"id": 1, "title": "new"}}, stamp)
        loader.release(key, token)

    class Interleaved:
        """The caller's backend, the loader finishing right after the caller's first look."""

        def __getattr__(self, name: str) -> Any:
            action = getattr(waiting, name)
            if name != look:
                return action

            def looked(wanted: str) -> Any:
                result = action(wanted)
                if wanted == key:
                    seen.append(result[0] if look == "fetch" else result)
                    if len(seen) == 1:
                        finish()
                return result

            return looked

    cache.backend = Interleaved()
    try:
        row = Row.get(1)
    finally:
        cache.backend = waiting
    assert seen[0] is MISS and len(seen) == looks
    assert row.title == "new" and reads == []
    assert loader.claim(key, 30) is not None  # the caller let its claims go
    weaver.unweave(Row)


# -- the backends -------------------------------------------------------------------------


def test_redis_stamps_locks_and_clear(redis_url: str) -> None:
    one = RedisBackend(url=redis_url, ttl=60, prefix="unit:", timeout=1)
    two = RedisBackend(url=redis_url, ttl=60, prefix="unit:", timeout=1)
    entry = {"fresh": 1.0, "values": {"id": 1}}
    assert one.fetch("unit:k") == (MISS, b"")
    assert one.store("unit:k", entry, b"")  # no stamp yet, none now: stored
    _, before = one.fetch("unit:k")
    two.delete(["unit:k"])
    assert one.get("unit:k") is MISS
    assert not one.store("unit:k", entry, before)  # invalidated since
    value, after = one.fetch("unit:k")
    assert value is MISS and after != before
    assert one.store("unit:k", entry, after)
    assert two.get("unit:k") == entry
    token = one.claim("unit:k", 30)
    two.release("unit:k", "not the holder's")
    assert two.claim("unit:k", 30) is None  # still held
    one.release("unit:k", token)
    assert two.claim("unit:k", 30) is not None
    one.delete([])  # nothing to do
    one.client.set("unit:bad", b"[1]")
    assert isinstance(one.get("unit:bad"), Corrupt)
    one.clear()
    assert one.client.keys("unit:*") == []


def test_memory_stamps_count_invalidations_and_claims_are_in_process() -> None:
    memory = MemoryBackend(ttl=60, maxsize=10)
    entry = {"fresh": 1.0, "values": {"id": 1}}
    _, stamp = memory.fetch("k")
    memory.delete(["other"])
    assert not memory.store("k", entry, stamp)  # any invalidation in this process
    _, stamp = memory.fetch("k")
    assert memory.store("k", entry, stamp) and len(memory) == 1
    assert memory.claim("k", 1) is True
    memory.release("k", True)
    _, stamp = memory.fetch("k")
    memory.clear()
    assert len(memory) == 0 and not memory.store("k", entry, stamp)


def test_a_redis_that_restarts_loses_the_store_script_and_it_is_loaded_again() -> None:
    from _builtin_backends import redis_binary

    binary = redis_binary()
    server = RedisServer(binary)
    try:
        backend = RedisBackend(url=server.url, ttl=60, prefix="s:", timeout=1)
        assert backend.store("s:k", {"fresh": 1.0, "values": {}}, b"")
        server.stop()
        server = RedisServer(binary, port=server.port)  # empty: no scripts
        assert backend.store("s:k", {"fresh": 1.0, "values": {}}, b"")
        assert backend.get("s:k") == {"fresh": 1.0, "values": {}}
    finally:
        server.stop()


# -- the codec ----------------------------------------------------------------------------


class Level(enum.IntEnum):
    LOW = 1


def test_the_codec_refuses_subclasses_and_non_text_keys_rather_than_flatten_them() -> None:
    from django.utils.safestring import SafeString

    for value in (Level.LOW, SafeString("<b>"), {1: "x"}, {"a": {2: "y"}}, True.__class__):
        with pytest.raises(TypeError):
            cache_codec.dumps({"fresh": 0, "values": {"f": value}})
    assert cache_codec.loads(cache_codec.dumps({"fresh": 0, "values": {"f": 1}}))["values"] == {
        "f": 1
    }
    with pytest.raises(ValueError):
        cache_codec.loads(b'{"fresh": 0}')
