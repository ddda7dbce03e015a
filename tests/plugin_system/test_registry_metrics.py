"""Metrics: per-plugin advice runs, failures, auto-disables and time, while metrics are on.

Off, nothing is counted and no dispatcher changes; on, every call takes the
instrumented (interpreted) chain and reports each advice run to its plugin's
switch, which ``registry.metrics(name)`` and ``health()`` read.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import (
    PluginRegistry,
    hook,
    metering,
    plugin,
    start_metering,
    stop_metering,
    trace,
    with_plugins,
)
from earnorm_aop.weaving import scope


def _plugins(reg: PluginRegistry) -> None:
    @plugin("stamp", registry=reg)
    class Stamp:
        def before_save(self, instance: Any) -> None:
            instance.stamped = True

        def around_save(self, proceed: Any) -> Any:
            return proceed()

    @plugin("guard", registry=reg)
    class Guard:
        def before_save(self, instance: Any) -> bool:
            return not getattr(instance, "locked", False)

    @plugin("flaky", registry=reg, on_error="disable", max_failures=2)
    class Flaky:
        def after_save(self, instance: Any) -> None:
            if getattr(instance, "explode", False):
                raise RuntimeError("flaky advice failed")


def _gate_cell(model: type) -> Any:
    """The gate cell the dispatcher of ``model.save`` closes over."""
    dispatcher = vars(model)["save"]._self_wrapper
    return dispatcher.__closure__[dispatcher.__code__.co_freevars.index("_g")]


@pytest.fixture
def model(reg: PluginRegistry) -> type:
    _plugins(reg)

    @with_plugins("stamp", "guard", "flaky", registry=reg)
    class Doc:
        def save(self) -> str:
            return "saved"

    return Doc


def test_off_by_default_nothing_is_counted(reg: PluginRegistry, model: type) -> None:
    for _ in range(3):
        assert model().save() == "saved"
    m = reg.metrics("stamp")
    assert m["metering"] is False
    assert m["runs"] == {}
    assert m["seconds"] == 0.0


def test_on_counts_runs_by_outcome_and_time(reg: PluginRegistry, model: type) -> None:
    with metering():
        assert reg.metrics("stamp")["metering"] is True
        for _ in range(4):
            assert model().save() == "saved"
        locked = model()
        locked.locked = True
        assert locked.save() is None  # vetoed by guard
    stamp, guard, flaky = (reg.metrics(n) for n in ("stamp", "guard", "flaky"))
    # stamp runs before guard: its before ran 5 times, its around 4 (not on the veto)
    assert stamp["runs"] == {"ok": 9}
    assert guard["runs"] == {"ok": 4, "veto": 1}
    assert flaky["runs"] == {"ok": 4}
    assert stamp["seconds"] > 0.0 and guard["seconds"] > 0.0
    assert stamp["metering"] is False


def test_counting_stops_when_metrics_go_off(reg: PluginRegistry, model: type) -> None:
    with metering():
        model().save()
    counted = reg.metrics("guard")["runs"]
    for _ in range(3):
        model().save()
    assert reg.metrics("guard")["runs"] == counted == {"ok": 1}


def test_failures_and_auto_disables_reach_health(reg: PluginRegistry, model: type) -> None:
    with metering():
        for _ in range(2):
            doc = model()
            doc.explode = True
            assert doc.save() == "saved"  # the disable policy logs and goes on
    flaky = reg.metrics("flaky")
    assert flaky["runs"] == {"failed": 2}
    assert flaky["failures"] == 2
    assert flaky["auto_disables"] == 1
    assert flaky["enabled"] is False
    health = reg.health()
    assert health["status"] == "degraded"
    assert health["plugins"]["flaky"]["auto_disables"] == 1
    reg.enable("flaky")
    assert reg.metrics("flaky")["auto_disables"] == 1  # a count, not a state


def test_raised_outcome_is_counted(reg: PluginRegistry) -> None:
    @plugin("strict", registry=reg)
    class Strict:
        def before_save(self, instance: Any) -> None:
            raise ValueError("not valid")

    @with_plugins("strict", registry=reg)
    class Doc:
        def save(self) -> None:
            raise AssertionError("not reached")

    with metering(), pytest.raises(ValueError, match="not valid"):
        Doc().save()
    assert reg.metrics("strict")["runs"] == {"raised": 1}


def test_async_targets_are_counted(reg: PluginRegistry) -> None:
    @plugin("stamp", registry=reg)
    class Stamp:
        async def before_save(self, instance: Any) -> None:
            await asyncio.sleep(0)

    @with_plugins("stamp", registry=reg)
    class Doc:
        async def save(self) -> int:
            return 7

    with metering():
        assert asyncio.run(Doc().save()) == 7
    assert reg.metrics("stamp")["runs"] == {"ok": 1}


def test_metering_and_tracing_together(reg: PluginRegistry, model: type) -> None:
    with metering(), trace() as t:
        model().save()
    assert [r.plugin for r in t] == ["stamp", "guard", "stamp", "flaky"]
    assert reg.metrics("stamp")["runs"] == {"ok": 2}


def test_calls_in_other_threads_are_counted(reg: PluginRegistry, model: type) -> None:
    with metering():
        threads = [
            threading.Thread(target=lambda: [model().save() for _ in range(50)]) for _ in range(4)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert reg.metrics("guard")["runs"] == {"ok": 200}


def test_start_and_stop_nest_and_gates_come_back(reg: PluginRegistry, model: type) -> None:
    cell = _gate_cell(model)
    assert cell.cell_contents == 0
    start_metering()
    start_metering()
    assert cell.cell_contents == 2
    stop_metering()
    model().save()
    assert reg.metrics("guard")["runs"] == {"ok": 1}  # still on after one stop
    stop_metering()
    assert cell.cell_contents == 0 and scope.mode.metering == 0
    with pytest.raises(RuntimeError, match=r"without a matching metering\.start"):
        stop_metering()


def test_a_class_woven_while_metering_is_counted(reg: PluginRegistry) -> None:
    _plugins(reg)
    with metering():

        @with_plugins("guard", registry=reg)
        class Late:
            def save(self) -> int:
                return 1

        Late().save()
    assert reg.metrics("guard")["runs"] == {"ok": 1}
    assert _gate_cell(Late).cell_contents == 0


@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=3)), max_size=8))
def test_runs_equal_calls_made_while_on(steps: list[tuple[bool, int]]) -> None:
    reg = PluginRegistry(group=None)

    @plugin("count", registry=reg)
    class Count:
        @hook("before:save")
        def seen(self) -> None:
            pass

    @with_plugins("count", registry=reg)
    class Doc:
        def save(self) -> None:
            pass

    try:
        expected = 0
        for on, calls in steps:
            if on:
                start_metering()
            try:
                for _ in range(calls):
                    Doc().save()
            finally:
                if on:
                    stop_metering()
            expected += calls if on else 0
        assert sum(reg.metrics("count")["runs"].values()) == expected
    finally:
        from earnorm_aop.weaving import weaver

        weaver.unweave(Doc)


def test_a_plugin_disabled_in_this_context_is_not_counted(reg: PluginRegistry, model: type) -> None:
    with metering(), reg.disabled("guard"):
        model().save()
    assert reg.metrics("guard")["runs"] == {}
    assert reg.metrics("stamp")["runs"] == {"ok": 2}
