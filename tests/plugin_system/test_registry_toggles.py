"""Live toggles: ``enable`` / ``disable`` on every model, and the context-local ``disabled()``."""

from __future__ import annotations

import asyncio
import threading
from contextvars import ContextVar
from typing import Any

import pytest
from _plugin_helpers import expected_run, recording_plugin

from earnorm_aop import (
    PluginModel,
    PluginNotFoundError,
    PluginRegistry,
    explain,
    with_plugins,
)
from earnorm_aop.weaving import weaver

THREAD_TIMEOUT = 60.0  # seconds: a stuck thread fails its test instead of hanging the run

LOG: list[Any] = []
# A per-thread / per-task log for the concurrency tests; LOG when unset.
_LOCAL_LOG: ContextVar[list[Any] | None] = ContextVar("local_log", default=None)


class _ContextLog:
    def append(self, item: Any) -> None:
        log = _LOCAL_LOG.get()
        (LOG if log is None else log).append(item)


def _save(self: Any) -> str:
    _ContextLog().append("save")
    return "saved"


@pytest.fixture
def plugins(reg: PluginRegistry) -> PluginRegistry:
    LOG.clear()
    for tag in "abc":
        reg.register(tag, recording_plugin(_ContextLog(), tag))  # type: ignore[arg-type]
    return reg


@pytest.fixture
def models(plugins: PluginRegistry) -> tuple[type, type]:
    """Two unrelated models using the same plugins, one per declaration style."""
    reg = plugins

    @with_plugins("a", "b", registry=reg)
    class One:
        save = _save

    class Two(PluginModel):
        class Meta:
            plugins = ["a", "b", "c"]  # noqa: RUF012
            registry = reg

        save = _save

    return One, Two


def calls(model: type) -> list[Any]:
    LOG.clear()
    assert model().save() == "saved"
    return list(LOG)


# --------------------------------------------------------------------------
# enable / disable
# --------------------------------------------------------------------------


