"""Property tests: weave/unweave restore classes, a state machine, a threaded stress test."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from _hypothesis_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from earnorm_aop import AdviceSpec, Aspect, Recover, WeavingError, trace
from earnorm_aop.weaving import weaver

# --------------------------------------------------------------------------
# (1) Any sequence of weave / unweave / toggles leaves every class as it was
# --------------------------------------------------------------------------


def make_hierarchy() -> list[type]:
    class Base:
        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)

        def save(self, x: int = 0) -> int:
            return x

        def get_one(self) -> str:
            return "one"

        def get_all(self) -> list[str]:
            return ["all"]

        @classmethod
        def make(cls) -> type:
            return cls

        @staticmethod
        def double(v: int) -> int:
            return 2 * v

        def _private(self) -> str:
            return "private"

    class Child(Base):
        def save(self, x: int = 0) -> int:
            return super().save(x) + 1

        def get_extra(self) -> str:
            return "extra"

    class GrandChild(Child):
        pass

    class Sibling(Base):
        def get_one(self) -> str:
            return super().get_one().upper()

    return [Base, Child, GrandChild, Sibling]


def expected_results(klass: type) -> dict[str, Any]:
    obj = klass()
    child = any(k.__name__ == "Child" for k in klass.__mro__)
    out = {
        "save": obj.save(2),
        "get_one": obj.get_one(),
        "get_all": obj.get_all(),
        "make": klass.make(),
        "double": klass.double(3),
        "_private": obj._private(),
    }
    if child:
        out["get_extra"] = obj.get_extra()
    return out


def make_aspects(log: list[Any]) -> list[Aspect]:
    def rec(name: str) -> Callable[..., None]:
        def advice(method: str) -> None:
            log.append((name, method))

        return advice

    def around(proceed: Any) -> Any:
        return proceed()

    def same(value: Any) -> Any:
        return value

    return [
        Aspect.of("all_before", [("before:*", rec("all_before"))]),
        Aspect.of("save_around", [("around:save", around), ("after:save", rec("save_around"))]),
        Aspect.of("getters", [("chain:get_*", same)], priority=5),
        Aspect.of("alts", [("before:save|make|double", rec("alts"))], requires=("getters",)),
        Aspect.of("private", [("after:_private", rec("private")), ("error:*", rec("private"))]),
        Aspect(
            "optional",
            (
                AdviceSpec(rec("optional"), "before:delete", optional=True),
                AdviceSpec(rec("optional"), "after:get_extra", optional=True),
            ),
        ),
        # Not optional: weaving it where there is no get_extra is a WeavingError.
        Aspect.of("extra", [("before:get_extra", rec("extra"))]),
    ]


operations = st.one_of(
    st.tuples(st.just("weave"), st.integers(0, 3), st.integers(0, 6)),
    st.tuples(st.just("unweave"), st.integers(0, 3), st.integers(0, 6)),
    st.tuples(st.just("unweave_all"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("toggle"), st.booleans(), st.integers(0, 6)),
)


def check_wrappers(classes: list[type], snapshots: dict[type, dict[str, Any]]) -> None:
    """Every wrapper wraps an original object directly, never another wrapper."""
    for klass in classes:
        for name, value in vars(klass).items():
            if isinstance(value, weaver.Woven):
                assert not isinstance(value.__wrapped__, weaver.Woven)
                origin = value._self_origin
                assert value._self_raw is snapshots[origin][name], (klass, name)


class HierarchyModel:
    """Which aspects apply to which class: own ones, opted-out inherited ones."""

    def __init__(self, classes: list[type], aspects: list[Aspect]) -> None:
        self.classes = classes
        self.priority = {a.name: a.priority for a in aspects}
        self.own: dict[type, dict[str, None]] = {k: {} for k in classes}
        self.excluded: dict[type, set[str]] = {k: set() for k in classes}

    def effective(self, klass: type, skip_self: bool = False) -> list[str]:
        found: dict[str, None] = {}
        for k in reversed(klass.__mro__):
            if k not in self.own or (skip_self and k is klass):
                continue
            for name in self.excluded[k]:
                found.pop(name, None)
            found.update(self.own[k])
        # Priority, stable; "alts" requires "getters", which has the higher priority.
        return sorted(found, key=lambda n: -self.priority[n])

    def weave(self, klass: type, name: str) -> None:
        self.excluded[klass].discard(name)
        self.own[klass].setdefault(name, None)

    def unweave(self, klass: type, name: str) -> None:
        self.own[klass].pop(name, None)
        if name in self.effective(klass, skip_self=True):
            self.excluded[klass].add(name)


def check_advice_runs(
    klass: type, model: HierarchyModel, aspects: list[Aspect], log: list[Any]
) -> None:
    """One call of save runs each applicable enabled aspect's advice exactly once."""
    enabled = {a.name for a in aspects if a.switch.enabled}
    on_save = {"all_before", "alts", "save_around", "private"}  # (private: error:*)
    names = [n for n in model.effective(klass) if n in enabled and n in on_save]
    log.clear()
    klass().save(2)
    expected = [(n, "save") for n in names if n in ("all_before", "alts")]
    expected += [(n, "save") for n in names if n == "save_around"]
    assert log == expected, klass


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operations, max_size=25), removal=st.permutations(range(4)))
def test_weave_unweave_sequences_restore_every_class(
    ops: list[tuple[str, Any, int]], removal: list[int]
) -> None:
    classes = make_hierarchy()
    snapshots = {klass: dict(vars(klass)) for klass in classes}
    expected = {klass: expected_results(klass) for klass in classes}
    log: list[Any] = []
    aspects = make_aspects(log)
    model = HierarchyModel(classes, aspects)
    for op, a, b in ops:
        if op == "weave":
            klass = classes[a]
            before = {k: dict(vars(k)) for k in classes}
            try:
                weaver.weave(klass, aspects[b])
            except WeavingError:
                # Only "extra" can fail, where get_extra does not exist; nothing changed.
                assert aspects[b].name == "extra"
                assert not hasattr(klass, "get_extra")
                for k in classes:
                    assert all(vars(k)[n] is v for n, v in before[k].items())
                    assert vars(k).keys() == before[k].keys()
            else:
                model.weave(klass, aspects[b].name)
        elif op == "unweave":
            weaver.unweave(classes[a], aspects[b].name)
            model.unweave(classes[a], aspects[b].name)
        elif op == "unweave_all":
            for name in model.effective(classes[a]):
                model.unweave(classes[a], name)
            weaver.unweave(classes[a])
        else:
            weaver.set_enabled(aspects[b].switch, a)
        check_wrappers(classes, snapshots)
        for klass in classes:
            assert [x.name for x in weaver.effective_aspects(klass)] == model.effective(klass)
            # Advice never changes results here: every class still behaves the same.
            assert expected_results(klass) == expected[klass]
            check_advice_runs(klass, model, aspects, log)
    for i in removal:
        weaver.unweave(classes[i])
    for klass in classes:
        assert weaver.effective_aspects(klass) == []
        assert vars(klass).keys() == snapshots[klass].keys(), klass
        for name, value in snapshots[klass].items():
            assert vars(klass)[name] is value, (klass, name)
    log.clear()
    for klass in classes:
        expected_results(klass)
    assert log == []
    for aspect in aspects:
        weaver.set_enabled(aspect.switch, True)
    for klass in classes:
        assert all(vars(klass)[n] is v for n, v in snapshots[klass].items())


