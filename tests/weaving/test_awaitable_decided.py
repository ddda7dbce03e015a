"""Whether a sync advice's result may be awaitable is decided at weave time (issue 18, point 6).

On an async target, the result of a sync ``before`` / ``after`` / ``error``
advice is tested with ``inspect.isawaitable`` only when its return annotation
leaves room for an awaitable; an advice annotated ``-> None`` / ``-> bool |
None`` pays no test per call, in the generated dispatcher and in the
interpreted one (``trace()``) alike.  Pinned by counting calls, never by timing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Optional

import pytest
from _calls import calls

from earnorm_aop import PluginRegistry, hook, plugin, trace, unweave, with_plugins
from earnorm_aop.weaving.advice import may_return_awaitable
from earnorm_aop.weaving.weaver import describe


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the call awaited something real")


def traced(operation: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with trace():
            return operation()

    return run


@pytest.mark.parametrize("interpreted", [False, True], ids=["generated", "interpreted"])
def test_a_plain_sync_advice_on_an_async_method_is_not_tested_per_call(interpreted: bool) -> None:
    registry = PluginRegistry()
    seen: list[Any] = []

    @plugin("watch", registry=registry)
    class Watch:
        @hook("before:save")
        def check(self, instance: Any, x: int) -> None:
            seen.append(x)

        @hook("after:save")
        def done(self, result: int) -> bool | None:
            seen.append(result)
            return None

    @with_plugins("watch", registry=registry)
    class Note:
        async def save(self, x: int) -> int:
            return x + 1

    note = Note()
    operation = lambda: drive(note.save(1))  # noqa: E731
    counted = calls(traced(operation) if interpreted else operation)
    assert counted["inspect:isawaitable"] == 0, counted
    assert seen == [1, 2]
    unweave(Note)


@pytest.mark.parametrize("interpreted", [False, True], ids=["generated", "interpreted"])
def test_an_advice_that_may_hand_back_an_awaitable_is_still_awaited(interpreted: bool) -> None:
    registry = PluginRegistry()
    seen: list[Any] = []

    async def later(x: int) -> None:
        seen.append(("awaited", x))

    @plugin("writer", registry=registry)
    class Writer:
        @hook("before:save")
        def write(self, instance: Any, x: int) -> Any:  # an async ORM's write, say
            return later(x)

        @hook("after:save")
        def unannotated(self, result: int):  # type: ignore[no-untyped-def]
            return later(result)

    @with_plugins("writer", registry=registry)
    class Note:
        async def save(self, x: int) -> int:
            return x + 1

    note = Note()
    operation = lambda: drive(note.save(3))  # noqa: E731
    counted = calls(traced(operation) if interpreted else operation)
    assert counted["inspect:isawaitable"] == 2, counted
    assert seen == [("awaited", 3), ("awaited", 4)]
    unweave(Note)


def test_the_decision_is_part_of_the_chain_shape() -> None:
    """Two chains differing only in the annotation never share generated code."""
    registry = PluginRegistry()

    @plugin("plain", registry=registry)
    class Plain:
        @hook("before:save")
        def check(self, instance: Any) -> None: ...

    @plugin("loose", registry=registry)
    class Loose:
        @hook("before:save")
        def check(self, instance: Any) -> Any: ...

    @with_plugins("plain", registry=registry)
    class A:
        async def save(self) -> None: ...

    @with_plugins("loose", registry=registry)
    class B:
        async def save(self) -> None: ...

    ((a,),) = (chain.advice for chain in describe(A))
    ((b,),) = (chain.advice for chain in describe(B))
    assert (a.may_await, b.may_await) == (False, True)
    code_a = vars(A)["save"]._self_wrapper.__code__
    assert code_a is not vars(B)["save"]._self_wrapper.__code__
    for klass in (A, B):
        unweave(klass)


def test_a_sync_target_never_awaits_and_an_around_advice_always_may() -> None:
    registry = PluginRegistry()

    @plugin("both", registry=registry)
    class Both:
        @hook("before:save")
        def check(self, instance: Any) -> Any: ...

        @hook("around:save")
        def wrap(self, proceed: Callable[[], Any]) -> None:
            return proceed()  # type: ignore[no-any-return]  # the annotation is what is read

    @with_plugins("both", registry=registry)
    class Sync:
        def save(self) -> None: ...

    @with_plugins("both", registry=registry)
    class Async:
        async def save(self) -> None: ...

    (sync,) = describe(Sync)
    (asynchronous,) = describe(Async)
    assert [a.may_await for a in sync.advice] == [False, False]
    assert [a.may_await for a in asynchronous.advice] == [True, True]
    for klass in (Sync, Async):
        unweave(klass)


def _none() -> None: ...
def _flag() -> bool | None: ...
def _optional() -> Optional[bool]: ...  # noqa: UP045 - the older spelling is read too
def _bool() -> bool:
    return True


def _any() -> Any: ...
def _int_or_none() -> int | None: ...
def _bare():  # type: ignore[no-untyped-def]
    ...


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (_none, False),
        (_flag, False),
        (_optional, False),
        (_bool, False),
        (_any, True),
        (_int_or_none, True),
        (_bare, True),
        (print, True),  # no annotations to read
    ],
)
def test_the_return_annotation_decides(func: Any, expected: bool) -> None:
    assert may_return_awaitable(func) is expected


def test_evaluated_annotations_are_read_too() -> None:
    def typed() -> None: ...

    typed.__annotations__["return"] = Optional[bool]  # noqa: UP045
    assert may_return_awaitable(typed) is False
    typed.__annotations__["return"] = bool | None
    assert may_return_awaitable(typed) is False
    typed.__annotations__["return"] = None
    assert may_return_awaitable(typed) is False
    typed.__annotations__["return"] = int | None
    assert may_return_awaitable(typed) is True
