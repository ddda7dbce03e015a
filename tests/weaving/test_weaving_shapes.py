"""What one more class of a known shape re-uses at weave time (issue 18, point 7).

Weaving a class with the plugins another class of the same methods already
has takes what depends only on that shape from caches: the chain's
[`ChainShape`][earnorm_aop.weaving.codegen.ChainShape] (keyed by plain
values, ``codegen._shape_key``), the methods each pointcut selects (by the
class's method names), and, within one class, one ``write`` maker per woven
method however many advice ask for it.  These tests pin that each cached
answer is the answer computed afresh, so sharing never changes what a class
runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_dispatch import SyncModel, aspect_specs, build_plan

from earnorm_aop import Aspect, PluginRegistry, hook, plugin, unweave, with_plugins
from earnorm_aop.errors import ProceedError
from earnorm_aop.weaving import codegen, weaver
from earnorm_aop.weaving.advice import Source


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(aspects=aspect_specs(allow_async=False))
def test_a_shape_taken_from_the_cache_is_the_one_the_plan_gives(
    aspects: list[dict[str, Any]],
) -> None:
    class M(SyncModel):
        pass

    class N(SyncModel):
        pass

    codegen._shapes.clear()
    first = codegen.Generator(build_plan(M, aspects, []))  # computed, then cached
    second = codegen.Generator(build_plan(N, aspects, []))  # taken from the cache
    for gen in (first, second):
        keyed_on_instance = gen.ns["_gsub"] is None
        fresh = codegen.Generator.__new__(codegen.Generator)
        fresh.plan, fresh.ns = gen.plan, dict(gen.ns)
        assert gen.shape == fresh._shape(gen.plan, keyed_on_instance)
        # The chain's values are exactly the names its code closes over, in order.
        assert tuple(gen.ns) == gen.shape.values
    if codegen._shape_key(second.plan, second.ns["_gsub"] is None) is not None:
        assert second.shape is first.shape
    else:  # advice asking for target parameters: the shape depends on the signature
        assert any(p.source is Source.TARGET for a in second.plan.all for p in a.params)
    assert second.ns["_advice0"] is not first.ns["_advice0"]  # each class its own values


def test_proceed_called_twice_names_the_advice_and_the_class() -> None:
    """The message is made when raised (no string per woven class), and says the same."""

    class Twice:
        def save(self) -> int:
            return 1

    def around(proceed: Any) -> Any:
        proceed()
        return proceed()

    weaver.weave(Twice, Aspect.of("again", [("around:save", around)]))
    try:
        with pytest.raises(ProceedError) as info:
            Twice().save()
        assert str(info.value) == (
            f"proceed() called twice by around advice again.around on {Twice.__qualname__}.save"
        )
    finally:
        weaver.unweave(Twice)


def test_each_class_gets_the_methods_its_own_names_select() -> None:
    """The selection is cached by the class's method names, never shared across other names."""
    registry = PluginRegistry()

    @plugin("glob", registry=registry)
    class Glob:
        @hook("before:save*")
        def note(self) -> None:
            pass

    class One:
        def save(self) -> None:
            pass

    class Two:
        def save(self) -> None:
            pass

        def save_all(self) -> None:
            pass

    class Three:
        def save(self) -> None:
            pass

    for klass in (One, Two, Three):
        with_plugins("glob", registry=registry)(klass)
    try:
        assert [c.method for c in weaver.describe(One)] == ["save"]
        assert sorted(c.method for c in weaver.describe(Two)) == ["save", "save_all"]
        assert [c.method for c in weaver.describe(Three)] == ["save"]
    finally:
        for klass in (One, Two, Three):
            unweave(klass)


def test_the_advice_of_one_method_share_its_write_maker() -> None:
    """One ``write`` maker per woven method, whichever advice asks (and each class its own)."""
    registry = PluginRegistry()

    @plugin("first", registry=registry)
    class First:
        @hook("before:save")
        def one(self, write: Any) -> None:
            pass

    @plugin("second", registry=registry)
    class Second:
        @hook("after:save")
        def two(self, write: Any) -> None:
            pass

    def note() -> type:
        class Note:
            def save(self) -> None:
                pass

        return Note

    a = with_plugins("first", "second", registry=registry)(note())
    b = with_plugins("first", "second", registry=registry)(note())
    try:

        def makers(klass: type) -> list[Any]:
            (chain,) = weaver.describe(klass)
            return [p.default for x in chain.advice for p in x.params if p.source is Source.CALL]

        first, second = makers(a)
        assert first is second
        assert first.args[1] is a  # the maker holds its model: each class its own
        assert makers(b)[0].args[1] is b
    finally:
        unweave(a)
        unweave(b)


