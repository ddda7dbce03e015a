"""The ``cache`` built-in: get by primary key from a cache; every write invalidates."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import pytest
from _builtin_backends import RedisServer, free_port, redis_binary

from earnorm_aop import PluginConfigError, registry, with_plugins
from earnorm_aop.plugins import cache as cache_plugin_module
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.plugins.cache_backends import MemoryBackend
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.weaving import weaver


def plugin_of(model: type) -> CachePlugin:
    """The cache plugin instance woven on ``model`` (to reach its backend)."""
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == "cache"]
    assert isinstance(aspect.plugin, CachePlugin)
    return aspect.plugin


def selects(queries: list[str]) -> int:
    return sum(q.startswith("SELECT") for q in queries)


# -- the in-process backend (and behaviour common to every backend) ----------------------


def test_second_get_is_served_without_a_query(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    with backend.queries() as first:
        one = backend.get(Article, a.id)
    with backend.queries() as second:
        two = backend.get(Article, a.id)
    assert selects(first) == 1
    assert second == []
    assert one.title == two.title == "a" and two.id == a.id


def test_callers_get_copies_so_a_local_change_does_not_leak(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    one = backend.get(Article, a.id)
    one.title = "changed but not saved"
    two = backend.get(Article, a.id)
    if getattr(backend, "identity_map", False):  # SQLAlchemy: one object per row per session
        assert two is one
        return
    assert two is not one
    assert two.title == "a"


def test_save_invalidates(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    backend.get(Article, a.id)
    a.title = "b"
    a.save()
    with backend.queries() as queries:
        assert backend.get(Article, a.id).title == "b"
    assert selects(queries) == 1


def test_instance_update_invalidates(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    backend.get(Article, a.id)
    backend.update(a, title="b")
    assert backend.get(Article, a.id).title == "b"


def test_delete_invalidates(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    pk = a.id
    backend.get(Article, pk)
    a.delete()
    with pytest.raises(backend.NotFound):
        backend.get(Article, pk)


def test_bulk_update_invalidates_the_rows_it_matched(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="x")
    b = backend.create(Article, title="y")
    backend.get(Article, a.id)
    backend.get(Article, b.id)
    backend.bulk_update(backend.query(Article, title="x"), title="changed")
    assert backend.get(Article, a.id).title == "changed"
    with backend.queries() as queries:
        assert backend.get(Article, b.id).title == "y"
    assert queries == []  # the untouched row stays cached


def test_bulk_delete_invalidates_the_rows_it_matched(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="x")
    backend.get(Article, a.id)
    backend.bulk_delete(backend.query(Article, title="x"))
    with pytest.raises(backend.NotFound):
        backend.get(Article, a.id)


def test_bulk_create_invalidates_objects_with_known_keys(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="old")
    backend.get(Article, a.id)  # cached
    backend.raw_delete(Article, a.id)  # behind the plugins' back: the entry stays
    backend.bulk_create(Article, [backend.new(Article, id=a.id, title="new")])
    assert backend.get(Article, a.id).title == "new"


class Timer:
    """The memory backend's injectable timer: seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_live_for_ttl_seconds_of_the_backend_timer(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    timer = Timer()
    monkeypatch.setattr(
        cache_plugin_module, "MemoryBackend", functools.partial(MemoryBackend, timer=timer)
    )
    Article = backend.model("cache", cache={"ttl": 30})
    a = backend.create(Article)
    backend.get(Article, a.id)  # cached now
    timer.now += 29.5
    with backend.queries() as queries:
        backend.get(Article, a.id)
    assert queries == []  # a hit before expiry
    timer.now += 1
    with backend.queries() as queries:
        backend.get(Article, a.id)
    assert selects(queries) == 1  # expired after 30 seconds: read again


def test_two_models_never_answer_each_others_get(backend: Any) -> None:
    config = {"prefix": "same:"}
    First, Second = backend.model("cache", cache=config), backend.model("cache", cache=config)
    a = backend.create(First, title="first")
    b = backend.create(Second, title="second")
    assert a.id == b.id
    assert backend.get(First, a.id).title == "first"
    got = backend.get(Second, b.id)
    assert (type(got), got.title) == (Second, "second")


