"""``running_advice()`` and ``TraceRecord.call``: whose work a piece of code is, inside ``trace()``.

What the debug-toolbar panel builds on: work done in an advice is that
advice's; work in the original method (reached through ``proceed()``) is the
model's; a woven call an advice makes is the advice's work, down to its
original method.  Sync and async alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, plugin, trace, with_plugins
from earnorm_aop.weaving import weaver
from earnorm_aop.weaving.attribution import running_advice

seen: list[tuple[str, tuple[str, int] | None]] = []


def probe(where: str) -> None:
    seen.append((where, running_advice()))


@pytest.fixture
def models() -> Iterator[tuple[type, type]]:
    reg = PluginRegistry(group=None)

    @plugin("outer", priority=60, registry=reg)
    class Outer:
        def before_save(self, instance: Any) -> None:
            probe("before")

        def around_save(self, instance: Any, proceed: Any) -> Any:
            probe("around, before proceed")
            result = proceed()
            probe("around, after proceed")
            return result

        def after_save(self, instance: Any) -> None:
            instance.log.save()  # a woven call made by an advice

    @plugin("inner", priority=10, registry=reg)
    class Inner:
        def around_save(self, proceed: Any) -> Any:
            return proceed()

        async def around_asave(self, proceed: Any) -> Any:
            probe("async around")
            return await proceed()

    @with_plugins("inner", registry=reg)
    class Log:
        def save(self) -> None:
            probe("log original")

    @with_plugins("outer", "inner", registry=reg)
    class Doc:
        def __init__(self) -> None:
            self.log = Log()

        def save(self) -> None:
            probe("doc original")

        async def asave(self) -> None:
            probe("doc async original")

    seen.clear()
    try:
        yield Doc, Log
    finally:
        weaver.unweave(Doc)
        weaver.unweave(Log)


def test_each_piece_of_work_is_attributed_to_its_advice_or_the_model(
    models: tuple[type, type],
) -> None:
    Doc, _ = models
    with trace() as t:
        Doc().save()
    doc_calls = {r.call for r in t if r.model.endswith("Doc")}
    log_calls = {r.call for r in t if r.model.endswith("Log")}
    assert len(doc_calls) == len(log_calls) == 1 and doc_calls != log_calls
    (doc,) = doc_calls
    assert seen == [
        ("before", ("outer.before_save", doc)),
        ("around, before proceed", ("outer.around_save", doc)),
        ("doc original", None),  # through proceed(): the model's own work
        ("around, after proceed", ("outer.around_save", doc)),
        ("log original", ("outer.after_save", doc)),  # the advice's woven call is its work
    ]
    started = [r.started for r in t]
    assert all(s > 0 for s in started)


def test_async_advice_and_originals(models: tuple[type, type]) -> None:
    Doc, _ = models

    async def go() -> None:
        with trace() as t:
            await Doc().asave()
        (call,) = {r.call for r in t}
        assert seen == [
            ("async around", ("inner.around_asave", call)),
            ("doc async original", None),
        ]

    asyncio.run(go())


def test_outside_a_trace_nothing_is_attributed(models: tuple[type, type]) -> None:
    Doc, _ = models
    Doc().save()  # the generated dispatcher: no interpreted frame on the stack
    assert {who for _, who in seen} == {None}
    assert running_advice() is None
