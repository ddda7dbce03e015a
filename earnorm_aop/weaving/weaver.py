"""The weaver: puts aspects onto classes and takes them off again.

State per class is small: the aspects woven on it (``own``), the inherited ones
it opted out of (``excluded``), and the class-dict values it replaced.  After
every change the weaver *rebuilds* the affected hierarchy: for each class it
works out each method's advice chain, compiles one dispatcher per chain and
installs one wrapt ``FunctionWrapper`` per (class, method) — or puts the
original object back when no enabled advice is left, so an unwoven or disabled
plugin costs nothing.  Installing is a single attribute assignment, so a call
already running keeps the chain it started with.

This module is the engine's public face; the work is done by
[`earnorm_aop.weaving.planning`][earnorm_aop.weaving.planning] (what applies where) and
[`earnorm_aop.weaving.rebuild`][earnorm_aop.weaving.rebuild] (making class dicts match), on the
state kept in [`earnorm_aop.weaving.state`][earnorm_aop.weaving.state].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import WeavingError
from . import scope
from .advice import PlannedAdvice
from .aspect import Aspect, Switch
from .planning import NO_HANDLERS, Handlers, effective, event_table, method_names, plan_class
from .rebuild import classes_using, rebuild_classes, set_enabled, subclasses
from .state import (
    NO_EVENTS,
    Listening,
    State,
    Woven,
    disabled_counts,
    event_tables,
    listening,
    lock,
    mode,
    set_table,
    states,
)
from .tracing import Trace

__all__ = [
    "MethodChain",
    "classes_with",
    "describe",
    "effective_aspects",
    "event_handlers",
    "is_woven",
    "listening_to",
    "open_disabled_blocks",
    "refresh",
    "set_enabled",
    "set_rollout",
    "switch_off",
    "trace",
    "unweave",
    "weave",
    "weave_many",
    "woven_classes",
]

# Woven (tells our wrappers from others), subclasses and mode are part of the
# engine's inside view, used by its tests; they are imported here for them.
_INSIDE = (Woven, subclasses, mode)


# --------------------------------------------------------------------------
# Public engine API
# --------------------------------------------------------------------------


def weave(model: type, aspect: Aspect) -> None:
    """Weave ``aspect`` onto ``model`` (and, by inheritance, its subclasses).

    Weaving the same aspect object twice is a no-op; weaving another aspect with the same name
    replaces it in place (re-configuration).  Raises
    [`WeavingError`][earnorm_aop.errors.WeavingError] before changing anything if the aspect does
    not fit.
    """
    weave_many(model, [aspect])


def weave_many(model: type, aspects: Iterable[Aspect]) -> None:
    """Weave several aspects with one rebuild; all or none of them (see ``weave``)."""
    _check_class(model)
    aspects = list(aspects)
    with lock:
        state = states.get(model)
        if state is not None and all(state.own.get(a.name) is a for a in aspects):
            return
        if state is None:
            state = states[model] = State()
        before = (dict(state.own), state.excluded)
        for aspect in aspects:
            if aspect.name in state.excluded:
                state.excluded -= {aspect.name}
            state.own[aspect.name] = aspect
        _rebuild_or_restore(model, state, before)


def _rebuild_or_restore(
    model: type, state: State, before: tuple[dict[str, Aspect], frozenset[str]]
) -> None:
    """Rebuild ``model``'s hierarchy; if that fails, ``state`` is as ``before`` again.

    All or nothing, for weaving and unweaving alike: a rebuild that raises has
    changed no class (see ``rebuild_classes``), so the record must not either.
    """
    try:
        rebuild_classes([model])
    except BaseException:
        state.own, state.excluded = before
        if state.idle:
            states.pop(model, None)
        raise


def refresh(model: type) -> None:
    """Re-plan ``model`` and its subclasses with what its adapter maps now.

    An ORM adapter calls this once a class is fully built (Django sends
    ``class_prepared`` after ``__init_subclass__``), so the methods it maps onto
    other objects, such as the model's manager, are woven there too.
    """
    _check_class(model)
    with lock:
        rebuild_classes([model])


def unweave(model: type, aspect: Aspect | str | None = None) -> None:
    """Remove one aspect (by object or name) from ``model``, or all of them.

    An aspect ``model`` inherits is excluded on ``model`` (and its subclasses)
    only; the parent keeps it.  Unweaving an aspect that is not there is a
    no-op.
    """
    _check_class(model)
    with lock:
        names = (
            [a.name for a in effective_aspects(model)]
            if aspect is None
            else [aspect if isinstance(aspect, str) else aspect.name]
        )
        state = states.get(model)
        before = ({}, frozenset()) if state is None else (dict(state.own), state.excluded)
        inherited = {a.name for a in effective(model, skip_self=True)}
        changed = False
        for name in names:
            if state is not None and name in state.own:
                del state.own[name]
                changed = True
            if name in inherited:
                if state is None:
                    state = states[model] = State()
                if name not in state.excluded:
                    state.excluded |= {name}
                    changed = True
        if changed:
            assert state is not None  # a change is made to a state, created if need be
            _rebuild_or_restore(model, state, before)


def switch_off(switch: Switch) -> None:
    """A plugin tripped its ``max_failures``: switch it off on every class that uses it.

    The engine's own ``on_auto_disable`` reaction, installed first (see
    [`extensions`][earnorm_aop.weaving.extensions]).
    """
    set_enabled(switch, False)


def effective_aspects(model: type) -> list[Aspect]:
    """The aspects that apply to ``model``, inherited ones included, in run order."""
    with lock:
        return effective(model)


def is_woven(model: type, name: str) -> bool:
    """Whether an aspect called ``name`` applies to ``model``."""
    return any(a.name == name for a in effective_aspects(model))


def set_rollout(switch: Switch, rollout: object) -> None:
    """Put ``rollout`` (or None) on ``switch`` and re-weave the classes that use the plugin.

    The engine does not read it: the ``advice`` extension point does, at weave
    time, so a plugin without one is woven (and costs) as before.
    """
    with lock:
        before = switch.rollout
        switch.rollout = rollout
        try:
            rebuild_classes(classes_using({switch}))
        except BaseException:
            switch.rollout = before
            raise


def classes_with(switch: Switch) -> list[type]:
    """The classes that weave an aspect of this switch's plugin themselves."""
    with lock:
        return classes_using({switch})


