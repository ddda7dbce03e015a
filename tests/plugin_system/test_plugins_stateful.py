"""Hypothesis: any sequence of register / weave / unweave / enable / disable leaves a state
where a call runs exactly the advice of the enabled, woven plugins, in the documented order.

The machine keeps a small model of what DESIGN.md promises (each class's own plugins in
listing order with their configuration, the inherited ones a subclass opted out of, the
globally disabled names) and checks real calls against it after every step, on a parent
class and on a subclass that inherits from it.  ``gamma`` (priority 5) requires ``beta``
(priority 0): weaving it weaves ``beta`` too, and ``beta`` runs first whenever both do.
"""

from __future__ import annotations

from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from earnorm_aop import (
    DependencyError,
    PluginNotFoundError,
    PluginRegistry,
    hook,
    unweave,
    weave,
)
from earnorm_aop.weaving import weaver

NAMES = ("alpha", "beta", "gamma", "delta")
PRIORITY = {"alpha": 0, "beta": 0, "gamma": 5, "delta": -5}
REQUIRES = {"gamma": ["beta"]}

names = st.sampled_from(NAMES)
tags = st.integers(0, 3)


def make_plugin(name: str, log: list[Any]) -> type:
    """A plugin with one advice of each kind on ``save``, logging ``(name, kind, tag)``."""

    class P:
        priority = PRIORITY[name]
        requires = REQUIRES.get(name, [])

        def __init__(self, tag: int = 0) -> None:
            self.tag = tag

        def before_save(self) -> None:
            log.append((name, "before", self.tag))

        def around_save(self, proceed: Any) -> Any:
            log.append((name, "around>", self.tag))
            result = proceed()
            log.append((name, "<around", self.tag))
            return result

        @hook("chain:save")
        def chain(self, value: Any) -> Any:
            log.append((name, "chain", self.tag))
            return [*value, name]

        def after_save(self, result: Any) -> None:
            log.append((name, "after", self.tag, tuple(result)))

    P.__name__ = P.__qualname__ = f"Plugin_{name}"
    return P


def expected(plugins: list[tuple[str, int]]) -> tuple[list[Any], list[str]]:
    """The log and the result of one ``save()`` with ``plugins`` (name, tag) in run order."""
    log: list[Any] = [(n, "before", t) for n, t in plugins]
    log += [(n, "around>", t) for n, t in plugins]
    log.append("save")
    log += [(n, "<around", t) for n, t in reversed(plugins)]
    log += [(n, "chain", t) for n, t in reversed(plugins)]
    result = [n for n, _ in reversed(plugins)]
    log += [(n, "after", t, tuple(result)) for n, t in reversed(plugins)]
    return log, result


