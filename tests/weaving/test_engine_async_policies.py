"""Error policies and context-local disabling on async targets, with sync and async advice.

The async counterparts of ``test_engine_policies.py`` (whose ``log`` test covers async
targets too; the models and advice are ``_policy_models.py``'s), run with both dispatchers
(``dispatch``): a failing advice of any kind propagates under ``raise``, is logged under
``log``; a ``disabled()`` block skips every kind of advice of that plugin, here only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _policy_models import ONLY_B, AsyncModel, disabled, every_kind, failing, failures, fresh

from earnorm_aop import Aspect, Recover
from earnorm_aop.weaving import weaver


@pytest.fixture
def model(dispatch: str) -> Iterator[Any]:
    yield from fresh(AsyncModel)


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
    assert log == ONLY_B
    log.clear()
    asyncio.run(model(log).save(2))
    assert ("A", "before") in log and ("A", "chain") in log and ("A", "after") in log
