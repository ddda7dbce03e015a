"""Behaviour checks of the tenant plugin, on every backend of the conformance kit.

Each test runs once per backend (``--earnorm-backends`` chooses them); the
plugin is found by name through its entry point, so the distribution must be
installed (``pip install -e .[test]``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from earnorm_aop_tenant import NoTenantError, TenantError, all_tenants

from earnorm_aop import context, registry


def _tenants(backend: Any, Article: Any) -> dict[Any, Any]:
    return {pk: row["tenant_id"] for pk, row in backend.rows(Article).items()}


def test_the_plugin_is_found_by_name() -> None:
    assert registry.get_plugin("tenant").version == "0.1.0"


def test_creates_are_stamped_and_each_tenant_sees_only_its_rows(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("tenant")
    with context(tenant="acme"):
        a = earnorm_backend.create(Article, title="a")
    with context(tenant="globex"):
        b = earnorm_backend.create(Article, title="b")
        assert earnorm_backend.visible(Article) == [b.id]
        assert earnorm_backend.get(Article, b.id).title == "b"
        with pytest.raises((earnorm_backend.NotFound, LookupError)):
            earnorm_backend.get(Article, a.id)
    assert _tenants(earnorm_backend, Article) == {a.id: "acme", b.id: "globex"}
    with context(tenant="acme"):
        assert earnorm_backend.visible(Article) == [a.id]


def test_a_write_to_another_tenants_row_is_refused(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("tenant")
    with context(tenant="acme"):
        a = earnorm_backend.create(Article, title="a")
    with context(tenant="globex"):
        a.title = "stolen"
        with pytest.raises(TenantError, match="belongs to tenant 'acme'"):
            earnorm_backend.save(a)
        with pytest.raises(TenantError, match="cannot delete"):
            earnorm_backend.delete(a)
    with all_tenants():
        assert earnorm_backend.rows(Article)[a.id]["title"] == "a"


def test_bulk_writes_touch_only_the_tenants_rows(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("tenant")
    with context(tenant="acme"):
        a = earnorm_backend.create(Article, title="same")
    with context(tenant="globex"):
        b = earnorm_backend.create(Article, title="same")
        assert (
            earnorm_backend.bulk_update(earnorm_backend.query(Article, title="same"), views=5) == 1
        )
        assert earnorm_backend.bulk_delete(earnorm_backend.query(Article, title="same")) == 1
    rows = earnorm_backend.rows(Article)
    assert list(rows) == [a.id] and rows[a.id]["views"] == 0
    assert b.id not in rows


def test_no_tenant_is_refused_and_all_tenants_is_the_escape_hatch(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("tenant")
    with pytest.raises(NoTenantError, match="names no 'tenant'"):
        earnorm_backend.create(Article, title="nobody")
    with context(tenant="acme"):
        a = earnorm_backend.create(Article, title="a")
    with context(tenant="globex"):
        b = earnorm_backend.create(Article, title="b")
    with all_tenants():
        assert earnorm_backend.visible(Article) == sorted([a.id, b.id])
        assert earnorm_backend.get(Article, a.id).title == "a"


# Interleaving needs the backend from two threads or two tasks of one loop: the
# in-memory stores and a sync Session taking turns; Django's connections are per
# thread and refuse a running event loop, and the async backends run their own.
INTERLEAVED = ("memory", "pydantic", "sqlalchemy")


def test_two_tenants_in_two_threads_stay_apart(earnorm_backend: Any) -> None:
    if earnorm_backend.name not in INTERLEAVED:
        pytest.skip(f"{earnorm_backend.name}: one backend is not shared between threads")
    Article = earnorm_backend.model("tenant")
    turn = threading.Condition()
    order = ["acme", "globex"] * 3
    seen: dict[str, list[list[Any]]] = {"acme": [], "globex": []}
    errors: list[BaseException] = []

    def work(tenant: str) -> None:
        try:
            with context(tenant=tenant):
                for step in range(3):
                    with turn:  # acme, globex, acme, ...: each step in the other's middle
                        turn.wait_for(lambda: order and order[0] == tenant)
                        earnorm_backend.create(Article, title=f"{tenant}{step}")
                        seen[tenant].append(
                            sorted(o.title for o in earnorm_backend.queryset(Article))
                        )
                        order.pop(0)
                        turn.notify_all()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            with turn:
                order.clear()
                turn.notify_all()

    threads = [threading.Thread(target=work, args=(t,)) for t in ("acme", "globex")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for tenant in ("acme", "globex"):
        assert seen[tenant] == [[f"{tenant}{i}" for i in range(n + 1)] for n in range(3)]


def test_two_tenants_in_two_asyncio_tasks_stay_apart(earnorm_backend: Any) -> None:
    if earnorm_backend.name not in INTERLEAVED:
        pytest.skip(f"{earnorm_backend.name}: its calls cannot run inside a running event loop")
    Article = earnorm_backend.model("tenant")

    async def work(tenant: str) -> list[list[str]]:
        seen = []
        with context(tenant=tenant):
            for step in range(3):
                earnorm_backend.create(Article, title=f"{tenant}{step}")
                await asyncio.sleep(0)  # the other task runs here, in its own context
                seen.append(sorted(o.title for o in earnorm_backend.queryset(Article)))
        return seen

    async def both() -> list[list[list[str]]]:
        return list(await asyncio.gather(work("acme"), work("globex")))

    acme, globex = asyncio.run(both())
    assert acme == [[f"acme{i}" for i in range(n + 1)] for n in range(3)]
    assert globex == [[f"globex{i}" for i in range(n + 1)] for n in range(3)]
