"""Error policies and context-local disabling on async targets, with sync and async advice.

The async counterparts of ``test_engine_policies.py``, run with both
dispatchers (``dispatch``): under ``log`` a failing advice of any kind is
logged and the call goes on as if it were not there; a ``disabled()`` block
skips every kind of advice of that plugin, here only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from earnorm_aop import Aspect, Recover, Switch
from earnorm_aop.weaving import scope, weaver


class AsyncModel:
    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = [] if log is None else log

    async def save(self, x: int = 1) -> int:
        await asyncio.sleep(0)
        self.log.append(("save", x))
        if x < 0:
            raise ValueError("negative")
        return x


@pytest.fixture
def model(dispatch: str) -> Iterator[Any]:
    class M(AsyncModel):
        pass

    yield M
    weaver.unweave(M)


@contextmanager
def disabled(*switches: Switch) -> Iterator[None]:
    """What the registry's ``disabled()`` does: open a scope and set the context variable."""
    weaver.context_scope_opened(switches)
    token = scope.DISABLED.set(scope.DISABLED.get() | frozenset(switches))
    try:
        yield
    finally:
        scope.DISABLED.reset(token)
        weaver.context_scope_closed(switches)


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "earnorm_aop" and r.levelno == logging.ERROR]


def failing(kind: str, is_async: bool) -> Callable[..., Any]:
    """An advice of ``kind`` that raises (sync or async)."""
    if kind == "chain":
        if is_async:

            async def achain(value: Any) -> Any:
                raise RuntimeError("advice failed")

            return achain

        def chain(value: Any) -> Any:
            raise RuntimeError("advice failed")

        return chain
    if kind == "around":
        if is_async:

            async def aaround(proceed: Any) -> Any:
                raise RuntimeError("advice failed")

            return aaround

        def around(proceed: Any) -> Any:
            raise RuntimeError("advice failed")

        return around
    if is_async:

        async def aboom() -> Any:
            raise RuntimeError("advice failed")

        return aboom

    def boom() -> Any:
        raise RuntimeError("advice failed")

    return boom


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-advice", "async-advice"])
@pytest.mark.parametrize(
    ("kind", "x", "expected"),
    [
        ("before", 2, 2),
        ("after", 2, 2),
        ("chain", 2, 2),
        ("around", 2, 2),
        ("error", -1, ValueError),
    ],
)
def test_log_policy_logs_and_goes_on(
    model: Any,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    x: int,
    expected: Any,
    is_async: bool,
) -> None:
    log: list[Any] = []
    aspect = Aspect.of("flaky", [(f"{kind}:save", failing(kind, is_async))], on_error="log")
    weaver.weave(model, aspect)
    weaver.weave(model, Aspect.of("other", [("after:save", lambda: log.append("other after"))]))
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        if expected is ValueError:
            with pytest.raises(ValueError, match="negative"):
                asyncio.run(model(log).save(x))
        else:
            assert asyncio.run(model(log).save(x)) == expected
    assert log[0] == ("save", x)  # the method ran, once
    assert log.count(("save", x)) == 1
    assert len(failures(caplog)) == 1 and aspect.switch.failures == 1
    if expected is not ValueError:
        assert log[-1] == "other after"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-advice", "async-advice"])
def test_raise_policy_propagates_from_every_kind(model: Any, is_async: bool) -> None:
    for kind, x in (("before", 1), ("around", 1), ("chain", 1), ("after", 1), ("error", -1)):
        aspect = Aspect.of(f"strict_{kind}", [(f"{kind}:save", failing(kind, is_async))])
        weaver.weave(model, aspect)
        with pytest.raises(RuntimeError, match="advice failed"):
            asyncio.run(model().save(x))
        weaver.unweave(model, aspect.name)
        assert aspect.switch.failures == 0


def test_log_policy_around_failing_after_awaiting_proceed_keeps_the_result(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []

    async def around(proceed: Any) -> Any:
        await proceed()
        raise RuntimeError("late failure")

    weaver.weave(model, Aspect.of("late", [("around:save", around)], on_error="log"))
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert asyncio.run(model(log).save(3)) == 3
    assert log == [("save", 3)]  # not called a second time
    assert len(failures(caplog)) == 1


def test_the_methods_own_error_is_not_an_advice_failure(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def around(proceed: Any) -> Any:
        return await proceed()

    weaver.weave(model, Aspect.of("pass", [("around:save", around)], on_error="log"))
    with pytest.raises(ValueError):
        asyncio.run(model().save(-1))
    assert failures(caplog) == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-advice", "async-advice"])
def test_a_failing_error_advice_under_log_lets_the_next_one_recover(
    model: Any, caplog: pytest.LogCaptureFixture, is_async: bool
) -> None:
    weaver.weave(model, Aspect.of("rec", [("error:save", lambda: Recover("saved"))]))
    weaver.weave(
        model, Aspect.of("flaky", [("error:save", failing("error", is_async))], on_error="log")
    )
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert asyncio.run(model().save(-1)) == "saved"
    assert len(failures(caplog)) == 1


def test_disable_policy_counts_async_failures_and_switches_off(model: Any) -> None:
    log: list[Any] = []
    outcomes = [False, True, False, False]

    async def flaky() -> None:
        if not outcomes.pop(0):
            raise RuntimeError("advice failed")
        log.append("ran")

    aspect = Aspect.of("fragile", [("before:save", flaky)], on_error="disable", max_failures=2)
    weaver.weave(model, aspect)
    for _ in range(3):
        assert asyncio.run(model().save(1)) == 1
    assert not aspect.switch.auto_disabled and aspect.switch.consecutive_failures == 1
    asyncio.run(model().save(1))
    assert aspect.switch.auto_disabled and log == ["ran"]
    asyncio.run(model().save(1))  # off: the advice no longer runs
    assert outcomes == []


def every_kind(name: str, log: list[Any], is_async: bool) -> Aspect:
    if is_async:

        async def before() -> None:
            log.append((name, "before"))

        async def around(proceed: Any) -> Any:
            log.append((name, "around"))
            return await proceed()

        async def chain(value: Any) -> Any:
            log.append((name, "chain"))
            return value

        async def after() -> None:
            log.append((name, "after"))

        async def error() -> None:
            log.append((name, "error"))

    else:

        def before() -> None:
            log.append((name, "before"))

        def around(proceed: Any) -> Any:
            log.append((name, "around"))
            return proceed()

        def chain(value: Any) -> Any:
            log.append((name, "chain"))
            return value

        def after() -> None:
            log.append((name, "after"))

        def error() -> None:
            log.append((name, "error"))

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


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-advice", "async-advice"])
def test_a_disabled_block_skips_every_kind_of_that_aspect_only(model: Any, is_async: bool) -> None:
    log: list[Any] = []
    a = every_kind("A", log, is_async)
    weaver.weave(model, a)
    weaver.weave(model, every_kind("B", log, is_async))
    with disabled(a.switch):
        assert asyncio.run(model(log).save(1)) == 1
        with pytest.raises(ValueError):
            asyncio.run(model(log).save(-1))
    assert log == [
        ("B", "before"),
        ("B", "around"),
        ("save", 1),
        ("B", "chain"),
        ("B", "after"),
        ("B", "before"),
        ("B", "around"),
        ("save", -1),
        ("B", "error"),
    ]
    log.clear()
    asyncio.run(model(log).save(2))
    assert ("A", "before") in log and ("A", "chain") in log and ("A", "after") in log
