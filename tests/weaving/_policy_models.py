"""What the error-policy tests share, sync and async (``test_engine_policies.py``,
``test_engine_async_policies.py``): the models, failing advice of each kind, an aspect
with every kind, the logged failures and a ``disabled()`` block."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from earnorm_aop import Aspect, Switch
from earnorm_aop.weaving import scope, weaver


class Model:
    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = [] if log is None else log

    def save(self, x: int = 1) -> int:
        self.log.append(("save", x))
        if x < 0:
            raise ValueError("negative")
        return x


class AsyncModel(Model):
    async def save(self, x: int = 1) -> int:  # type: ignore[override]
        await asyncio.sleep(0)
        return Model.save(self, x)


def fresh(base: type) -> Iterator[Any]:
    """A subclass of ``base`` of the test's own, unwoven after it (the ``model`` fixtures)."""

    class M(base):  # type: ignore[valid-type,misc]
        pass

    yield M
    weaver.unweave(M)


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "earnorm_aop" and r.levelno == logging.ERROR]


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


def failing(kind: str, is_async: bool = False) -> Callable[..., Any]:
    """An advice of ``kind`` that raises (sync or async), with the parameters its kind needs."""

    def fail(*args: Any) -> Any:
        raise RuntimeError("advice failed")

    async def afail(*args: Any) -> Any:
        raise RuntimeError("advice failed")

    raiser = afail if is_async else fail
    if kind == "chain":

        async def achain(value: Any) -> Any:
            return await raiser(value)

        def chain(value: Any) -> Any:
            return raiser(value)

        return achain if is_async else chain
    if kind == "around":

        async def aaround(proceed: Any) -> Any:
            return await raiser(proceed)

        def around(proceed: Any) -> Any:
            return raiser(proceed)

        return aaround if is_async else around

    async def aboom() -> Any:
        return await raiser()

    def boom() -> Any:
        return raiser()

    return aboom if is_async else boom


def every_kind(name: str, log: list[Any], is_async: bool = False) -> Aspect:
    """An aspect ``name`` with one advice of each kind, each noting ``(name, kind)`` in ``log``."""

    def note(kind: str) -> None:
        log.append((name, kind))

    if is_async:

        async def before() -> None:
            note("before")

        async def around(proceed: Any) -> Any:
            note("around")
            return await proceed()

        async def chain(value: Any) -> Any:
            note("chain")
            return value

        async def after() -> None:
            note("after")

        async def error() -> None:
            note("error")

        advice: list[tuple[str, Callable[..., Any]]] = [
            ("before:save", before),
            ("around:save", around),
            ("chain:save", chain),
            ("after:save", after),
            ("error:save", error),
        ]
    else:

        def around_sync(proceed: Any) -> Any:
            note("around")
            return proceed()

        def chain_sync(value: Any) -> Any:
            note("chain")
            return value

        advice = [
            ("before:save", lambda: note("before")),
            ("around:save", around_sync),
            ("chain:save", chain_sync),
            ("after:save", lambda: note("after")),
            ("error:save", lambda: note("error")),
        ]
    return Aspect.of(name, advice)


# The kinds of advice, each with the argument that makes it run and what the call gives
# when the advice's failure is only logged.
LOGGED = [
    ("before", 2, 2),
    ("after", 2, 2),
    ("chain", 2, 2),
    ("around", 2, 2),
    ("error", -1, ValueError),
]

# The log a disabled block of aspect A leaves with B woven too: a call, then a failing one.
ONLY_B = [
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