# --------------------------------------------------------------------------
# Cells shared between dispatchers, and classes of one shape kept apart
# --------------------------------------------------------------------------


def _cells(klass: type, name: str) -> dict[str, Any]:
    dispatcher = vars(klass)[name]._self_wrapper
    return dict(zip(dispatcher.__code__.co_freevars, dispatcher.__closure__, strict=True))


def _shop(registry: PluginRegistry, log: list[tuple[str, str, str]]) -> None:
    """Plugins ``a`` and ``b``, each with a before advice on save and on delete (given the
    adapter, a weave-time constant)."""
    for name in ("a", "b"):

        @plugin(name, registry=registry)
        class Logging:
            tag = name

            def before_save(self, instance: Any, adapter: Any, model: type) -> None:
                log.append((type(instance).__name__, self.tag, "save"))

            def before_delete(self, instance: Any, adapter: Any, model: type) -> None:
                log.append((type(instance).__name__, self.tag, "delete"))


def _model(name: str) -> type:
    class Model:
        def save(self) -> None:
            pass

        def delete(self) -> None:
            pass

    Model.__name__ = Model.__qualname__ = name
    return Model


def test_dispatchers_share_the_cells_of_one_value_and_keep_their_own_memo() -> None:
    registry = PluginRegistry()
    _shop(registry, [])
    first = with_plugins("a", "b", registry=registry)(_model("First"))
    second = with_plugins("a", "b", registry=registry)(_model("Second"))
    try:
        one, other, two = _cells(first, "save"), _cells(first, "delete"), _cells(second, "save")
        switch = registry.switch("a")
        assert one["_switch0"] is two["_switch0"] is switch.cell  # one cell per plugin
        # One class's chains close over one cell of its adapter (a weave-time constant).
        assert one["_value0_1"].cell_contents is two["_value0_1"].cell_contents
        assert one["_value0_1"] is other["_value0_1"]
        assert one["model_of"] is two["model_of"]  # ``type``: one cell for every class
        assert one["_memo"] is not other["_memo"]  # rebound per call: never shared
        assert one["_memo"] is not two["_memo"]
    finally:
        unweave(first)
        unweave(second)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("toggle"), st.sampled_from("ab")),
        st.tuples(st.just("unweave"), st.sampled_from("ab"), st.integers(0, 2)),
        st.tuples(st.just("weave"), st.sampled_from("ab"), st.integers(0, 2)),
        st.tuples(st.just("block"), st.sampled_from("ab")),
    ),
    max_size=12,
)


@settings(max_examples=examples(60), deadline=None)
@given(ops=_OPS)
def test_classes_of_one_shape_behave_each_as_its_own_model(ops: list[tuple[Any, ...]]) -> None:
    """Three classes woven alike, then toggled, unwoven and re-woven apart: each class runs
    exactly the plugins a simple model says it has (woven on it, switched on, not disabled
    in this context), whatever the classes share."""
    from earnorm_aop import weave as weave_plugin

    registry = PluginRegistry()
    log: list[tuple[str, str, str]] = []
    _shop(registry, log)
    classes = [with_plugins("a", "b", registry=registry)(_model(f"M{i}")) for i in range(3)]
    woven = [{"a", "b"} for _ in classes]
    enabled = {"a": True, "b": True}
    blocked: set[str] = set()
    try:
        for op in ops:
            if op[0] == "toggle":
                enabled[op[1]] = not enabled[op[1]]
                (registry.enable if enabled[op[1]] else registry.disable)(op[1])
            elif op[0] == "unweave":
                unweave(classes[op[2]], op[1], registry=registry)
                woven[op[2]].discard(op[1])
            elif op[0] == "weave":
                weave_plugin(classes[op[2]], op[1], registry=registry)
                woven[op[2]].add(op[1])
            else:
                blocked ^= {op[1]}
        with registry.disabled(*blocked):
            log.clear()
            for klass in classes:
                klass().save()
                klass().delete()
        expected = [
            (klass.__name__, tag, method)
            for klass, mine in zip(classes, woven, strict=True)
            for method in ("save", "delete")
            for tag in ("a", "b")
            if tag in mine and enabled[tag] and tag not in blocked
        ]
        assert log == expected
    finally:
        for klass in classes:
            unweave(klass)
    for klass in classes:  # unwoven: each class as it was
        assert not weaver.describe(klass)
        assert not any(isinstance(v, weaver.Woven) for v in vars(klass).values())