# --------------------------------------------------------------------------
# (2) A state machine against a simple model
# --------------------------------------------------------------------------

# name -> (pattern, behaviours). Chain advice computes value * 2 + k, so the
# order of chain advice shows in the result.
SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "A": ("*", {"before": "plain", "after": "plain"}),
    "B": ("save", {"around": "inc"}),
    "C": ("save|get", {"chain": 3}),
    "D": ("get", {"before": "veto", "error": "recover"}),
    "E": ("*", {"around": "plain", "error": "observe", "after": "plain"}),
    "F": ("save", {"error": "recover", "chain": 5}),
}
NAMES = sorted(SPECS)


def matches(pattern: str, method: str) -> bool:
    return pattern == "*" or method in pattern.split("|")


def build_aspect(name: str, log: list[Any]) -> Aspect:
    pattern, kinds = SPECS[name]
    hooks: list[tuple[str, Any]] = []
    if "before" in kinds:
        veto = kinds["before"] == "veto"

        def before(method: str, x: int) -> Any:
            log.append((name, "before", method))
            return False if veto and x % 4 == 0 else None

        hooks.append((f"before:{pattern}", before))
    if "around" in kinds:
        inc = kinds["around"] == "inc"

        def around(proceed: Any, method: str, x: int) -> Any:
            log.append((name, "around", method))
            return proceed(x + 1) if inc else proceed()

        hooks.append((f"around:{pattern}", around))
    if "chain" in kinds:
        k = kinds["chain"]

        def chain(value: int, method: str) -> int:
            log.append((name, "chain", method))
            return value * 2 + k

        hooks.append((f"chain:{pattern}", chain))
    if "after" in kinds:

        def after(method: str, result: Any) -> None:
            log.append((name, "after", method, result))

        hooks.append((f"after:{pattern}", after))
    if "error" in kinds:
        recover = kinds["error"] == "recover"

        def error(method: str, error: BaseException) -> Any:
            log.append((name, "error", method))
            return Recover(("recovered", name)) if recover else None

        hooks.append((f"error:{pattern}", error))
    return Aspect.of(name, hooks)


