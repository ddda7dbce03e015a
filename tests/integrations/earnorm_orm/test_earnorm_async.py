"""Async all the way: sync and async advice on EarnORM's async methods, task-local switches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from _earnorm_helpers import run, stored, unique
from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginModel, PluginRegistry, plugin, trace
from earnorm_aop.weaving import weaver

FIXED = datetime(2020, 5, 17, 12, 0, tzinfo=UTC)


def test_the_page_timestamp_plugin_and_an_async_before_save_on_async_methods(
    reg: PluginRegistry, mongo: Any
) -> None:
    seen: list[dict[str, Any]] = []

    @plugin("timestamp", registry=reg)
    class TimestampPlugin:  # as the plugin page writes it (a fixed clock to tell it apart)
        def before_save(self, instance: Any) -> None:
            instance.updated_at = FIXED
            if not instance.id:
                instance.created_at = FIXED

    @plugin("checked", registry=reg)
    class Checked:
        async def before_save(self, instance: Any, values: dict[str, Any]) -> Any:
            await asyncio.sleep(0)
            seen.append({"id": instance.id, **values})
            if values.get("title") == "veto":
                return False
            values["checked"] = True
            if instance.id:  # a write: the values may change before they are written
                values["title"] = values["title"].upper()
            return None

    class User(PluginModel, BaseModel):
        _name = unique("user")
        title = fields.StringField()
        checked = fields.BooleanField()

        class Meta:
            plugins = ["timestamp", "checked"]  # noqa: RUF012
            registry = reg

    async def scenario() -> None:
        user = await User.create({"title": "a"})
        (doc,) = await stored(mongo, User)
        assert doc["created_at"] == doc["updated_at"] == FIXED.isoformat()
        assert doc["checked"] is True
        assert seen[0]["id"] == "" and seen[0]["title"] == "a"  # the values being created
        assert seen[0]["updated_at"] == FIXED  # set by the sync advice before the async one
        await user.write({"title": "b"})
        assert seen[1]["id"] == user.id and seen[1]["title"] == "b"
        (doc,) = await stored(mongo, User)
        assert doc["title"] == "B" and doc["created_at"] == FIXED.isoformat()
        vetoed = await User.create({"title": "veto"})
        assert vetoed.id == ""
        assert [d["title"] for d in await stored(mongo, User)] == ["B"]

    run(scenario())


def test_disabled_and_trace_stay_local_to_each_of_100_concurrent_tasks(
    reg: PluginRegistry, mongo: Any
) -> None:
    @plugin("first", registry=reg)
    class First:
        async def before_save(self, values: dict[str, Any]) -> None:
            await asyncio.sleep(0)  # let the other tasks run in between
            values["first"] = True

    @plugin("second", registry=reg)
    class Second:
        def before_save(self, values: dict[str, Any]) -> None:
            values["second"] = True

        async def after_save(self, instance: Any) -> None:
            await asyncio.sleep(0)

    class Job(PluginModel, BaseModel):
        _name = unique("job")
        n = fields.IntegerField()
        first = fields.BooleanField()
        second = fields.BooleanField()

        class Meta:
            plugins = ["first", "second"]  # noqa: RUF012
            registry = reg

    async def task(n: int) -> tuple[int, set[str], str]:
        with trace() as t:
            if n % 2:
                with reg.disabled("second"):
                    await asyncio.sleep(0)
                    job = await Job.create({"n": n})
            else:
                await asyncio.sleep(0)
                job = await Job.create({"n": n})
        return n, {r.plugin for r in t}, job.id

    async def scenario() -> list[tuple[int, set[str], str]]:
        return await asyncio.gather(*(task(n) for n in range(100)))

    results = run(scenario())
    assert weaver.mode.tracing == 0
    for n, plugins, _ in results:
        assert plugins == ({"first"} if n % 2 else {"first", "second"}), n

    async def documents() -> list[dict[str, Any]]:
        return await stored(mongo, Job)

    docs = {d["n"]: d for d in run(documents())}
    assert len(docs) == 100
    for n, doc in docs.items():
        assert doc["first"] is True
        assert doc.get("second") is (None if n % 2 else True), n
