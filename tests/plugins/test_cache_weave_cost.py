"""What a model woven with the cache keeps before it is used (issue 18, point 7).

Each model has its own cache plugin instance and backend (its own ``maxsize``),
but the in-process TTL cache is made by the backend's first write: many woven
models that are never read through the cache keep none.  The cache made then
has the configured size and lifetime, and every operation before it behaves
as on an empty cache.
"""

from __future__ import annotations

import pytest

from earnorm_aop.plugin_system.config import freeze
from earnorm_aop.plugin_system.registry import registry
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.plugins.cache_backends import MISS, MemoryBackend


def test_a_memory_backend_makes_its_cache_on_the_first_write() -> None:
    pytest.importorskip("cachetools")
    now = [0.0]
    backend = MemoryBackend(ttl=10.0, maxsize=2, timer=lambda: now[0])
    # Before any write: an empty cache to every reader, and nothing made.
    assert backend.get("a") is MISS
    assert backend.fetch("a") == (MISS, 0)
    backend.delete(["a"])  # an invalidation still counts (a read overlapping it must not store)
    backend.clear()
    assert len(backend) == 0 and list(backend._data) == []
    assert not hasattr(backend._data, "maxsize")  # no TTL cache yet
    assert not backend.store("a", 1, 0)  # stamped before the two invalidations: refused
    _, stamp = backend.fetch("a")
    assert backend.store("a", {"v": 1}, stamp)
    assert backend._data.maxsize == 2 and backend._data.ttl == 10.0
    assert backend.get("a") == {"v": 1}
    backend.set("b", 2)
    backend.set("c", 3)  # maxsize 2: the oldest goes
    assert len(backend) == 2 and backend.get("a") is MISS
    now[0] = 11.0  # its timer: past the ttl
    assert backend.get("b") is MISS


def test_models_configured_alike_keep_one_configuration_key() -> None:
    class First:
        pass

    class Second:
        pass

    one = registry.aspect_for("cache", First, {"ttl": 60})
    other = registry.aspect_for("cache", Second, {"ttl": 60})
    assert one.plugin is not other.plugin  # each model its own instance (its own maxsize)
    assert isinstance(one.plugin, CachePlugin) and isinstance(other.plugin, CachePlugin)
    assert one.plugin.backend is not other.plugin.backend
    assert freeze(one.plugin.config) is freeze(other.plugin.config)  # one interned string
