"""Naming conventions, ``@hook``, events versus pointcuts, and ``emit`` / ``aemit``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from earnorm_aop import (
    BasePlugin,
    PluginError,
    PluginRegistry,
    PointcutError,
    Recover,
    WeavingError,
    aemit,
    emit,
    explain,
    hook,
    plugin,
    unweave,
    with_plugins,
)


class Model:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def save(self, force: bool = False) -> str:
        self.log.append(("save", force))
        return "saved"

    def get(self, key: int) -> dict[str, int]:
        if key < 0:
            raise KeyError(key)
        return {"key": key}

    def get_queryset(self) -> list[int]:
        return [1, 2, 3]


# --------------------------------------------------------------------------
# naming conventions
# --------------------------------------------------------------------------


def test_convention_names_become_pointcuts(reg: PluginRegistry) -> None:
    @plugin("conv", registry=reg)
    class Conv:
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("before_save")

        def around_save(self, proceed, force):  # type: ignore[no-untyped-def]
            return proceed(force=not force).upper()

        def after_save(self, instance, result):  # type: ignore[no-untyped-def]
            instance.log.append(("after_save", result))

        def error_get(self, error):  # type: ignore[no-untyped-def]
            return Recover({"missing": error.args[0]})

        def after_get(self, result):  # type: ignore[no-untyped-def]
            result["seen"] = True

    assert reg.get_plugin("conv").hooks == (
        "before_save",
        "around_save",
        "after_save",
        "error_get",
        "after_get",
    )

    @with_plugins("conv", registry=reg)
    class M(Model):
        pass

    m = M()
    assert m.save() == "SAVED"
    assert m.log == ["before_save", ("save", True), ("after_save", "SAVED")]
    assert m.get(1) == {"key": 1, "seen": True}
    # error advice recovered: after advice does not run on the recovered value
    assert m.get(-5) == {"missing": -5}


def test_public_method_named_like_a_model_method_is_chain_advice(reg: PluginRegistry) -> None:
    @plugin("scoped", registry=reg)
    class Scoped:
        def get_queryset(self, queryset):  # type: ignore[no-untyped-def]
            return [x for x in queryset if x != 2]

        def helper(self) -> int:  # not a model method: woven nowhere, no error
            return 42

    info = reg.get_plugin("scoped")
    assert "chain:get_queryset" in info.hooks

    @with_plugins("scoped", registry=reg)
    class M(Model):
        pass

    assert M().get_queryset() == [1, 3]
    assert "chain   scoped.get_queryset" in explain(M)
    assert "helper" not in explain(M)


def test_private_and_reserved_attributes_are_not_hooks(reg: PluginRegistry) -> None:
    @plugin("quiet", registry=reg, description="d")
    class Quiet:
        def _save(self) -> None:
            raise AssertionError("private methods are never advice")

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("quiet")

    assert reg.get_plugin("quiet").hooks == ("before_save",)

    @with_plugins("quiet", registry=reg)
    class M(Model):
        pass

    m = M()
    m.save()
    assert m.log == ["quiet", ("save", False)]


def test_hook_with_explicit_pointcuts_and_globs(reg: PluginRegistry) -> None:
    seen: list[str] = []

    @plugin("globbed", registry=reg)
    class Globbed:
        @hook("before:get_*|save")
        def note(self, method):  # type: ignore[no-untyped-def]
            seen.append(method)

    @with_plugins("globbed", registry=reg)
    class M(Model):
        pass

    m = M()
    m.save()
    m.get(1)  # 'get' does not match 'get_*'
    m.get_queryset()
    assert seen == ["save", "get_queryset"]


def test_hook_rejects_a_malformed_pointcut_when_declared() -> None:
    with pytest.raises(PointcutError, match="unknown kind 'befor'"):
        hook("befor:save")
    with pytest.raises(PointcutError, match="neither a pointcut"):
        hook("after-change")
    with pytest.raises(PluginError, match="at least one"):
        hook([])


def test_a_colon_pointcut_that_matches_nothing_is_a_weaving_error(reg: PluginRegistry) -> None:
    @plugin("strict", registry=reg)
    class Strict:
        @hook("before:publish")
        def check(self) -> None:
            pass

    with pytest.raises(WeavingError, match=r"plugin 'strict', advice 'check'.*'before:publish'"):

        @with_plugins("strict", registry=reg)
        class M(Model):
            pass


def test_an_optional_pointcut_may_match_nothing(reg: PluginRegistry) -> None:
    @plugin("lenient", registry=reg)
    class Lenient:
        @hook("before:publish", optional=True)
        def check(self) -> None:
            raise AssertionError("never woven")

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("lenient")

    @with_plugins("lenient", registry=reg)
    class M(Model):
        pass

    m = M()
    m.save()
    assert m.log == ["lenient", ("save", False)]


def test_async_advice_on_a_sync_method_is_a_weaving_error(reg: PluginRegistry) -> None:
    @plugin("asyncy", registry=reg)
    class Asyncy:
        async def before_save(self) -> None:
            pass

    with pytest.raises(WeavingError, match="'async def'"):

        @with_plugins("asyncy", registry=reg)
        class M(Model):
            pass


def test_async_method_gets_sync_and_async_advice(reg: PluginRegistry) -> None:
    @plugin("mixed", registry=reg)
    class Mixed:
        async def before_fetch(self, instance):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)
            instance.log.append("async before")

        def after_fetch(self, instance, result):  # type: ignore[no-untyped-def]
            instance.log.append(("sync after", result))

    @with_plugins("mixed", registry=reg)
    class M(Model):
        async def fetch(self) -> int:
            self.log.append("fetch")
            return 7

    m = M()
    assert asyncio.run(m.fetch()) == 7
    assert m.log == ["async before", "fetch", ("sync after", 7)]


# --------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------


def test_convention_name_without_a_model_method_is_an_event(reg: PluginRegistry) -> None:
    @plugin("upd", registry=reg)
    class Upd:
        def before_update(self, instance, fields):  # type: ignore[no-untyped-def]
            instance.log.append(("before_update", fields))

    @with_plugins("upd", registry=reg)
    class M(Model):
        pass

    m = M()
    assert "update" not in vars(M)
    emit(m, "before_update", fields=["name"])
    assert m.log == [("before_update", ["name"])]
    assert "before_update: upd.before_update" in explain(M)

    # the same plugin on a model that has update weaves it as before:update
    @with_plugins("upd", registry=reg)
    class N(Model):
        def update(self, fields: list[str]) -> str:
            self.log.append("update")
            return "ok"

    n = N()
    assert n.update(["x"]) == "ok"
    assert n.log == [("before_update", ["x"]), "update"]
    assert emit(n, "before_update", fields=[]) == []  # woven, so not an event there
    assert "events" not in explain(N)


def test_emit_injects_payload_by_name(reg: PluginRegistry) -> None:
    got: list[Any] = []

    @plugin("ev", registry=reg)
    class Ev:
        @hook("after_change")
        def positional(self, changes, instance):  # type: ignore[no-untyped-def]
            got.append(("positional", changes, instance.tag))

        @hook("after_change")
        def keywords(self, *, model, event, extra=None):  # type: ignore[no-untyped-def]
            got.append(("keywords", model.__name__, event, extra))

        @hook("after_change")
        def rest(self, instance, **payload):  # type: ignore[no-untyped-def]
            got.append(("rest", payload))
            return "r"

    @with_plugins("ev", registry=reg)
    class M(Model):
        pass

    m = M()
    m.tag = "t"  # type: ignore[attr-defined]
    results = emit(m, "after_change", changes={"a": 1}, who="me")
    assert got == [
        ("positional", {"a": 1}, "t"),
        ("keywords", "M", "after_change", None),
        ("rest", {"changes": {"a": 1}, "who": "me"}),
    ]
    assert results == [None, None, "r"]


def test_emit_missing_payload_names_the_handler_and_what_was_given(reg: PluginRegistry) -> None:
    @plugin("needy", registry=reg)
    class Needy:
        @hook("after_change")
        def log_change(self, instance, changes):  # type: ignore[no-untyped-def]
            pass

    @with_plugins("needy", registry=reg)
    class M(Model):
        pass

    with pytest.raises(PluginError, match=r"'needy', handler 'log_change'.*needs 'changes'"):
        emit(M(), "after_change", other=1)


def test_an_event_nobody_handles_is_a_no_op(reg: PluginRegistry) -> None:
    class Plain:
        pass

    assert emit(Plain(), "after_change", changes={}) == []
    assert asyncio.run(aemit(Plain(), "after_change")) == []

    @plugin("other", registry=reg)
    class Other:
        @hook("after_other")
        def handle(self) -> None:
            raise AssertionError("not this event")

    @with_plugins("other", registry=reg)
    class M(Model):
        pass

    assert emit(M(), "after_change", changes={}) == []


def test_handlers_run_in_plugin_order(reg: PluginRegistry) -> None:
    order: list[str] = []

    def handler_plugin(tag: str, priority: int = 0) -> type:
        class H:
            @hook("after_change")
            def handle(self, changes):  # type: ignore[no-untyped-def]
                order.append(tag)

        H.priority = priority  # type: ignore[attr-defined]
        return H

    reg.register("first", handler_plugin("first"))
    reg.register("second", handler_plugin("second"))
    reg.register("urgent", handler_plugin("urgent", priority=10))

    @with_plugins("second", "first", "urgent", registry=reg)
    class M(Model):
        pass

    emit(M(), "after_change", changes={})
    assert order == ["urgent", "second", "first"]


def test_disabled_plugins_do_not_handle_events(reg: PluginRegistry) -> None:
    got: list[str] = []

    @plugin("audit", registry=reg)
    class Audit:
        @hook("after_change")
        def handle(self) -> None:
            got.append("audit")

    @with_plugins("audit", registry=reg)
    class M(Model):
        pass

    reg.disable("audit")
    emit(M(), "after_change")
    reg.enable("audit")
    with reg.disabled("audit"):
        emit(M(), "after_change")
    assert got == []
    emit(M(), "after_change")
    assert got == ["audit"]


def test_events_are_inherited(reg: PluginRegistry) -> None:
    got: list[str] = []

    @plugin("audit", registry=reg)
    class Audit:
        @hook("after_change")
        def handle(self, model):  # type: ignore[no-untyped-def]
            got.append(model.__name__)

    @with_plugins("audit", registry=reg)
    class Parent(Model):
        pass

    class Child(Parent):
        pass

    emit(Child(), "after_change")
    assert got == ["Child"]


def test_aemit_awaits_async_handlers_in_order(reg: PluginRegistry) -> None:
    order: list[Any] = []

    @plugin("a_async", registry=reg)
    class AAsync:
        @hook("after_change")
        async def handle(self, changes):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)
            order.append(("async", changes))
            return "a"

    @plugin("b_sync", registry=reg)
    class BSync:
        @hook("after_change")
        def handle(self, changes):  # type: ignore[no-untyped-def]
            order.append(("sync", changes))
            return "b"

    @with_plugins("a_async", "b_sync", registry=reg)
    class M(Model):
        pass

    assert asyncio.run(aemit(M(), "after_change", changes=1)) == ["a", "b"]
    assert order == [("async", 1), ("sync", 1)]

    with pytest.raises(PluginError, match=r"handler 'handle' of event 'after_change' is async"):
        emit(M(), "after_change", changes=2)


def test_failing_event_handler_under_log_policy(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[str] = []

    @plugin("flaky", registry=reg, on_error="log")
    class Flaky:
        @hook("after_change")
        def handle(self) -> None:
            raise RuntimeError("boom")

    @plugin("steady", registry=reg)
    class Steady:
        @hook("after_change")
        def handle(self) -> None:
            got.append("steady")

    @with_plugins("flaky", "steady", registry=reg)
    class M(Model):
        pass

    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        emit(M(), "after_change")
    assert got == ["steady"]
    assert "plugin 'flaky'" in caplog.text and "after_change" in caplog.text
    assert "<locals>.M" in caplog.text  # the model
    assert reg.metrics("flaky")["failures"] == 1


def test_failing_event_handler_under_raise_policy(reg: PluginRegistry) -> None:
    class Boom(BasePlugin):
        @hook("after_change")
        def handle(self) -> None:
            raise RuntimeError("boom")

    reg.register("boom", Boom)

    @with_plugins("boom", registry=reg)
    class M(Model):
        pass

    with pytest.raises(RuntimeError, match="boom"):
        emit(M(), "after_change")


def test_a_subclass_that_unweaves_a_plugin_stops_handling_its_events(reg: PluginRegistry) -> None:
    got: list[str] = []

    @plugin("audit", registry=reg)
    class Audit:
        @hook("after_change")
        def handle(self, model):  # type: ignore[no-untyped-def]
            got.append(model.__name__)

    @with_plugins("audit", registry=reg)
    class Parent(Model):
        pass

    class Child(Parent):
        pass

    unweave(Child, "audit")
    emit(Child(), "after_change")
    emit(Parent(), "after_change")
    assert got == ["Parent"]
