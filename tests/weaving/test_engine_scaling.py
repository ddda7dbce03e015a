"""Invariants behind the engine's scaling: what toggles, traces and weaving must not do.

The benchmark (``benchmarks/scaling.py``) measures the costs; these tests pin
the mechanisms that keep them flat, by counting work, never timing it:

- entering and leaving ``disabled()`` or ``trace()`` re-weaves nothing, and
  flips the gate only of chains that use the plugin;
- ``disable`` / ``enable`` re-plans only the classes that use the plugin;
- identical chains share one compiled code object (one ``compile()``), and the
  code cached by chain shape is exactly what the generator writes;
- the caches keep no class alive;
- ``import earnorm_aop`` imports neither wrapt (asyncio) nor pydantic.
"""

from __future__ import annotations

import contextvars
import dataclasses
import enum
import gc
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_dispatch import SyncModel, aspect_specs, build_plan

from earnorm_aop import Aspect, PluginRegistry, plugin, trace, with_plugins
from earnorm_aop.weaving import codegen, generated, rebuild, scope, weaver


def fresh(name: str = "Model") -> type:
    class Model:
        def save(self, x: int) -> int:
            return x

    Model.__name__ = Model.__qualname__ = name
    return Model


def gate_cell(klass: type, name: str = "save") -> Any:
    """The gate cell the dispatcher of ``klass.name`` closes over."""
    dispatcher = vars(klass)[name]._self_wrapper
    return dispatcher.__closure__[dispatcher.__code__.co_freevars.index("_g")]


def gate_value(klass: type, name: str = "save") -> int:
    return int(gate_cell(klass, name).cell_contents)


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    """A private registry with plugins ``tog`` (before), ``other`` (after) and ``solo``."""
    registry = PluginRegistry()
    calls: list[str] = []

    @plugin("tog", registry=registry)
    class Tog:
        def before_save(self, instance: Any) -> None:
            calls.append("tog")

    @plugin("other", registry=registry)
    class Other:
        def after_save(self, instance: Any) -> None:
            calls.append("other")

    @plugin("solo", registry=registry)
    class Solo:
        def before_save(self, instance: Any) -> None:
            calls.append("solo")

    registry.calls = calls  # type: ignore[attr-defined]
    yield registry


@pytest.fixture
def models(reg: PluginRegistry) -> Iterator[list[type]]:
    """Twenty classes woven with ``tog`` and ``other``; unwoven afterwards."""
    made = [with_plugins("tog", "other", registry=reg)(fresh(f"M{i}")) for i in range(20)]
    yield made
    for klass in made:
        weaver.unweave(klass)


# --------------------------------------------------------------------------
# disabled() and trace(): nothing is re-woven
# --------------------------------------------------------------------------


def test_a_disabled_block_reweaves_nothing_and_opens_only_its_plugins_gates(
    reg: PluginRegistry, models: list[type]
) -> None:
    quiet = with_plugins("solo", registry=reg)(fresh("Quiet"))
    try:
        wrappers = {klass: vars(klass)["save"] for klass in [*models, quiet]}
        planned = rebuild.stats.planned
        assert gate_value(models[0]) == 0
        with reg.disabled("tog"):
            assert all(gate_value(klass) == 1 for klass in models)
            assert gate_value(quiet) == 0  # a model not using the plugin keeps its plain path
            reg.calls.clear()  # type: ignore[attr-defined]
            models[0]().save(1)
            quiet().save(1)
            assert reg.calls == ["other", "solo"]  # type: ignore[attr-defined]
        assert rebuild.stats.planned == planned
        assert all(vars(klass)["save"] is w for klass, w in wrappers.items())
        assert all(gate_value(klass) == 0 for klass in [*models, quiet])
    finally:
        weaver.unweave(quiet)


def test_a_block_in_another_thread_opens_the_gate_but_not_this_threads_toggles(
    reg: PluginRegistry, models: list[type]
) -> None:
    entered, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        with reg.disabled("tog"):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert entered.wait(10)
        assert gate_value(models[0]) == 1
        reg.calls.clear()  # type: ignore[attr-defined]
        models[0]().save(1)
        assert reg.calls == ["tog", "other"]  # type: ignore[attr-defined]
    finally:
        release.set()
        thread.join(10)
    assert gate_value(models[0]) == 0