def test_a_save_invalidates_the_primary_key_it_assigns() -> None:
    """A key freed by a delete can come back (SQLite rowids, MySQL after a restart).

    The entry cached for the old row must not answer for the new one: the save
    that assigns the key invalidates it, as well as the key the object had before.
    """
    table: dict[int, dict[str, Any]] = {}

    @with_plugins("cache")
    class Reused:
        def __init__(self, title: str = "", id: int | None = None) -> None:
            self.id = id
            self.title = title

        def save(self) -> None:
            if self.id is None:
                self.id = max(table, default=0) + 1
            table[self.id] = {"id": self.id, "title": self.title}

        @classmethod
        def get(cls, pk: int) -> Reused:
            return cls(**table[pk])

    old = Reused("old")
    old.save()
    assert Reused.get(old.id).title == "old"  # type: ignore[arg-type]  # now cached
    del table[old.id]  # type: ignore[arg-type]  # deleted behind the plugin's back
    new = Reused("new")
    new.save()
    assert new.id == old.id
    assert Reused.get(new.id).title == "new"  # type: ignore[arg-type]


def test_a_soft_deleted_row_is_never_served_from_the_cache(backend: Any) -> None:
    Article = backend.model("softdelete", "cache")
    a = backend.create(Article, title="a")
    backend.get(Article, a.id)
    a.delete()
    with pytest.raises(backend.NotFound):
        backend.get(Article, a.id)
    with including_deleted():
        assert backend.get(Article, a.id).deleted_at is not None
    # the read that included hidden rows did not fill the cache
    with pytest.raises(backend.NotFound):
        backend.get(Article, a.id)


