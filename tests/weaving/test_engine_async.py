"""Async targets get async dispatch; their advice may be sync or async."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from earnorm_aop import Aspect, ProceedError, Recover
from earnorm_aop.weaving import weaver


class AsyncModel:
    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = [] if log is None else log

    async def save(self, x: int = 1) -> int:
        await asyncio.sleep(0)
        self.log.append(("save", x))
        if x < 0:
            raise ValueError(f"negative {x}")
        return x

    @classmethod
    async def make(cls, value: int) -> tuple[type, int]:
        await asyncio.sleep(0)
        return cls, value

    @staticmethod
    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2


@pytest.fixture
def model(dispatch: str) -> Any:
    class M(AsyncModel):
        pass

    yield M
    weaver.unweave(M)


def all_kinds(name: str, log: list[Any], *, use_async: bool) -> Aspect:
    """One advice of every kind, sync or async, logging ``(name, kind)``."""
    if use_async:

        async def before(x: int) -> None:
            await asyncio.sleep(0)
            log.append((name, "before", x))

        async def around(proceed: Any) -> Any:
            log.append((name, "around>"))
            result = await proceed()
            log.append((name, "<around"))
            return result

        async def chain(value: int) -> int:
            await asyncio.sleep(0)
            log.append((name, "chain"))
            return value * 10

        async def after(result: int) -> None:
            await asyncio.sleep(0)
            log.append((name, "after", result))

        async def error(error: BaseException) -> Any:
            await asyncio.sleep(0)
            log.append((name, "error", str(error)))
            return Recover(-100)

    else:

        def before(x: int) -> None:
            log.append((name, "before", x))

        def around(proceed: Any) -> Any:
            log.append((name, "around>"))
            return proceed()  # a coroutine: the dispatcher awaits it

        def chain(value: int) -> int:
            log.append((name, "chain"))
            return value * 10

        def after(result: int) -> None:
            log.append((name, "after", result))

        def error(error: BaseException) -> Any:
            log.append((name, "error", str(error)))
            return Recover(-100)

    return Aspect.of(
        name,
        [
            ("before:save", before),
            ("around:save", around),
            ("chain:save", chain),
            ("after:save", after),
            ("error:save", error),
        ],
    )


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-advice", "async-advice"])
def test_every_kind_on_an_async_target(model: Any, use_async: bool) -> None:
    log: list[Any] = []
    weaver.weave(model, all_kinds("A", log, use_async=use_async))
    assert inspect.iscoroutinefunction(model.save)
    assert asyncio.run(model(log).save(2)) == 20
    around_out = [("A", "<around")] if use_async else []
    assert log == [
        ("A", "before", 2),
        ("A", "around>"),
        ("save", 2),
        *around_out,
        ("A", "chain"),
        ("A", "after", 20),
    ]
    log.clear()
    assert asyncio.run(model(log).save(-1)) == -100
    assert log == [
        ("A", "before", -1),
        ("A", "around>"),
        ("save", -1),
        ("A", "error", "negative -1"),
    ]


def test_sync_and_async_advice_mixed_keep_the_order(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, all_kinds("S", log, use_async=False))
    weaver.weave(model, all_kinds("A", log, use_async=True))
    assert asyncio.run(model(log).save(1)) == 100
    assert log == [
        ("S", "before", 1),
        ("A", "before", 1),
        ("S", "around>"),
        ("A", "around>"),
        ("save", 1),
        ("A", "<around"),
        ("A", "chain"),
        ("S", "chain"),
        ("A", "after", 100),
        ("S", "after", 100),
    ]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-advice", "async-advice"])
def test_async_veto(model: Any, use_async: bool) -> None:
    log: list[Any] = []
    if use_async:

        async def veto() -> bool:
            return False

    else:

        def veto() -> bool:
            return False

    weaver.weave(model, Aspect.of("veto", [("before:save", veto)]))
    weaver.weave(model, all_kinds("A", log, use_async=use_async))
    assert asyncio.run(model(log).save(1)) is None
    assert log == []


def test_async_around_with_new_arguments_and_proceed_twice(model: Any) -> None:
    log: list[Any] = []

    async def around(proceed: Any) -> Any:
        return await proceed(7)

    weaver.weave(model, Aspect.of("a", [("around:save", around)]))
    assert asyncio.run(model(log).save(1)) == 7
    assert log == [("save", 7)]
    weaver.unweave(model)

    async def twice(proceed: Any) -> Any:
        await proceed()
        return await proceed()

    weaver.weave(model, Aspect.of("twice", [("around:save", twice)]))
    with pytest.raises(ProceedError):
        asyncio.run(model(log).save(1))


def test_async_error_advice_observes_and_reraises(model: Any) -> None:
    seen: list[Any] = []

    async def observe(error: BaseException) -> None:
        seen.append(error)

    weaver.weave(model, Aspect.of("obs", [("error:save", observe)]))
    with pytest.raises(ValueError, match="negative -3"):
        asyncio.run(model().save(-3))
    assert len(seen) == 1 and isinstance(seen[0], ValueError)


def test_async_classmethod_and_staticmethod(model: Any) -> None:
    log: list[Any] = []

    async def before(instance: Any, value: int) -> None:
        log.append(("make", instance, value))

    weaver.weave(
        model,
        Aspect.of(
            "cs",
            [
                ("before:make", before),
                ("chain:double", lambda v: v + 1),
            ],
        ),
    )
    assert inspect.iscoroutinefunction(model.make)
    assert inspect.iscoroutinefunction(model.double)
    assert inspect.iscoroutinefunction(model().make)
    assert asyncio.run(model.make(3)) == (model, 3)
    assert asyncio.run(model.double(3)) == 7
    assert asyncio.run(model().double(4)) == 9
    assert log == [("make", model, 3)]


def test_iscoroutinefunction_is_preserved(model: Any) -> None:
    weaver.weave(model, Aspect.of("b", [("before:*", lambda: None)]))
    obj = model()
    for name in ("save", "make", "double"):
        assert isinstance(vars(model)[name], weaver.Woven)
        assert inspect.iscoroutinefunction(getattr(model, name)), name
        assert inspect.iscoroutinefunction(getattr(obj, name)), name
    assert inspect.iscoroutine(coro := obj.save(1))
    assert asyncio.run(coro) == 1


def test_async_guard_runs_advice_once_per_outer_call(dispatch: str) -> None:
    log: list[Any] = []

    class Parent(AsyncModel):
        pass

    class Child(Parent):
        async def save(self, x: int = 1) -> int:
            self.log.append(("child", x))
            return await super().save(x) + 1

    weaver.weave(Parent, Aspect.of("p", [("before:save", lambda: log.append("p"))]))
    weaver.weave(Child, Aspect.of("c", [("before:save", lambda: log.append("c"))]))
    try:
        assert asyncio.run(Child(log).save(2)) == 3
        assert log == ["p", "c", ("child", 2), ("save", 2)]
    finally:
        weaver.unweave(Child)
        weaver.unweave(Parent)


def test_concurrent_tasks_each_run_the_whole_chain(model: Any) -> None:
    log: list[Any] = []

    async def before(x: int) -> None:
        log.append(("before", x))
        await asyncio.sleep(0)

    async def after(x: int) -> None:
        log.append(("after", x))

    weaver.weave(model, Aspect.of("t", [("before:save", before), ("after:save", after)]))

    async def main() -> list[int]:
        obj = model([])
        return list(await asyncio.gather(*(obj.save(i) for i in range(20))))

    assert asyncio.run(main()) == list(range(20))
    assert sorted(e for e in log if e[0] == "before") == [("before", i) for i in range(20)]
    assert sorted(e for e in log if e[0] == "after") == [("after", i) for i in range(20)]


def test_a_sync_advice_returning_an_awaitable_is_awaited_on_an_async_target(model: Any) -> None:
    """As a built-in plugin does when its work goes through an async ORM (EarnORM)."""
    log: list[Any] = []

    async def later(value: Any, tag: str) -> Any:
        await asyncio.sleep(0)
        log.append(tag)
        return value

    def before(x: int) -> Any:
        return later(False if x == 0 else None, "before")  # awaited: False vetoes

    def chain(value: int) -> Any:
        return later(value + 1, "chain")

    def after(result: int) -> Any:
        return later(None, f"after {result}")

    def error(error: BaseException) -> Any:
        return later(Recover(0), "error")

    weaver.weave(
        model,
        Aspect.of(
            "W",
            [
                ("before:save", before),
                ("chain:save", chain),
                ("after:save", after),
                ("error:save", error),
            ],
        ),
    )
    assert asyncio.run(model(log).save(2)) == 3
    assert log == ["before", ("save", 2), "chain", "after 3"]
    log.clear()
    assert asyncio.run(model(log).save(0)) is None  # vetoed once the awaitable gave False
    assert log == ["before"]
    log.clear()
    assert asyncio.run(model(log).save(-1)) == 0  # the awaited Recover(0)
    assert log == ["before", ("save", -1), "error"]


@pytest.mark.parametrize("on_error", ["raise", "log"])
@pytest.mark.parametrize("fault", ["raises", "twice"])
def test_a_proceed_coroutine_the_advice_never_awaited_is_closed(
    model: Any, on_error: str, fault: str
) -> None:
    """A sync around advice calls proceed() and then fails: nothing is left unawaited.

    The coroutine ``proceed()`` returned is closed, not collected with a
    "never awaited" warning; under ``log`` the chain's rest runs once, as if
    the advice were not there; under ``raise`` the target never runs.
    """
    import gc
    import warnings

    def around(proceed: Any) -> Any:
        proceed()
        if fault == "twice":
            proceed()  # ProceedError: always raised, whatever the policy
        raise RuntimeError("after proceed()")

    aspect = Aspect.of("p", [("around:save", around)], on_error=on_error)
    weaver.weave(model, aspect)
    obj = model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if on_error == "log" and fault == "raises":
            assert asyncio.run(obj.save(3)) == 3
            assert obj.log == [("save", 3)]
        else:
            expected = ProceedError if fault == "twice" else RuntimeError
            with pytest.raises(expected):
                asyncio.run(obj.save(3))
            assert obj.log == []
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