def test_trace_reweaves_nothing_and_collects_only_its_own_context(
    reg: PluginRegistry, models: list[type]
) -> None:
    wrappers = {klass: vars(klass)["save"] for klass in models}
    planned = rebuild.stats.planned
    inside, release = threading.Event(), threading.Event()
    records: list[Any] = []

    def tracing_thread() -> None:
        with trace() as t:
            models[1]().save(2)
            inside.set()
            release.wait(10)
        records.extend(t)

    thread = threading.Thread(target=tracing_thread)
    thread.start()
    try:
        assert inside.wait(10)
        assert gate_value(models[0]) == 1  # some trace is open: gates are open
        reg.calls.clear()  # type: ignore[attr-defined]
        models[0]().save(1)  # an untraced caller: its advice runs, nothing is recorded
        assert reg.calls == ["tog", "other"]  # type: ignore[attr-defined]
    finally:
        release.set()
        thread.join(10)
    assert [(r.plugin, r.kind, r.model) for r in records] == [
        ("tog", "before", "M1"),
        ("other", "after", "M1"),
    ]
    assert rebuild.stats.planned == planned
    assert all(vars(klass)["save"] is w for klass, w in wrappers.items())
    assert gate_value(models[0]) == 0


def memo_of(klass: type, name: str = "save") -> Any:
    """The last disabled set the dispatcher of ``klass.name`` saw, with its run flags."""
    dispatcher = vars(klass)[name]._self_wrapper
    return dispatcher.__closure__[dispatcher.__code__.co_freevars.index("_memo")].cell_contents


def test_a_call_inside_a_block_keeps_its_sets_flags_for_the_next_call(
    reg: PluginRegistry, models: list[type]
) -> None:
    """The checked body computes run/skip flags once per disabled set, and again
    when a call comes from a context with another set."""
    calls = reg.calls  # type: ignore[attr-defined]
    one, two = contextvars.copy_context(), contextvars.copy_context()
    off_tog, off_other = reg.disabled("tog"), reg.disabled("other")
    one.run(off_tog.__enter__)
    two.run(off_other.__enter__)
    try:
        for context, expected, flags in [
            (one, ["other"], (False, True)),
            (one, ["other"], (False, True)),
            (two, ["tog"], (True, False)),
            (one, ["other"], (False, True)),
        ]:
            calls.clear()
            context.run(models[0]().save, 1)
            assert calls == expected
            memo = memo_of(models[0])
            assert memo[0] is context.run(scope.DISABLED.get)
            assert memo[1:] == flags
        calls.clear()
        models[0]().save(1)  # no block in this context: every plugin runs
        assert calls == ["tog", "other"]
    finally:
        one.run(off_tog.__exit__, None, None, None)
        two.run(off_other.__exit__, None, None, None)


def test_threads_with_different_disabled_sets_each_see_only_their_own() -> None:
    """The flags live in one tuple replaced whole: threads alternating sets on
    the same dispatcher never run a call with another thread's flags."""
    registry = PluginRegistry()
    local = threading.local()
    for name in ("t0", "t1"):

        def before_save(self: Any, instance: Any, _name: str = name) -> None:
            local.seen.append(_name)

        plugin(name, registry=registry)(type(name, (), {"before_save": before_save}))
    klass = with_plugins("t0", "t1", registry=registry)(fresh("Threaded"))
    wrong: list[tuple[str, list[str]]] = []
    counts = {"t0": 0, "t1": 0}
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        expected = [p for p in ("t0", "t1") if p != name]
        with registry.disabled(name):
            start.wait(10)
            for _ in range(2000):
                local.seen = []
                klass().save(1)
                counts[name] += 1
                if local.seen != expected:
                    wrong.append((name, local.seen))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, mid-call
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in counts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
        weaver.unweave(klass)
    assert counts == {"t0": 2000, "t1": 2000}
    assert wrong == []


# --------------------------------------------------------------------------
# disable / enable: only the classes using the plugin
# --------------------------------------------------------------------------


def test_a_toggle_replans_only_the_classes_using_the_plugin(
    reg: PluginRegistry, models: list[type]
) -> None:
    solo = with_plugins("tog", "solo", registry=reg)(fresh("Solo"))
    try:
        before = rebuild.stats.planned
        reg.disable("solo")
        assert rebuild.stats.planned - before == 1
        assert weaver.classes_with(reg.switch("solo")) == [solo]
        before = rebuild.stats.planned
        reg.enable("solo")
        assert rebuild.stats.planned - before == 1
        # The plugin every class uses re-plans every one of them, once.
        before = rebuild.stats.planned
        reg.disable("tog")
        assert rebuild.stats.planned - before == len(models) + 1
        reg.enable("tog")
    finally:
        weaver.unweave(solo)
    reg.calls.clear()  # type: ignore[attr-defined]
    models[0]().save(1)
    assert reg.calls == ["tog", "other"]  # type: ignore[attr-defined]