def test_disable_reaches_every_model_at_once(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, two = models
    assert calls(one) == expected_run(["a", "b"])
    plugins.disable("a")
    assert calls(one) == expected_run(["b"])
    assert calls(two) == expected_run(["b", "c"])
    assert plugins.get_plugin("a").enabled is False
    assert "a.before_it" in explain(two) and "disabled" in explain(two)

    plugins.enable("a")
    assert calls(one) == expected_run(["a", "b"])
    assert calls(two) == expected_run(["a", "b", "c"])


def test_disabled_plugins_cost_nothing(plugins: PluginRegistry, models: tuple[type, type]) -> None:
    one, two = models
    plugins.disable("a")
    plugins.disable("b")
    assert vars(one)["save"] is _save  # the original function object, not a wrapper
    assert vars(two)["save"] is not _save  # c still runs there
    assert calls(two) == expected_run(["c"])
    assert "[all advice disabled: original method]" in explain(one)
    plugins.disable("c")
    assert vars(two)["save"] is _save
    assert calls(two) == ["save"]
    plugins.enable("b")
    assert vars(one)["save"] is not _save
    assert calls(one) == expected_run(["b"])


def test_enable_and_disable_are_idempotent(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, _ = models
    plugins.enable("a")
    plugins.disable("a")
    plugins.disable("a")
    assert calls(one) == expected_run(["b"])
    plugins.enable("a")
    assert calls(one) == expected_run(["a", "b"])


def test_toggles_on_unknown_names(plugins: PluginRegistry) -> None:
    with pytest.raises(PluginNotFoundError, match="did you mean 'a'"):
        plugins.disable("aa")
    with pytest.raises(PluginNotFoundError, match="no plugin named 'zz'"):
        plugins.enable("zz")
    with pytest.raises(PluginNotFoundError), plugins.disabled("a", "nope"):
        pass
    assert not weaver.open_disabled_blocks()


def test_a_plugin_disabled_before_the_model_exists(plugins: PluginRegistry) -> None:
    plugins.disable("b")

    @with_plugins("a", "b", registry=plugins)
    class Late:
        save = _save

    assert calls(Late) == expected_run(["a"])
    plugins.enable("b")
    assert calls(Late) == expected_run(["a", "b"])


def test_a_running_call_finishes_with_the_chain_it_started_with(reg: PluginRegistry) -> None:
    log: list[str] = []

    class Toggler:
        def before_save(self) -> None:
            log.append("before")
            reg.disable("toggler")

        def after_save(self) -> None:
            log.append("after")

    reg.register("toggler", Toggler)

    @with_plugins("toggler", registry=reg)
    class M:
        def save(self) -> None:
            log.append("save")

    M().save()
    assert log == ["before", "save", "after"]
    M().save()
    assert log == ["before", "save", "after", "save"]


# --------------------------------------------------------------------------
# disabled(): local to the thread and to the asyncio task
# --------------------------------------------------------------------------


def test_disabled_block_switches_plugins_off_inside_only(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, two = models
    with plugins.disabled("a", "c"):
        assert calls(one) == expected_run(["b"])
        assert calls(two) == expected_run(["b"])
        with plugins.disabled("b"):
            assert calls(two) == ["save"]
        assert calls(two) == expected_run(["b"])
        assert plugins.get_plugin("a").enabled is True  # not a global toggle
    assert calls(two) == expected_run(["a", "b", "c"])


def test_disabled_block_is_undone_by_an_exception(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, _ = models
    with pytest.raises(RuntimeError), plugins.disabled("a"):
        raise RuntimeError
    assert calls(one) == expected_run(["a", "b"])
    assert not weaver.open_disabled_blocks()


def test_disabled_is_local_to_the_thread(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, _ = models
    results: dict[str, Any] = {}
    inside = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        if inside.wait(THREAD_TIMEOUT):
            results["other"] = calls_local(one)
            done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        with plugins.disabled("a"):
            inside.set()
            assert done.wait(THREAD_TIMEOUT)
            results["mine"] = calls_local(one)
    finally:
        inside.set()
        thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive()
    assert results["other"] == expected_run(["a", "b"])
    assert results["mine"] == expected_run(["b"])


def test_disabled_in_another_thread_does_not_reach_this_one(
    plugins: PluginRegistry, models: tuple[type, type]
) -> None:
    one, _ = models
    entered = threading.Event()
    release = threading.Event()
    seen: dict[str, Any] = {}

    def other_thread() -> None:
        with plugins.disabled("a", "b"):
            entered.set()
            if release.wait(THREAD_TIMEOUT):
                seen["other"] = calls_local(one)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert entered.wait(THREAD_TIMEOUT)
        seen["mine"] = calls_local(one)
    finally:
        release.set()
        thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive()
    assert seen["mine"] == expected_run(["a", "b"])
    assert seen["other"] == ["save"]


def calls_local(model: type) -> list[Any]:
    """Like :func:`calls`, with a per-call log (threads and tasks run concurrently)."""
    log: list[Any] = []
    token = _LOCAL_LOG.set(log)
    try:
        model().save()
    finally:
        _LOCAL_LOG.reset(token)
    return log


def test_disabled_is_local_to_the_asyncio_task(reg: PluginRegistry) -> None:
    for tag in "ab":
        reg.register(tag, recording_plugin(_ContextLog(), tag, asynchronous=True))  # type: ignore[arg-type]

    @with_plugins("a", "b", registry=reg)
    class M:
        async def save(self) -> str:
            await asyncio.sleep(0)
            _ContextLog().append("save")
            return "saved"

    async def call() -> list[Any]:
        log: list[Any] = []
        _LOCAL_LOG.set(log)  # each task runs in its own context copy
        assert await M().save() == "saved"
        return log

    async def quiet(entered: asyncio.Event, release: asyncio.Event) -> list[Any]:
        with reg.disabled("a"):
            entered.set()
            await release.wait()
            return await call()

    async def loud(entered: asyncio.Event, release: asyncio.Event) -> list[Any]:
        await entered.wait()
        try:
            return await call()
        finally:
            release.set()

    async def main() -> tuple[list[Any], list[Any], list[Any]]:
        entered, release = asyncio.Event(), asyncio.Event()
        q = asyncio.create_task(quiet(entered, release))
        lo = asyncio.create_task(loud(entered, release))
        quiet_log, loud_log = await asyncio.gather(q, lo)
        with reg.disabled("b"):
            child = await asyncio.create_task(call())  # a task started inside inherits it
        return quiet_log, loud_log, child

    quiet_log, loud_log, child_log = asyncio.run(main())
    assert loud_log == expected_run(["a", "b"])
    assert quiet_log == expected_run(["b"])
    assert child_log == expected_run(["a"])


def test_toggles_are_per_registry(reg: PluginRegistry) -> None:
    other = PluginRegistry(group=None)
    log: list[Any] = []
    reg.register("audit", recording_plugin(log, "mine"))
    other.register("audit", recording_plugin(log, "theirs"))

    @with_plugins("audit", registry=reg)
    class Mine:
        def save(self) -> str:
            log.append("save")
            return "saved"

    @with_plugins("audit", registry=other)
    class Theirs:
        def save(self) -> str:
            log.append("save")
            return "saved"

    other.disable("audit")
    Mine().save()
    Theirs().save()
    assert log == [*expected_run(["mine"]), "save"]
    assert reg.get_plugin("audit").enabled and not other.get_plugin("audit").enabled
    with other.disabled("audit"), reg.disabled("audit"):
        log.clear()
        Mine().save()
        assert log == ["save"]
    weaver.unweave(Theirs)
