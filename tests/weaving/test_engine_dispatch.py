"""The generated dispatcher against the interpreted one, and the generated source."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import linecache
import re
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnorm_aop import Aspect, JoinPoint, ProceedError, Recover
from earnorm_aop.weaving import scope, weaver
from earnorm_aop.weaving.chain import ChainPlan
from earnorm_aop.weaving.generated import compile_chain, source_of
from earnorm_aop.weaving.interpreted import interpret_chain

# A sync around advice on an async target that calls proceed() twice, or fails
# after calling it, gets a coroutine the dispatcher never awaits: both
# dispatchers close it (the suite makes a "never awaited" warning an error).

BEHAVIOURS = {
    "before": ["plain", "veto", "raise"],
    "after": ["plain", "raise"],
    "chain": ["plain", "raise"],
    "around": ["plain", "newargs", "noproceed", "raise_first", "raise_after", "twice", "swallow"],
    "error": ["plain", "recover", "raise"],
}


@st.composite
def advice_specs(draw: st.DrawFn, allow_async: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(BEHAVIOURS)))
    return {
        "kind": kind,
        "behaviour": draw(st.sampled_from(BEHAVIOURS[kind])),
        "target_param": draw(st.booleans()),
        "is_async": allow_async and draw(st.booleans()),
    }


def aspect_specs(allow_async: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(
        st.fixed_dictionaries(
            {
                "policy": st.sampled_from(["raise", "log"]),
                "advice": st.lists(advice_specs(allow_async), min_size=1, max_size=3),
            }
        ),
        min_size=1,
        max_size=4,
    )


def make_advice(label: str, spec: dict[str, Any], log: list[Any]) -> Callable[..., Any]:
    """One advice function; it logs what it saw so both dispatchers can be compared."""
    kind, behaviour = spec["kind"], spec["behaviour"]

    def arg_of(x: Any, args: Any) -> Any:
        return x if spec["target_param"] else args

    if kind == "before":

        def before(x: Any = None, args: Any = None) -> Any:
            log.append((label, "before", arg_of(x, args)))
            if behaviour == "raise":
                raise RuntimeError(f"{label} before")
            return False if behaviour == "veto" else None

        func: Callable[..., Any] = before
    elif kind == "after":

        def after(result: Any, x: Any = None, args: Any = None) -> None:
            log.append((label, "after", result, arg_of(x, args)))
            if behaviour == "raise":
                raise RuntimeError(f"{label} after")

        func = after
    elif kind == "chain":

        def chain(value: Any, joinpoint: JoinPoint) -> Any:
            log.append((label, "chain", value, joinpoint.args))
            if behaviour == "raise":
                raise RuntimeError(f"{label} chain")
            return (label, value)

        func = chain
    elif kind == "error":

        def error(error: BaseException, method: str) -> Any:
            log.append((label, "error", type(error).__name__, str(error), method))
            if behaviour == "raise":
                raise RuntimeError(f"{label} error")
            return Recover((label, "recovered")) if behaviour == "recover" else None

        func = error
    elif spec["is_async"]:

        async def async_around(proceed: Any, args: tuple[Any, ...]) -> Any:
            log.append((label, "around", args))
            if behaviour == "raise_first":
                raise RuntimeError(f"{label} around")
            if behaviour == "noproceed":
                return (label, "instead")
            if behaviour == "newargs":
                result = await proceed(args[0] + 1)
            elif behaviour == "swallow":
                try:
                    result = await proceed()
                except ValueError as exc:
                    result = (label, "swallowed", str(exc))
            else:
                result = await proceed()
            if behaviour == "twice":
                await proceed()
            if behaviour == "raise_after":
                raise RuntimeError(f"{label} around after")
            return result

        return async_around
    else:

        def around(proceed: Any, args: tuple[Any, ...]) -> Any:
            # On an async target this sync advice gets coroutines from proceed().
            log.append((label, "around", args))
            if behaviour == "raise_first":
                raise RuntimeError(f"{label} around")
            if behaviour == "noproceed":
                return (label, "instead")
            if behaviour == "newargs":
                result = proceed(args[0] + 1)
            elif behaviour == "swallow":
                try:
                    result = proceed()
                except ValueError as exc:
                    result = (label, "swallowed", str(exc))
            else:
                result = proceed()
            if behaviour == "twice":
                proceed()
            if behaviour == "raise_after":
                raise RuntimeError(f"{label} around after")
            return result

        func = around
    if not spec["is_async"]:
        return func

    @functools.wraps(func)  # keeps the signature the parameters are injected from
    async def async_advice(*a: Any, **kw: Any) -> Any:
        await asyncio.sleep(0)
        return func(*a, **kw)

    return async_advice


def build_plan(model: type, aspects: list[dict[str, Any]], log: list[Any]) -> ChainPlan:
    for i, aspect in enumerate(aspects):
        hooks = [
            (f"{spec['kind']}:save", make_advice(f"p{i}.{j}", spec, log))
            for j, spec in enumerate(aspect["advice"])
        ]
        weaver.weave(model, Aspect.of(f"p{i}", hooks, on_error=aspect["policy"]))
    plan: ChainPlan = vars(model)["save"]._self_plan
    weaver.unweave(model)
    return plan


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


class SyncModel:
    def save(self, x: int) -> Any:
        self.log.append(("method", x))
        if x % 3 == 0:
            raise ValueError(f"method failed on {x}")
        return x

    log: list[Any]


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(aspects=aspect_specs(allow_async=False), x=st.integers(0, 8))
def test_generated_and_interpreted_agree(aspects: list[dict[str, Any]], x: int) -> None:
    log: list[Any] = []

    class M(SyncModel):
        pass

    plan = build_plan(M, aspects, log)
    obj = M()
    obj.log = log
    results = []
    logs = []
    for make in (compile_chain, interpret_chain):
        log.clear()
        dispatcher = make(plan)
        results.append(outcome(lambda d=dispatcher: d(obj.save, obj, (x,), {})))
        logs.append(list(log))
    assert results[0] == results[1]
    assert logs[0] == logs[1]


class AsyncModel:
    async def save(self, x: int) -> Any:
        await asyncio.sleep(0)
        self.log.append(("method", x))
        if x % 3 == 0:
            raise ValueError(f"method failed on {x}")
        return x

    log: list[Any]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aspects=aspect_specs(allow_async=True), x=st.integers(0, 8))
def test_generated_and_interpreted_agree_on_async_targets(
    aspects: list[dict[str, Any]], x: int
) -> None:
    log: list[Any] = []

    class M(AsyncModel):
        pass

    plan = build_plan(M, aspects, log)
    obj = M()
    obj.log = log
    results = []
    logs = []
    for make in (compile_chain, interpret_chain):
        log.clear()
        dispatcher = make(plan)
        results.append(outcome(lambda d=dispatcher: asyncio.run(d(obj.save, obj, (x,), {}))))
        logs.append(list(log))
    assert results[0] == results[1]
    assert logs[0] == logs[1]


@settings(max_examples=examples(100), deadline=None)
@given(
    aspects=aspect_specs(allow_async=False),
    disabled=st.sets(st.integers(0, 3)),
    x=st.integers(0, 8),
)
def test_both_dispatchers_skip_context_disabled_aspects(
    aspects: list[dict[str, Any]], disabled: set[int], x: int
) -> None:
    log: list[Any] = []

    class M(SyncModel):
        pass

    plan = build_plan(M, aspects, log)
    switches = {a.aspect.switch for a in plan.all}
    off = frozenset(s for s in switches if int(s.name[1:]) in disabled)
    obj = M()
    obj.log = log
    token = scope.DISABLED.set(off)
    scope.disabled_opened(switches)  # what opening a disabled() block anywhere does
    try:
        results, logs = [], []
        for make in (compile_chain, interpret_chain):
            log.clear()
            dispatcher = make(plan)
            results.append(outcome(lambda d=dispatcher: d(obj.save, obj, (x,), {})))
            logs.append(list(log))
    finally:
        scope.DISABLED.reset(token)
        scope.disabled_closed(switches)
    assert results[0] == results[1]
    assert logs[0] == logs[1]
    assert not any(entry[0].split(".")[0] in {s.name for s in off} for entry in logs[0])


def test_both_dispatchers_honour_the_reentry_guard() -> None:
    log: list[Any] = []

    class M(SyncModel):
        pass

    plan = build_plan(
        M,
        [
            {
                "policy": "raise",
                "advice": [
                    {
                        "kind": "before",
                        "behaviour": "plain",
                        "target_param": True,
                        "is_async": False,
                    }
                ],
            }
        ],
        log,
    )
    plan = dataclasses.replace(plan, guard=True)
    obj = M()
    obj.log = log
    for make in (compile_chain, interpret_chain):
        log.clear()
        dispatcher = make(plan)
        assert dispatcher(obj.save, obj, (1,), {}) == 1
        assert log == [("p0.0", "before", 1), ("method", 1)]
        log.clear()
        token = scope.ACTIVE_CALLS.set(frozenset({(id(obj), "save")}))
        try:
            assert dispatcher(obj.save, obj, (1,), {}) == 1
        finally:
            scope.ACTIVE_CALLS.reset(token)
        assert log == [("method", 1)]


# --------------------------------------------------------------------------
# The generated source
# --------------------------------------------------------------------------


def test_generated_source_is_registered_with_linecache() -> None:
    class Failing:
        def save(self, x: int) -> int:
            raise KeyError(x)

    weaver.weave(
        Failing,
        Aspect.of(
            "obs",
            [("error:save", lambda error: None), ("around:save", lambda proceed: proceed())],
        ),
    )
    try:
        dispatcher = vars(Failing)["save"]._self_wrapper
        source = source_of(dispatcher)
        filename = dispatcher.__code__.co_filename
        # Code is shared by every chain of one shape, so the file is named after
        # the first method woven with it: this one, or another test's of that shape.
        assert re.fullmatch(r"<earnorm_aop dispatch #\d+, first woven on [\w.<>]+\.save>", filename)
        assert linecache.getlines(filename) == source.splitlines(True)
        with pytest.raises(KeyError) as info:
            Failing().save(3)
        text = "".join(traceback.format_exception(info.value))
        frames = [
            f for f in traceback.extract_tb(info.value.__traceback__) if f.filename == filename
        ]
        assert frames, text
        for frame in frames:
            assert frame.line, "the generated line is shown"
            assert frame.line in source
        assert "result = _lvl0(wrapped, instance, args, kwargs)" in text
    finally:
        weaver.unweave(Failing)


def test_user_strings_never_reach_the_generated_source() -> None:
    class Model:
        def save(self, x: int) -> int:
            return x

    name = "evil'); import os; ('\n"

    def advice(x: int, note: str = "'); boom(); ('") -> None:
        seen.append((x, note))

    seen: list[Any] = []
    aspect = Aspect.of(name, [("before:save", advice), ("after:save", lambda method: None)])
    weaver.weave(Model, aspect)
    try:
        source = source_of(vars(Model)["save"]._self_wrapper)
        assert name.strip() not in source
        assert "boom" not in source
        assert "evil" not in source
        assert Model().save(4) == 4
        assert seen == [(4, "'); boom(); ('")]
    finally:
        weaver.unweave(Model)


def test_linecache_does_not_grow_with_every_rebuild() -> None:
    class Model:
        def save(self) -> None:
            pass

    aspect = Aspect.of("lc", [("before:save", lambda: None)])

    def ours() -> int:
        return sum(1 for key in linecache.cache if key.startswith("<earnorm_aop dispatch"))

    gc.collect()
    start = ours()
    for _ in range(50):
        weaver.weave(Model, aspect)
        Model().save()
        weaver.unweave(Model)
    gc.collect()
    assert ours() - start < 5


def test_proceed_error_message_names_the_advice() -> None:
    class Model:
        def save(self) -> int:
            return 1

    def twice(proceed: Any) -> Any:
        proceed()
        return proceed()

    weaver.weave(Model, Aspect.of("dup", [("around:save", twice)]))
    try:
        with pytest.raises(ProceedError, match=r"dup\.twice.*Model\.save"):
            Model().save()
    finally:
        weaver.unweave(Model)