class WeaveMachine(RuleBasedStateMachine):
    """Random weave, unweave, toggles, re-configuration, tracing and calls."""

    def __init__(self) -> None:
        super().__init__()
        log: list[Any] = []
        self.log = log

        class Target:
            def save(self, x: int) -> int:
                log.append(("save", x))
                if x < 0:
                    raise ValueError(f"save {x}")
                return x

            def get(self, x: int) -> int:
                log.append(("get", x))
                if x < 0:
                    raise ValueError(f"get {x}")
                return x

        class Sub(Target):
            pass

        self.Target, self.Sub = Target, Sub
        self.snapshot = dict(vars(Target))
        self.aspects = {name: build_aspect(name, log) for name in NAMES}
        self.woven: list[str] = []
        self.enabled = dict.fromkeys(NAMES, True)
        self.trace: Any = None

    # -- the model ---------------------------------------------------------

    def predict(self, method: str, x: int) -> tuple[list[Any], tuple[Any, ...]]:
        active = [n for n in self.woven if self.enabled[n] and matches(SPECS[n][0], method)]

        def having(kind: str) -> list[str]:
            return [n for n in active if kind in SPECS[n][1]]

        log: list[Any] = []
        for n in having("before"):
            log.append((n, "before", method))
            if SPECS[n][1]["before"] == "veto" and x % 4 == 0:
                return log, ("ok", None)
        arounds = having("around")

        def run(i: int, arg: int) -> int:
            if i == len(arounds):
                log.append((method, arg))
                if arg < 0:
                    raise ValueError(f"{method} {arg}")
                return arg
            n = arounds[i]
            log.append((n, "around", method))
            return run(i + 1, arg + 1 if SPECS[n][1]["around"] == "inc" else arg)

        try:
            result = run(0, x)
        except ValueError as exc:
            for n in reversed(having("error")):
                log.append((n, "error", method))
                if SPECS[n][1]["error"] == "recover":
                    return log, ("ok", ("recovered", n))
            return log, ("raised", str(exc))
        for n in reversed(having("chain")):
            log.append((n, "chain", method))
            result = result * 2 + SPECS[n][1]["chain"]
        for n in reversed(having("after")):
            log.append((n, "after", method, result))
        return log, ("ok", result)

    # -- rules -------------------------------------------------------------

    @rule(name=st.sampled_from(NAMES))
    def weave(self, name: str) -> None:
        weaver.weave(self.Target, self.aspects[name])
        if name not in self.woven:
            self.woven.append(name)

    @rule(name=st.sampled_from(NAMES))
    def reconfigure(self, name: str) -> None:
        # Another aspect object with the same name replaces it in place.
        self.aspects[name] = build_aspect(name, self.log)
        weaver.weave(self.Target, self.aspects[name])
        self.enabled[name] = True
        if name not in self.woven:
            self.woven.append(name)

    @rule(name=st.sampled_from(NAMES))
    def unweave(self, name: str) -> None:
        weaver.unweave(self.Target, name)
        if name in self.woven:
            self.woven.remove(name)

    @rule()
    def unweave_all(self) -> None:
        weaver.unweave(self.Target)
        self.woven.clear()

    @rule(name=st.sampled_from(NAMES), on=st.booleans())
    def toggle(self, name: str, on: bool) -> None:
        weaver.set_enabled(self.aspects[name].switch, on)
        self.enabled[name] = on

    @precondition(lambda self: self.trace is None)
    @rule()
    def start_trace(self) -> None:
        self.trace = trace()
        self.trace.__enter__()

    @precondition(lambda self: self.trace is not None)
    @rule()
    def stop_trace(self) -> None:
        self.trace.__exit__(None, None, None)
        self.trace = None

    @rule(
        method=st.sampled_from(["save", "get"]),
        x=st.integers(-3, 9),
        via_sub=st.booleans(),
    )
    def call(self, method: str, x: int, via_sub: bool) -> None:
        obj = (self.Sub if via_sub else self.Target)()
        self.log.clear()
        try:
            outcome: tuple[Any, ...] = ("ok", getattr(obj, method)(x))
        except ValueError as exc:
            outcome = ("raised", str(exc))
        expected_log, expected_outcome = self.predict(method, x)
        assert self.log == expected_log
        assert outcome == expected_outcome

    # -- invariants --------------------------------------------------------

    @invariant()
    def unadvised_methods_are_the_originals(self) -> None:
        for method in ("save", "get"):
            advised = any(self.enabled[n] and matches(SPECS[n][0], method) for n in self.woven)
            value = vars(self.Target)[method]
            if advised:
                assert isinstance(value, weaver.Woven)
                assert value.__wrapped__ is self.snapshot[method]
            else:
                assert value is self.snapshot[method]
        assert "save" not in vars(self.Sub)
        assert [a.name for a in weaver.effective_aspects(self.Target)] == self.woven

    def teardown(self) -> None:
        if self.trace is not None:
            self.trace.__exit__(None, None, None)
        weaver.unweave(self.Target)
        assert vars(self.Target).keys() == self.snapshot.keys()
        assert all(vars(self.Target)[k] is v for k, v in self.snapshot.items())


