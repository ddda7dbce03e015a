"""Error policies, context-local disabling and tracing."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _policy_models import (
    LOGGED,
    ONLY_B,
    AsyncModel,
    Model,
    disabled,
    every_kind,
    failing,
    failures,
    fresh,
)

from earnorm_aop import Aspect, Recover, Switch, trace
from earnorm_aop.weaving import weaver

THREAD_TIMEOUT = 60.0  # seconds: a stuck thread fails its test instead of hanging the run


@pytest.fixture
def model(dispatch: str) -> Iterator[Any]:
    yield from fresh(Model)


@pytest.fixture
def async_model(dispatch: str) -> Iterator[Any]:
    yield from fresh(AsyncModel)


def boom() -> Any:
    raise RuntimeError("advice failed")


# --------------------------------------------------------------------------
# on_error="log"
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["sync", "async-sync-advice", "async-async-advice"], ids=lambda t: t
)
@pytest.mark.parametrize(("kind", "x", "expected"), LOGGED)
def test_log_policy_logs_and_goes_on(
    model: Any,
    async_model: Any,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    x: int,
    expected: Any,
    target: str,
) -> None:
    """Sync and async targets (the async one with sync and async advice) alike."""
    klass = model if target == "sync" else async_model
    call = (lambda v: v) if target == "sync" else asyncio.run
    log: list[Any] = []
    failing_advice = failing(kind, is_async=target == "async-async-advice")
    aspect = Aspect.of("flaky", [(f"{kind}:save", failing_advice)], on_error="log")
    weaver.weave(klass, aspect)
    weaver.weave(klass, Aspect.of("other", [("after:save", lambda: log.append("other after"))]))
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        if expected is ValueError:
            with pytest.raises(ValueError, match="negative"):
                call(klass(log).save(x))
        else:
            assert call(klass(log).save(x)) == expected
    assert log[0] == ("save", x)  # the method ran (once)
    assert log.count(("save", x)) == 1
    if expected is not ValueError:
        assert log[-1] == "other after"
    (record,) = failures(caplog)
    message = record.getMessage()
    assert "'flaky'" in message
    assert "M.save" in message  # the model and the method
    assert kind in message
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert aspect.switch.failures == 1
    assert aspect.switch.consecutive_failures == 1
    assert isinstance(aspect.switch.last_error, RuntimeError)
    assert aspect.switch.enabled


def test_log_policy_around_failing_after_proceed_keeps_the_result(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        proceed()
        raise RuntimeError("late failure")

    weaver.weave(model, Aspect.of("late", [("around:save", around)], on_error="log"))
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert model(log).save(3) == 3
    assert log == [("save", 3)]  # not called a second time
    assert len(failures(caplog)) == 1


def test_log_policy_does_not_swallow_the_method_error(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        return proceed()

    weaver.weave(model, Aspect.of("pass", [("around:save", around)], on_error="log"))
    with pytest.raises(ValueError):
        model(log).save(-1)
    assert failures(caplog) == []


def test_log_policy_error_advice_failure_lets_the_next_one_recover(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    weaver.weave(model, Aspect.of("rec", [("error:save", lambda: Recover("saved"))]))
    weaver.weave(model, Aspect.of("flaky", [("error:save", boom)], on_error="log"))
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert model().save(-1) == "saved"
    assert len(failures(caplog)) == 1


def test_raise_policy_propagates(model: Any) -> None:
    aspect = Aspect.of("strict", [("before:save", boom)])
    weaver.weave(model, aspect)
    with pytest.raises(RuntimeError, match="advice failed"):
        model().save()
    assert aspect.switch.failures == 0


def test_log_policy_on_async_target(dispatch: str, caplog: pytest.LogCaptureFixture) -> None:
    class A:
        async def save(self) -> str:
            return "done"

    async def failing() -> None:
        raise RuntimeError("async advice failed")

    weaver.weave(A, Aspect.of("aflaky", [("before:save", failing)], on_error="log"))
    try:
        with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
            assert asyncio.run(A().save()) == "done"
        (record,) = failures(caplog)
        assert "'aflaky'" in record.getMessage()
    finally:
        weaver.unweave(A)


# --------------------------------------------------------------------------
# on_error="disable"
# --------------------------------------------------------------------------


def test_disable_policy_switches_off_after_max_failures(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    original = vars(model).get("save", Model.__dict__["save"])
    fail = {"on": True}
    log: list[Any] = []

    def flaky() -> None:
        log.append("flaky")
        if fail["on"]:
            raise RuntimeError("flaky")

    aspect = Aspect.of("fragile", [("before:save", flaky)], on_error="disable", max_failures=3)
    weaver.weave(model, aspect)
    with caplog.at_level(logging.WARNING, logger="earnorm_aop"):
        obj = model([])
        assert obj.save(1) == 1
        assert obj.save(1) == 1
        fail["on"] = False
        obj.save(1)  # a success resets the consecutive count
        assert aspect.switch.consecutive_failures == 0
        fail["on"] = True
        obj.save(1)
        obj.save(1)
        assert aspect.switch.enabled
        assert isinstance(vars(model)["save"], weaver.Woven)
        obj.save(1)  # third consecutive failure
    assert not aspect.switch.enabled
    assert aspect.switch.auto_disabled
    assert aspect.switch.failures == 5
    assert "save" not in vars(model)
    assert model.save is original
    warnings = [
        r for r in caplog.records if r.name == "earnorm_aop" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "'fragile'" in warnings[0].getMessage()
    assert "3" in warnings[0].getMessage()
    log.clear()
    assert obj.save(2) == 2
    assert log == []  # disabled: the advice no longer runs
    weaver.set_enabled(aspect.switch, True)
    assert not aspect.switch.auto_disabled
    assert aspect.switch.consecutive_failures == 0
    fail["on"] = False
    obj.save(2)
    assert log == ["flaky"]


def test_disable_policy_reaches_every_model_using_the_switch(
    dispatch: str, caplog: pytest.LogCaptureFixture
) -> None:
    switch = Switch("shared")

    class One(Model):
        pass

    class Two(Model):
        pass

    for klass in (One, Two):
        weaver.weave(
            klass,
            Aspect.of(
                "shared", [("before:save", boom)], on_error="disable", max_failures=1, switch=switch
            ),
        )
    try:
        with caplog.at_level(logging.WARNING, logger="earnorm_aop"):
            One().save()
        assert not switch.enabled
        assert "save" not in vars(One)
        assert "save" not in vars(Two)
        assert Two().save(5) == 5
    finally:
        weaver.unweave(One)
        weaver.unweave(Two)
        weaver.set_enabled(switch, True)


# --------------------------------------------------------------------------
# Context-local disable
# --------------------------------------------------------------------------


def test_context_disable_skips_only_that_aspect_in_this_context(model: Any) -> None:
    log: list[Any] = []
    a = every_kind("A", log)
    weaver.weave(model, a)
    weaver.weave(model, every_kind("B", log))
    wrapper = vars(model)["save"]

    with disabled(a.switch):
        # Opening the block flips a counter the dispatcher tests: nothing is re-woven.
        assert a.switch.scopes == 1
        assert vars(model)["save"] is wrapper
        model(log).save(1)
        with pytest.raises(ValueError):
            model(log).save(-1)
    assert log == ONLY_B
    assert a.switch.scopes == 0
    assert vars(model)["save"] is wrapper
    log.clear()
    model(log).save(2)
    assert ("A", "before") in log and ("A", "after") in log


def test_context_disable_is_local_to_the_thread(model: Any) -> None:
    log: list[Any] = []
    a = every_kind("A", log)
    weaver.weave(model, a)
    seen: list[Any] = []
    ready = threading.Event()
    done = threading.Event()

    def worker() -> None:
        ready.wait(THREAD_TIMEOUT)
        own: list[Any] = []
        model(own).save(1)
        seen.extend(own)
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        with disabled(a.switch):
            ready.set()
            assert done.wait(THREAD_TIMEOUT)
            model([]).save(1)
    finally:
        ready.set()
        thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive()
    # The worker ran while this thread had A disabled: it still ran A's advice.
    assert seen == [("save", 1)]
    assert log.count(("A", "before")) == 1
    assert log.count(("A", "after")) == 1


def test_context_disable_reaches_asyncio_tasks_started_inside(dispatch: str) -> None:
    log: list[Any] = []

    class A:
        async def save(self) -> str:
            return "ok"

    aspect = Aspect.of("A", [("before:save", lambda: log.append("A"))])
    weaver.weave(A, aspect)

    async def main() -> None:
        with disabled(aspect.switch):
            await asyncio.create_task(A().save())
        await A().save()

    try:
        asyncio.run(main())
    finally:
        weaver.unweave(A)
    assert log == ["A"]


def test_nested_context_scopes(model: Any) -> None:
    log: list[Any] = []
    a = every_kind("A", log)
    weaver.weave(model, a)
    with disabled(a.switch):
        with disabled(a.switch):
            model([]).save(1)
        model([]).save(1)
        assert a.switch.scopes == 1
    assert log == []
    assert a.switch.scopes == 0


# --------------------------------------------------------------------------
# trace()
# --------------------------------------------------------------------------


def test_trace_records_every_advice_run() -> None:
    class Traced(Model):
        pass

    log: list[Any] = []
    weaver.weave(Traced, every_kind("A", log))
    weaver.weave(
        Traced,
        Aspect.of(
            "B",
            [("before:save", lambda x: x != 0), ("error:save", lambda: Recover("r"))],
        ),
    )
    try:
        with trace() as t:
            Traced(log).save(3)
            Traced(log).save(0)  # vetoed by B
            assert Traced(log).save(-1) == "r"
        rows = [(r.plugin, r.kind, r.model, r.method, r.outcome) for r in t]
        model = Traced.__qualname__
        assert rows == [
            ("A", "before", model, "save", "ok"),
            ("B", "before", model, "save", "ok"),
            ("A", "around", model, "save", "ok"),
            ("A", "chain", model, "save", "ok"),
            ("A", "after", model, "save", "ok"),
            ("A", "before", model, "save", "ok"),
            ("B", "before", model, "save", "veto"),
            ("A", "before", model, "save", "ok"),
            ("B", "before", model, "save", "ok"),
            ("A", "around", model, "save", "raised"),  # the method's error went through it
            ("B", "error", model, "save", "recovered"),
        ]
        assert all(isinstance(r.duration, float) and r.duration >= 0 for r in t)
        assert len(t) == len(rows)
        assert t[0].plugin == "A"
        assert t[0].advice == "<lambda>"
        assert "save" in t.format() and "veto" in t.format()
        # Outside the block nothing is recorded.
        Traced(log).save(1)
        assert len(t) == len(rows)
    finally:
        weaver.unweave(Traced)


def test_trace_records_raised_and_failed_outcomes(caplog: pytest.LogCaptureFixture) -> None:
    class Traced(Model):
        pass

    weaver.weave(Traced, Aspect.of("flaky", [("after:save", boom)], on_error="log"))
    weaver.weave(
        Traced, Aspect.of("strict", [("before:save", lambda x: boom() if x > 5 else None)])
    )
    try:
        with trace() as t, caplog.at_level(logging.CRITICAL):
            Traced().save(1)
            with pytest.raises(RuntimeError):
                Traced().save(9)
        assert [(r.plugin, r.kind, r.outcome) for r in t] == [
            ("strict", "before", "ok"),
            ("flaky", "after", "failed"),
            ("strict", "before", "raised"),
        ]
    finally:
        weaver.unweave(Traced)


def test_trace_is_local_to_the_thread() -> None:
    class Traced(Model):
        pass

    weaver.weave(Traced, Aspect.of("A", [("before:save", lambda: None)]))
    try:
        with trace() as t:
            thread = threading.Thread(target=lambda: Traced().save(1))
            thread.start()
            thread.join(THREAD_TIMEOUT)
            assert not thread.is_alive()
            assert len(t) == 0
            Traced().save(1)
            assert len(t) == 1
    finally:
        weaver.unweave(Traced)
