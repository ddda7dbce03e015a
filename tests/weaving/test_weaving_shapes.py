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