class PluginStates(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[Any] = []
        self.reg = PluginRegistry(group=None)
        log = self.log

        def save(self: Any) -> list[str]:
            log.append("save")
            return []

        self.original = save

        class Parent:
            pass

        Parent.save = save  # type: ignore[attr-defined]

        class Child(Parent):
            pass

        self.parent, self.child = Parent, Child
        self.registered: set[str] = set()
        self.disabled: set[str] = set()
        # per class: own plugins in listing order -> tag; and opted-out inherited names
        self.own: dict[type, dict[str, int]] = {Parent: {}, Child: {}}
        self.excluded: set[str] = set()  # on Child only

    # -- the model of DESIGN.md ---------------------------------------------------

    def effective(self, model: type) -> list[tuple[str, int]]:
        parent = list(self.own[self.parent].items())
        if model is self.parent:
            listed = parent
        else:
            mine = self.own[self.child]
            listed = [(n, mine.get(n, t)) for n, t in parent if n not in self.excluded]
            listed += [(n, t) for n, t in mine.items() if n not in dict(parent)]
        # priority (higher first), the listing order within equal priorities ...
        ranked = sorted(listed, key=lambda nt: -PRIORITY[nt[0]])
        # ... then each requirement moved before the plugin that requires it
        present = dict(ranked)
        out: list[tuple[str, int]] = []
        for name, tag in ranked:
            for dep in REQUIRES.get(name, []):
                if dep in present and (dep, present[dep]) not in out:
                    out.append((dep, present[dep]))
            if (name, tag) not in out:
                out.append((name, tag))
        return out

    def running(self, model: type, off: set[str] = frozenset()) -> list[tuple[str, int]]:  # type: ignore[assignment]
        return [(n, t) for n, t in self.effective(model) if n not in self.disabled | off]

    # -- rules --------------------------------------------------------------------

    @rule(name=names)
    def register(self, name: str) -> None:
        if name in self.registered:
            cls = self.reg.get_plugin(name).cls
            self.reg.register(name, cls)  # the same class again: a no-op
        else:
            self.reg.register(name, make_plugin(name, self.log))
            self.registered.add(name)

    @precondition(lambda self: self.registered)
    @rule(data=st.data(), child=st.booleans(), tag=tags)
    def weave(self, data: st.DataObject, child: bool, tag: int) -> None:
        name = data.draw(st.sampled_from(sorted(self.registered)))
        model = self.child if child else self.parent
        missing = [d for d in REQUIRES.get(name, []) if d not in self.registered]
        if missing:
            with pytest.raises(DependencyError, match=f"requires {missing[0]!r}"):
                weave(model, name, registry=self.reg, tag=tag)
            return
        weave(model, name, registry=self.reg, tag=tag)
        woven = dict(self.effective(model))
        for dep in REQUIRES.get(name, []):
            if dep not in woven:  # a requirement the model lacks: default configuration
                self.add(model, dep, 0)
        self.add(model, name, tag)

    def add(self, model: type, name: str, tag: int) -> None:
        self.own[model][name] = tag
        if model is self.child:
            self.excluded.discard(name)

    @precondition(lambda self: self.registered)
    @rule(data=st.data(), child=st.booleans())
    def unweave(self, data: st.DataObject, child: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.registered)))
        model = self.child if child else self.parent
        inherited = child and name in dict(self.effective(self.parent))
        unweave(model, name, registry=self.reg)
        self.own[model].pop(name, None)
        if inherited:
            self.excluded.add(name)

    @rule(name=names)
    def disable(self, name: str) -> None:
        if name not in self.registered:
            try:
                self.reg.disable(name)
            except PluginNotFoundError:
                return
            raise AssertionError("disabling an unregistered name must fail")
        self.reg.disable(name)
        self.disabled.add(name)

    @precondition(lambda self: self.registered)
    @rule(data=st.data())
    def enable(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.registered)))
        self.reg.enable(name)
        self.disabled.discard(name)

    @precondition(lambda self: self.registered)
    @rule(data=st.data(), child=st.booleans())
    def call_inside_disabled(self, data: st.DataObject, child: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.registered)))
        model = self.child if child else self.parent
        with self.reg.disabled(name):
            self.check_call(model, self.running(model, {name}))

    # -- invariants -----------------------------------------------------------------

    def check_call(self, model: type, plugins: list[tuple[str, int]]) -> None:
        self.log.clear()
        result = model().save()
        want_log, want_result = expected(plugins)
        assert self.log == want_log, f"{model.__name__}: ran {self.log}, expected {want_log}"
        assert result == want_result

    @invariant()
    def calls_run_exactly_the_enabled_woven_advice(self) -> None:
        for model in (self.parent, self.child):
            self.check_call(model, self.running(model))

    @invariant()
    def no_enabled_advice_costs_nothing(self) -> None:
        if not self.running(self.parent):
            assert vars(self.parent)["save"] is self.original
        if not self.running(self.child):
            assert self.child.save is self.original

    def teardown(self) -> None:
        unweave(self.child)
        unweave(self.parent)
        assert not weaver.open_disabled_blocks()


PluginStates.TestCase.settings = settings(
    max_examples=examples(200),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPluginStates = PluginStates.TestCase