WeaveMachine.TestCase.settings = settings(
    max_examples=examples(80),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestWeaveMachine = WeaveMachine.TestCase


# --------------------------------------------------------------------------
# (3) Threads calling while another weaves, unweaves and toggles
# --------------------------------------------------------------------------


CALLERS = 8
TOGGLES = 400  # weave / unweave / toggle / trace operations, then the toggler stops
MIN_CALLS = 300  # each caller calls at least this often, and goes on while the toggler works,
MAX_CALLS = 20_000  # but never more than this
SAFETY_TIMEOUT = 120.0  # seconds: a stuck thread fails the test instead of hanging the run


def test_threaded_stress_every_call_sees_a_whole_chain() -> None:
    """Eight threads call a method while a ninth weaves, unweaves, toggles and traces it.

    The work is bounded by counts (``TOGGLES``, ``MAX_CALLS``); every wait has
    a timeout, and the threads are told to stop and are joined however the
    test ends, so a failure here never leaves a thread (or its ``trace()``)
    running into later tests.
    """

    class Target:
        def save(self, calllog: list[Any], x: int) -> int:
            calllog.append(("save", x))
            return x

    snapshot = dict(vars(Target))

    def stress_aspect(name: str) -> Aspect:
        def before(calllog: list[Any]) -> None:
            calllog.append((name, "before"))

        def around(proceed: Any, calllog: list[Any]) -> Any:
            calllog.append((name, "around"))
            return proceed()

        def after(calllog: list[Any]) -> None:
            calllog.append((name, "after"))

        return Aspect.of(
            name, [("before:save", before), ("around:save", around), ("after:save", after)]
        )

    aspects = [stress_aspect(n) for n in ("A", "B", "C", "D")]
    errors: list[BaseException] = []
    bad: list[Any] = []
    calls = [0] * CALLERS
    toggles = [0]
    toggling_done = threading.Event()
    stop = threading.Event()  # set when the test ends, however it ends
    barrier = threading.Barrier(CALLERS + 1)

    def expected(calllog: list[Any], x: int) -> list[Any]:
        names = [entry[0] for entry in calllog if entry[1:] == ("before",)]
        return (
            [(n, "before") for n in names]
            + [(n, "around") for n in names]
            + [("save", x)]
            + [(n, "after") for n in reversed(names)]
        )

    def caller(index: int) -> None:
        try:
            barrier.wait(SAFETY_TIMEOUT)
            obj = Target()
            i = 0
            while i < MAX_CALLS and not stop.is_set():
                if i >= MIN_CALLS and toggling_done.is_set():
                    break
                calllog: list[Any] = []
                result = obj.save(calllog, i)
                if result != i or calllog != expected(calllog, i):
                    bad.append((result, i, calllog))
                i += 1
            calls[index] = i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def toggler() -> None:
        rng = random.Random(1234)
        try:
            barrier.wait(SAFETY_TIMEOUT)
            for _ in range(TOGGLES):
                if stop.is_set():
                    break
                aspect = rng.choice(aspects)
                action = rng.randrange(5)
                if action == 0:
                    weaver.weave(Target, aspect)
                elif action == 1:
                    weaver.unweave(Target, aspect.name)
                elif action == 2:
                    weaver.set_enabled(aspect.switch, rng.random() < 0.5)
                elif action == 3:
                    weaver.unweave(Target)
                else:
                    with trace():  # switches every dispatcher to the interpreted one and back
                        weaver.weave(Target, aspect)
                toggles[0] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            toggling_done.set()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    threads.append(threading.Thread(target=toggler))
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + SAFETY_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in threads if thread.is_alive()]
    finally:
        stop.set()
        barrier.abort()  # a thread still waiting to start gives up
        for thread in threads:
            if thread.ident is not None:
                thread.join(SAFETY_TIMEOUT)
        sys.setswitchinterval(old_interval)
        weaver.unweave(Target)
        for aspect in aspects:
            weaver.set_enabled(aspect.switch, True)
    assert stuck == [], f"threads still running after {SAFETY_TIMEOUT}s of bounded work"
    assert errors == []
    assert bad == []
    assert toggles[0] == TOGGLES
    assert all(MIN_CALLS <= n <= MAX_CALLS for n in calls), calls
    assert all(vars(Target)[k] is v for k, v in snapshot.items())
    assert vars(Target).keys() == snapshot.keys()