def woven_classes() -> list[type]:
    """Every class that has aspects of its own or has opted out of inherited ones."""
    with lock:
        return list(states.keys())


@dataclass(frozen=True)
class MethodChain:
    """One woven method of a model as ``describe`` reports it."""

    method: str
    advice: tuple[PlannedAdvice, ...]  # in execution order
    installed: bool  # whether a wrapper is in force (False when all advice is disabled)


def describe(model: type) -> list[MethodChain]:
    """Each method of ``model`` that has advice, with its chain in execution order."""
    with lock:
        plans, foreign = plan_class(model, effective(model), include_disabled=True)
        out = []
        for name, plan in plans.items():
            installed = any(a.aspect.switch.enabled for a in plan.all)
            out.append(MethodChain(name, plan.all, installed))
        for (owner, attr), plan in foreign.items():
            installed = any(a.aspect.switch.enabled for a in plan.all)
            label = f"{plan.label} ({owner.__qualname__}.{attr})"
            out.append(MethodChain(label, plan.all, installed))
        return out


def event_handlers(model: type, event: str) -> Handlers:
    """The enabled handlers of custom ``event`` on ``model``, in plugin order.

    One look-up: each class's table is made when its plans are rebuilt
    ([`event_table`][earnorm_aop.weaving.planning.event_table]); an empty result
    (``NO_HANDLERS``) is false, for the caller to test before building a payload.
    """
    table = event_tables.get(model)
    if table is None:  # a class no rebuild has reached: planned once, here
        table = _event_table_of(model)
    return table.get(event, NO_HANDLERS)


def _event_table_of(model: type) -> Mapping[str, Handlers]:
    with lock:
        table = event_tables.get(model)
        if table is None:
            aspects = effective(model)
            table = event_table(aspects, method_names(model)) if aspects else NO_EVENTS
            set_table(model, table)
        return table


def listening_to(model: type) -> Listening:
    """``model``'s event table as an object whose ``table`` every rebuild keeps current.

    For advice specialised to ``model`` at weave time: it takes this once and
    reads ``listening.table.get(event)`` per call, which is what
    [`event_handlers`][earnorm_aop.weaving.weaver.event_handlers] answers,
    without the look-up by class.  Asked while ``model`` is being planned, it
    holds the table in force until the rebuild in progress installs the new one.
    """
    with lock:
        held = listening.get(model)
        if held is None:
            held = listening[model] = Listening(event_tables.get(model, NO_EVENTS))
        return held


# --------------------------------------------------------------------------
# Context-local toggles and tracing (see scope.py)
# --------------------------------------------------------------------------


def context_scope_opened(switches: Iterable[Switch]) -> None:
    """A ``disabled()`` block started: make dispatchers of these plugins check it.

    Nothing is re-woven: the dispatchers of these plugins test a shared cell (see
    [`earnorm_aop.weaving.scope`][earnorm_aop.weaving.scope]), so the cost does not depend on how
    many classes are woven.
    """
    switches = list(switches)
    with lock:
        for s in switches:
            disabled_counts[s] = disabled_counts.get(s, 0) + 1
        scope.disabled_opened(switches)


def open_disabled_blocks() -> dict[Switch, int]:
    """The ``disabled()`` blocks open now, in any thread or task, per plugin (a copy).

    What a test harness compares before and after a test to find a block
    the test left open.
    """
    with lock:
        return dict(disabled_counts)


def context_scope_closed(switches: Iterable[Switch]) -> None:
    """A ``disabled()`` block ended: drop the checks no other block needs."""
    switches = list(switches)
    with lock:
        scope.disabled_closed(switches)
        for s in switches:
            disabled_counts[s] -= 1
            if disabled_counts[s] == 0:
                del disabled_counts[s]


def tracing_started() -> None:
    """A ``trace()`` block opened: dispatchers start testing the trace context variable."""
    with lock:
        scope.trace_opened()


def tracing_stopped() -> None:
    with lock:
        scope.trace_closed()


def _check_class(model: object) -> None:
    if not isinstance(model, type):
        raise WeavingError(f"can only weave onto a class, not {model!r}")


@contextmanager
def trace() -> Iterator[Trace]:
    """Record every advice run in this thread / task until the block ends."""
    recorder = Trace()
    tracing_started()
    token = scope.TRACE.set(recorder)
    try:
        yield recorder
    finally:
        scope.TRACE.reset(token)
        tracing_stopped()