def test_a_failing_backend_is_logged_and_the_database_read(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    Article = backend.model("cache")
    a = backend.create(Article, title="a")
    cache = plugin_of(Article)

    def broken(*args: Any) -> Any:
        raise ConnectionError("cache is down")

    for method in ("get", "fetch", "set", "store", "delete", "claim", "release"):
        setattr(cache.backend, method, broken)
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.cache"):
        for _ in range(2):
            with backend.queries() as queries:
                assert backend.get(Article, a.id).title == "a"
            assert selects(queries) == 1
        a.title = "b"
        a.save()
    assert backend.rows(Article)[a.id]["title"] == "b"
    messages = [r.getMessage() for r in caplog.records]
    assert any("cache read failed" in m and "cache is down" in m for m in messages)
    assert any("cache invalidation failed" in m for m in messages)


def test_disabled_cache_reads_the_database_every_time(backend: Any) -> None:
    Article = backend.model("cache")
    a = backend.create(Article)
    backend.get(Article, a.id)
    with registry.disabled("cache"), backend.queries() as queries:
        backend.get(Article, a.id)
    assert selects(queries) == 1


def test_config_errors_and_schema(backend: Any) -> None:
    with pytest.raises(PluginConfigError, match="ttl"):
        backend.model("cache", cache={"ttl": 0})
    with pytest.raises(PluginConfigError, match="backend"):
        backend.model("cache", cache={"backend": "memcached"})
    props = registry.get_plugin("cache").config_schema["properties"]
    assert {"backend", "ttl", "prefix", "url", "timeout", "maxsize"} <= set(props)
    assert props["backend"]["default"] == "memory"


# -- Redis --------------------------------------------------------------------------------


def test_redis_serves_the_second_get_and_shares_entries(backend: Any, redis_url: str) -> None:
    Article = backend.model("cache", cache={"backend": "redis", "url": redis_url, "prefix": "t:"})
    a = backend.create(Article, title="a")
    with backend.queries() as first:
        backend.get(Article, a.id)
    with backend.queries() as second:
        hit = backend.get(Article, a.id)
    assert selects(first) == 1 and second == []
    assert hit.title == "a"
    # Another process sees the same entry: read it with a client of its own.
    import redis

    other = redis.Redis.from_url(redis_url)
    (key,) = other.keys("t:[^\x1f]*")
    assert key.decode().endswith(f":{a.id!r}")
    stored = json.loads(other.get(key))  # plain JSON, never pickle
    assert stored["values"]["title"] == "a"
    assert 0 < other.pttl(key) <= 300_000
    other.close()


def test_redis_writes_invalidate(backend: Any, redis_url: str) -> None:
    Article = backend.model("cache", cache={"backend": "redis", "url": redis_url, "prefix": "w:"})
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    client = plugin_of(Article).backend.client  # type: ignore[attr-defined]
    backend.get(Article, a.id)
    backend.get(Article, b.id)
    assert len(client.keys("w:[^\x1f]*")) == 2
    a.title = "a2"
    a.save()
    assert len(client.keys("w:[^\x1f]*")) == 1
    backend.bulk_update(backend.query(Article, title="b"), views=3)
    assert client.keys("w:[^\x1f]*") == []
    assert backend.get(Article, b.id).views == 3


def test_redis_entries_carry_the_ttl_and_hit_until_they_expire(
    backend: Any, redis_url: str
) -> None:
    Article = backend.model("cache", cache={"backend": "redis", "url": redis_url, "ttl": 30})
    a = backend.create(Article)
    backend.get(Article, a.id)
    client = plugin_of(Article).backend.client  # type: ignore[attr-defined]
    (key,) = client.keys("earnorm:[^\x1f]*")
    assert 25_000 < client.pttl(key) <= 30_000  # Redis expires it after ttl seconds
    with backend.queries() as queries:
        backend.get(Article, a.id)
    assert queries == []  # a hit before expiry
    client.pexpireat(key, 1)  # Redis's own expiry, at a time already past: no sleeping
    with backend.queries() as queries:
        backend.get(Article, a.id)
    assert selects(queries) == 1


def test_two_models_on_one_redis_never_answer_each_others_get(backend: Any, redis_url: str) -> None:
    config = {"backend": "redis", "url": redis_url, "prefix": "shared:"}
    First, Second = backend.model("cache", cache=config), backend.model("cache", cache=config)
    a = backend.create(First, title="first")
    b = backend.create(Second, title="second")
    assert a.id == b.id  # the same primary key in two tables
    assert backend.get(First, a.id).title == "first"  # cached in the shared Redis
    with backend.queries() as queries:
        got = backend.get(Second, b.id)
    assert (type(got), got.title) == (Second, "second")
    assert selects(queries) == 1
    assert len(plugin_of(First).backend.client.keys("shared:[^\x1f]*")) == 2  # type: ignore[attr-defined]


def test_redis_unreachable_never_fails_an_operation(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    Article = backend.model("cache", cache={"backend": "redis", "url": url, "timeout": 0.2})
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.cache"):
        a = backend.create(Article, title="a")
        for _ in range(2):
            with backend.queries() as queries:
                assert backend.get(Article, a.id).title == "a"
            assert selects(queries) == 1
        a.delete()
    assert backend.rows(Article) == {}
    assert any("redis backend" in r.getMessage() for r in caplog.records)


def test_redis_going_down_mid_way_falls_back_to_the_database(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(redis_binary())
    try:
        Article = backend.model(
            "cache", cache={"backend": "redis", "url": server.url, "timeout": 0.2}
        )
        a = backend.create(Article, title="a")
        backend.get(Article, a.id)
        with backend.queries() as queries:
            backend.get(Article, a.id)
        assert queries == []  # served by Redis while it is up
    finally:
        server.stop()
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.cache"):
        with backend.queries() as queries:
            assert backend.get(Article, a.id).title == "a"
        a.title = "b"
        a.save()
    assert selects(queries) == 1
    assert backend.rows(Article)[a.id]["title"] == "b"
    assert any("cache read failed" in r.getMessage() for r in caplog.records)


def test_without_redis_server_the_tests_skip_except_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import _builtin_backends

    monkeypatch.setattr(_builtin_backends.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        redis_binary()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        redis_binary()