def test_the_toggle_index_follows_weave_and_unweave(reg: PluginRegistry) -> None:
    a, b = fresh("A"), fresh("B")
    switch = reg.switch("solo")
    with_plugins("solo", registry=reg)(a)
    with_plugins("solo", "tog", registry=reg)(b)
    assert set(weaver.classes_with(switch)) == {a, b}
    weaver.unweave(b, "solo")
    assert weaver.classes_with(switch) == [a]
    weaver.unweave(a)
    weaver.unweave(b)
    assert weaver.classes_with(switch) == []


# --------------------------------------------------------------------------
# Compiled code: shared, cached by shape, keeping nothing alive
# --------------------------------------------------------------------------


def test_switching_a_plugin_off_and_on_compiles_nothing(
    reg: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = with_plugins("tog", "solo", registry=reg)(fresh("Toggled"))
    compiled: list[str] = []

    def counting(source: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile(source, *args, **kwargs)

    reg.disable("solo")
    reg.enable("solo")
    monkeypatch.setattr(generated, "compile", counting, raising=False)
    try:
        for _ in range(3):
            reg.disable("solo")
            reg.enable("solo")
        assert compiled == []
    finally:
        weaver.unweave(model)


def test_identical_chains_share_one_compiled_code_object(
    reg: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []

    def counting(source: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile(source, *args, **kwargs)

    first = with_plugins("tog", "solo", registry=reg)(fresh("First"))
    monkeypatch.setattr(generated, "compile", counting, raising=False)
    more = [with_plugins("tog", "solo", registry=reg)(fresh(f"More{i}")) for i in range(5)]
    try:
        assert compiled == []  # the same chain on five more classes: no compile()
        codes = {vars(k)["save"]._self_wrapper.__code__ for k in [first, *more]}
        assert len(codes) == 1
        # Each class still runs its own plugin instances.
        assert len({vars(k)["save"]._self_wrapper for k in [first, *more]}) == 6
    finally:
        for klass in [first, *more]:
            weaver.unweave(klass)


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(aspects=aspect_specs(allow_async=False))
def test_code_cached_by_shape_is_what_the_generator_writes(aspects: list[dict[str, Any]]) -> None:
    """The shape key must cover everything the source depends on."""

    class M(SyncModel):
        pass

    plan = build_plan(M, aspects, [])
    dispatcher = generated.compile_chain(plan)
    _, fresh_source = codegen.Generator(plan).generate()
    assert generated.source_of(dispatcher) == fresh_source


def _plain_data(value: Any) -> bool:
    """Whether ``value`` is built of strings, numbers, enums and tuples of them only."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_plain_data(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return all(_plain_data(v) for v in value)
    return value is None or isinstance(value, str | int | enum.Enum)


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(aspects=aspect_specs(allow_async=False))
def test_the_source_is_written_from_a_frozen_shape_that_keys_the_cache(
    aspects: list[dict[str, Any]],
) -> None:
    """Two chains of one shape on other classes and functions: one shape, one source, one code."""

    class M(SyncModel):
        pass

    class N(SyncModel):
        pass

    first = codegen.Generator(build_plan(M, aspects, []))
    second = codegen.Generator(build_plan(N, aspects, []))
    assert first.shape == second.shape and hash(first.shape) == hash(second.shape)
    assert _plain_data(first.shape)  # a cache keyed by it keeps no class or function alive
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.shape.guard = True  # type: ignore[misc]
    assert codegen._Writer(first.shape).module() == second.generate()[1]
    one = generated.compile_chain(first.plan)
    other = generated.compile_chain(second.plan)
    assert one.__code__ is other.__code__


def test_caches_keep_no_woven_class_alive(reg: PluginRegistry) -> None:
    def make() -> weakref.ref[type]:
        class Base:
            def save(self, x: int) -> int:
                return x

        class Child(Base):
            def save(self, x: int) -> int:  # uses super(): a __class__ cell
                return super().save(x) + 1

        with_plugins("tog", "solo", registry=reg)(Base)
        with_plugins("other", registry=reg)(Child)
        Child().save(1)
        with reg.disabled("tog"), trace():
            Child().save(1)
        reg.disable("solo")
        reg.enable("solo")
        return weakref.ref(Child)

    refs = [make() for _ in range(3)]
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert weaver.classes_with(reg.switch("solo")) == []
    assert not rebuild._users.get(reg.switch("solo"))  # dead entries purged on the way


def test_generated_code_and_its_source_go_with_the_last_dispatcher() -> None:
    aspect = Aspect.of("lonely", [("before:save", lambda: None), ("error:save", lambda: None)])
    model = fresh("Lonely")
    weaver.weave(model, aspect)
    filename = vars(model)["save"]._self_wrapper.__code__.co_filename
    code = weakref.ref(vars(model)["save"]._self_wrapper.__code__)
    assert filename in generated.linecache.cache
    weaver.unweave(model)
    # Recently used code is kept a while (bounded), so toggling does not
    # compile again; nothing else holds it.
    assert generated._recent.maxlen is not None
    generated._recent.clear()
    gc.collect()
    assert filename not in generated.linecache.cache
    assert code() is None


def test_gates_are_shared_by_plugin_set_and_counted_exactly(reg: PluginRegistry) -> None:
    a = with_plugins("tog", "other", registry=reg)(fresh("A"))
    b = with_plugins("other", "tog", registry=reg)(fresh("B"))
    try:
        assert gate_cell(a) is gate_cell(b)  # the same plugins, whatever their order
        with reg.disabled("tog", "other"):
            assert gate_value(a) == gate_value(b) == 2  # one per plugin disabled
            with trace():
                assert gate_value(a) == 3
        assert gate_value(a) == gate_value(b) == 0
        assert scope.mode.tracing == 0
    finally:
        weaver.unweave(a)
        weaver.unweave(b)


# --------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------


def test_importing_the_package_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, earnorm_aop\n"
        "heavy = ['wrapt', 'asyncio', 'pydantic', 'importlib.metadata']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == ""


# --------------------------------------------------------------------------
# Gates under any interleaving of blocks, contexts and calls
# --------------------------------------------------------------------------

PLUGINS = ("p0", "p1", "p2")
# Which plugins each model weaves.
USES = (("p0",), ("p0", "p1"), ("p1", "p2"), ("p0", "p1", "p2"))

operations = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 2), st.sets(st.sampled_from(PLUGINS), min_size=1)),
    st.tuples(st.just("close"), st.integers(0, 2), st.just(frozenset())),
    st.tuples(st.just("trace"), st.integers(0, 2), st.just(frozenset())),
    st.tuples(st.just("call"), st.integers(0, 2), st.sampled_from(range(len(USES)))),
)


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operations, max_size=30))
def test_gates_and_calls_follow_any_interleaving_of_blocks(ops: list[tuple[Any, ...]]) -> None:
    """Each call runs its model's plugins minus those its own context disabled;
    each gate counts the open traces and the open blocks naming its plugins."""
    registry = PluginRegistry()
    ran: list[str] = []
    for name in PLUGINS:

        def before_save(self: Any, instance: Any, _name: str = name) -> None:
            ran.append(_name)

        plugin(name, registry=registry)(type(name, (), {"before_save": before_save}))
    classes = [
        with_plugins(*uses, registry=registry)(fresh(f"U{i}")) for i, uses in enumerate(USES)
    ]
    contexts = [contextvars.copy_context() for _ in range(3)]
    stacks: list[list[tuple[str, Any, Any]]] = [[], [], []]
    try:
        for op, k, arg in ops:
            if op == "open":
                cm = registry.disabled(*sorted(arg))
                contexts[k].run(cm.__enter__)
                stacks[k].append(("disabled", cm, frozenset(arg)))
            elif op == "trace":
                cm = trace()
                recorder = contexts[k].run(cm.__enter__)
                stacks[k].append(("trace", cm, recorder))
            elif op == "close" and stacks[k]:
                _, cm, _ = stacks[k].pop()
                contexts[k].run(cm.__exit__, None, None, None)
            elif op == "call":
                ran.clear()
                traced = [r for kind, _, r in stacks[k] if kind == "trace"]
                before = len(traced[-1]) if traced else 0
                contexts[k].run(classes[arg]().save, 1)
                off = frozenset().union(*(a for kind, _, a in stacks[k] if kind == "disabled"))
                expected = [p for p in USES[arg] if p not in off]
                assert sorted(ran) == sorted(expected)
                if traced:
                    assert len(traced[-1]) - before == len(expected)
            tracing = sum(1 for s in stacks for kind, _, _ in s if kind == "trace")
            for klass, uses in zip(classes, USES, strict=True):
                blocks = sum(
                    len(arg & set(uses)) for s in stacks for kind, _, arg in s if kind == "disabled"
                )
                assert gate_value(klass) == tracing + blocks
    finally:
        for k, stack in enumerate(stacks):
            while stack:
                _, cm, _ = stack.pop()
                contexts[k].run(cm.__exit__, None, None, None)
        for klass in classes:
            weaver.unweave(klass)
