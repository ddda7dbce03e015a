"""Custom events: ``@hook("after_change")`` handlers fired by ``emit``/``aemit``.

An event is a hook name that does not name a model method (``after_change``,
or ``before_update`` on a model without ``update``).  ``emit(instance, event,
**payload)`` calls every enabled handler of the instance's model in plugin
order, injecting ``instance``, ``model``, ``event`` and the payload keys by
name, and what advice may ask for besides (``user``, the actor of the call
context, and ``context``) when the payload does not give it.  The lifecycle
events ([`LIFECYCLE`][earnorm_aop.plugin_system.events.LIFECYCLE]) are fired by the system itself.

Which handlers an event has on a class is decided when the class's plans are
rebuilt ([`earnorm_aop.weaving.weaver.event_handlers`][earnorm_aop.weaving.weaver.event_handlers] is
one look-up), so an event nobody listens to costs a look-up and a test of an empty tuple,
before anything is built.  Handler parameters are read per call (cached per
handler): that cost is paid only where someone listens.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from ..errors import PluginError
from ..weaving import extensions, scope, weaver
from ..weaving.aspect import AdviceSpec, Aspect
from ..weaving.commit import streak_of
from ..weaving.planning import Handlers
from ..weaving.policy import policy_of, record_failure

__all__ = [
    "LIFECYCLE",
    "QUERY_LOAD",
    "aemit",
    "emit",
    "emit_deferred",
    "fire",
    "fire_prepared",
    "fire_query_load",
    "firing",
    "listened",
    "listens_to_lifecycle",
    "prepare",
    "prepared_for",
]

QUERY_LOAD = "after_query_load"
"""The lifecycle event of a record a query loaded; ``@hook("after_access", loads=True)``
listens to it too."""

LIFECYCLE: dict[str, str] = {
    "after_change": "after each write that changes a record (create, save, update, delete, "
    "each row of save_many / update_many / delete_many, soft delete, restore)",
    "after_commit_change": "the same, once the write's transaction commits",
    "after_access": "after get() returns a record (a cache hit too)",
    "after_query_load": "for each record a query loads, for handlers that ask "
    '(@hook("after_access", loads=True))',
}
"""The events the system fires by itself: the built-in ``lifecycle`` plugin, woven on a
model as soon as one of its plugins listens to one of them (so a model nobody listens
on pays nothing)."""

# A handler's parameters, read once per handler: (name, positional only, has a
# default) each, whether it takes ``**kwargs``, and whether it is ``async def``.
_Plan = tuple[tuple[tuple[str, bool, bool], ...], bool, bool]
_plans: dict[int, tuple[AdviceSpec, _Plan]] = {}
_BUILT_IN = frozenset({"instance", "model", "event"})


def _plan(spec: AdviceSpec) -> _Plan:
    cached = _plans.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    params: list[tuple[str, bool, bool]] = []
    varkw = False
    for p in inspect.signature(spec.func).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            varkw = True
        elif p.kind is not p.VAR_POSITIONAL:
            params.append((p.name, p.kind is p.POSITIONAL_ONLY, p.default is not p.empty))
    plan = (tuple(params), varkw, inspect.iscoroutinefunction(spec.func))
    _plans[id(spec)] = (spec, plan)
    return plan


def _arguments(
    aspect: Aspect,
    spec: AdviceSpec,
    instance: Any,
    event: str,
    payload: dict[str, Any],
    plan: _Plan | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The handler's arguments: by name from the payload, the event, or an injectable."""
    params, varkw, _ = plan or _plan(spec)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, positional_only, optional in params:
        if name in payload:
            value = payload[name]
        elif name in _BUILT_IN:
            value = instance if name == "instance" else type(instance) if name == "model" else event
        elif name in (points := extensions.installed()).injectables:
            value = points.injectables[name]()  # ``user``, ``context``: as advice gets them
        elif name in points.constants:
            value = points.constants[name](type(instance))  # ``adapter``
        elif optional:
            continue
        else:
            given = ", ".join(dict.fromkeys(["instance", "model", "event", *payload]))
            raise PluginError(
                f"plugin {aspect.name!r}, handler {spec.name!r} of event {event!r} needs "
                f"{name!r}, but emit() gave {given}"
            )
        if positional_only:
            positional.append(value)
        else:
            keywords[name] = value
    if varkw:
        for key, value in payload.items():
            keywords.setdefault(key, value)
    return positional, keywords


def listened(model: type, event: str) -> bool:
    """Whether any enabled handler of ``event`` is woven on ``model`` (one look-up).

    For a caller whose payload costs something to build: nobody listens, nothing built.
    """
    return bool(weaver.event_handlers(model, event))


def listens_to_lifecycle(aspect: Aspect) -> bool:
    """Whether ``aspect`` handles one of the
    [`LIFECYCLE`][earnorm_aop.plugin_system.events.LIFECYCLE] events (by its event name)."""
    return any(spec.target in LIFECYCLE for spec in aspect.advices)


def fire_query_load(instance: Any) -> None:
    """The load watcher of a model some handler asked loads of (``Adapter.watch_loads``).

    One look-up when nobody listens (the handler switched off, unwoven).  ``user``
    and ``context`` are injected as in every handler (the call context's).
    """
    if weaver.event_handlers(type(instance), QUERY_LOAD):
        emit(instance, QUERY_LOAD)


def firing(aspects: Sequence[Aspect]) -> dict[str, None]:
    """The events ``aspects`` fire by themselves (their classes' ``fires``), in order.

    ``after_query_load`` only where a handler asks for it: nothing watches the
    loads of any other model.
    """
    asked = {spec.target for aspect in aspects for spec in aspect.advices}
    found: dict[str, None] = {}
    for aspect in aspects:
        for event in getattr(type(aspect.plugin), "fires", ()):
            if event != QUERY_LOAD or event in asked:
                found[event] = None
    return found


def _handlers(instance: Any, event: str) -> Sequence[tuple[Aspect, AdviceSpec]]:
    found = weaver.event_handlers(type(instance), event)
    if not found:
        return found  # nobody listens
    off = scope.DISABLED.get()
    if not off:
        return found
    return [(a, s) for a, s in found if a.switch not in off]


def _what(spec: AdviceSpec, instance: Any, event: str) -> str:
    return f"handler {spec.name!r} of event {event!r} on {type(instance).__qualname__}"


def _failed(aspect: Aspect, spec: AdviceSpec, instance: Any, event: str, exc: Exception) -> None:
    """Apply the plugin's error policy to a failing handler (as the chain does for advice)."""
    policy_of(aspect).failed(aspect, exc, _what(spec, instance, event))


def _succeeded(aspect: Aspect) -> None:
    policy_of(aspect).succeeded(aspect)


def emit(instance: Any, event: str, **payload: Any) -> list[Any]:
    """Fire ``event`` on ``instance``'s model; return the handlers' results in order."""
    return fire(instance, event, weaver.event_handlers(type(instance), event), payload)


def fire(
    instance: Any,
    event: str,
    handlers: Sequence[tuple[Aspect, AdviceSpec]],
    payload: dict[str, Any],
) -> list[Any]:
    """[`emit`][earnorm_aop.plugin_system.events.emit] with the model's handlers already looked up
    (the lifecycle plugin's path)."""
    if not handlers:
        return []
    off = scope.DISABLED.get()
    if off:
        handlers = [(a, s) for a, s in handlers if a.switch not in off]
    results = []
    for aspect, spec in handlers:
        plan = _plan(spec)
        if plan[2]:
            raise _async_handler(aspect, spec, event)
        args, kwargs = _arguments(aspect, spec, instance, event, payload, plan)
        try:
            results.append(spec.func(*args, **kwargs))
        except Exception as exc:
            _failed(aspect, spec, instance, event, exc)
        else:
            policy_of(aspect).succeeded(aspect)
    return results


def _async_handler(aspect: Aspect, spec: AdviceSpec, event: str) -> PluginError:
    """The error of an async handler fired where it cannot be awaited."""
    return PluginError(
        f"plugin {aspect.name!r}: handler {spec.name!r} of event {event!r} is async; "
        "fire the event with 'await aemit(...)'"
    )


def emit_deferred(instance: Any, event: str, **payload: Any) -> None:
    """[`emit`][earnorm_aop.plugin_system.events.emit] where the write's transaction ends
    (``after_commit_change``): the handlers run for their effect, from the commit.

    Under ``disable``, each handler's failures in a row are its own streak, as an
    ``after_commit`` advice's ([`commit`][earnorm_aop.weaving.commit]): the
    plugin's code that succeeded at the write, or another handler at this
    commit, does not reset it, so a handler failing at every commit still
    reaches ``max_failures``.  Each handler's streak, policy and plan are decided
    once for the model's handlers of the event (again when they change), not per commit.
    """
    model = type(instance)
    handlers = weaver.event_handlers(model, event)
    if not handlers:
        return
    off = scope.DISABLED.get()
    for aspect, spec, plan, run, policy, failed in _deferred_of(model, event, handlers):
        if off and aspect.switch in off:
            continue
        if plan[2]:
            raise _async_handler(aspect, spec, event)
        args, kwargs = _arguments(aspect, spec, instance, event, payload, plan)
        run(policy, failed, instance, spec.func, args, kwargs)


_Deferred = tuple[Aspect, AdviceSpec, _Plan, Any, Any, Any]
# model -> event -> (the handlers, each as emit_deferred runs it); remade when the model's
# handlers of the event are another tuple (a rebuild makes a new one).
_deferred: weakref.WeakKeyDictionary[type, dict[str, tuple[Handlers, tuple[_Deferred, ...]]]] = (
    weakref.WeakKeyDictionary()
)


def _deferred_of(model: type, event: str, handlers: Handlers) -> tuple[_Deferred, ...]:
    by_event = _deferred.get(model)
    found = None if by_event is None else by_event.get(event)
    if found is not None and found[0] is handlers:
        return found[1]
    prepared = tuple(
        (
            aspect,
            spec,
            _plan(spec),
            streak_of(aspect.switch, f"{event}:{spec.name}").run,
            policy_of(aspect),
            functools.partial(
                _deferred_failed,
                aspect,
                f"handler {spec.name!r} of event {event!r} on {model.__qualname__}",
            ),
        )
        for aspect, spec in handlers
    )
    _deferred.setdefault(model, {})[event] = (handlers, prepared)
    return prepared


def _deferred_failed(
    aspect: Aspect, what: str, error: BaseException, instance: Any, streak: int | None
) -> bool:
    return record_failure(aspect, error, what, streak)


# A handler with its arguments decided for a payload of known keys: (aspect, spec,
# the function, its keyword names read from the call's values, their getter
# (``itemgetter`` of two or more names, made once), whether those names are all
# its parameters in order (then passed by position: no keyword dict), the
# injectables' getters by name, and whether its policy counts consecutive
# failures); or, for a handler the fast path cannot serve, its names are None
# and ``_arguments`` decides.
Prepared = tuple[
    tuple[
        Aspect,
        AdviceSpec,
        Any,
        "tuple[str, ...] | None",
        Any,
        bool,
        "tuple[tuple[str, Any], ...]",
        bool,
    ],
    ...,
]


def prepare(
    handlers: Sequence[tuple[Aspect, AdviceSpec]], event: str, keys: Sequence[str]
) -> Prepared:
    """Each handler's arguments decided once for payloads with ``keys`` (made when handlers change).

    What ``_arguments`` works out per call (which parameter comes from the
    payload, which is ``instance`` / ``model`` / ``event``, which an injectable)
    depends only on the handler and the payload's keys: a plugin firing one
    event with one payload shape (the ``lifecycle`` plugin) decides it when the
    model's handlers change and then calls each handler with no look-up but
    the values'.  A handler taking positional-only parameters, ``**kwargs``, a
    weave-time constant or a name the payload lacks, or an ``async def`` one,
    keeps the general path (which also says what is wrong).
    """
    given = frozenset((*keys, *_BUILT_IN))
    points = extensions.installed()
    out = []
    for aspect, spec in handlers:
        params, varkw, is_async = _plan(spec)
        names: list[str] = []
        getters: list[tuple[str, Any]] = []
        simple = not varkw and not is_async
        for name, positional_only, optional in params:
            if positional_only:
                simple = False
            elif name in given:
                names.append(name)
            elif name in points.injectables:
                getters.append((name, points.injectables[name]))
            elif not optional:
                simple = False  # a constant, or missing: the general path decides
        disables = policy_of(aspect).disables
        picked = tuple(names) if simple else None
        pick = itemgetter(*names) if picked is not None and len(names) > 1 else None
        positional = (
            picked is not None and bool(names) and not getters and _in_order(spec.func, picked)
        )
        out.append((aspect, spec, spec.func, picked, pick, positional, tuple(getters), disables))
    return tuple(out)


# prepare()'s answers by handlers tuple (a model's handlers are a new tuple after
# each rebuild, so an entry never goes stale; it holds its tuple, so the id is
# not reused while it lasts).  Cleared when it grows: rebuilds are rare.
_prepared: dict[tuple[int, str, tuple[str, ...]], tuple[Any, Prepared]] = {}


def prepared_for(
    handlers: Sequence[tuple[Aspect, AdviceSpec]], event: str, keys: tuple[str, ...]
) -> Prepared:
    """[`prepare`][earnorm_aop.plugin_system.events.prepare], kept for the same handlers tuple.

    For a write that fires an event per row (a bulk write's ``after_change``):
    the handlers' arguments are decided once per set of handlers, not per
    statement.
    """
    key = (id(handlers), event, keys)
    found = _prepared.get(key)
    if found is not None and found[0] is handlers:
        return found[1]
    if len(_prepared) > 1024:
        _prepared.clear()
    made = prepare(handlers, event, keys)
    _prepared[key] = (handlers, made)
    return made


def _in_order(func: Any, names: tuple[str, ...]) -> bool:
    """Whether ``names`` are all of ``func``'s parameters, in order, each passable by position."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    if len(params) != len(names):
        return False
    pairs = zip(params, names, strict=True)
    return all(p.name == n and p.kind is p.POSITIONAL_OR_KEYWORD for p, n in pairs)


def fire_prepared(
    instance: Any, event: str, prepared: Prepared, values: dict[str, Any]
) -> list[Any]:
    """[`fire`][earnorm_aop.plugin_system.events.fire] of handlers
    [`prepare`][earnorm_aop.plugin_system.events.prepare] made; ``values`` holds the payload and
    ``instance`` / ``model`` / ``event``."""
    off = scope.DISABLED.get()
    results = []
    for aspect, spec, func, names, pick, positional, getters, disables in prepared:
        if off and aspect.switch in off:
            continue
        if names is None:
            payload = {k: v for k, v in values.items() if k not in _BUILT_IN}
            results += fire(instance, event, ((aspect, spec),), payload)
            continue
        try:
            # Picked by C code (no comprehension frame): one name, or itemgetter's tuple.
            if positional:  # ``log_change(self, instance, changes)``: no keyword dict
                value = func(*pick(values)) if pick is not None else func(values[names[0]])
            else:
                if pick is not None:
                    kwargs = dict(zip(names, pick(values), strict=True))
                elif names:
                    kwargs = {names[0]: values[names[0]]}
                else:  # only injectables (``user``, ``context``)
                    kwargs = {}
                for name, getter in getters:
                    kwargs[name] = getter()
                value = func(**kwargs)
            results.append(value)
        except Exception as exc:
            _failed(aspect, spec, instance, event, exc)
        else:
            if disables:
                aspect.switch.consecutive_failures = 0
    return results


async def aemit(instance: Any, event: str, **payload: Any) -> list[Any]:
    """Like [`emit`][earnorm_aop.plugin_system.events.emit], awaiting async handlers (sync handlers
    are called directly)."""
    results = []
    for aspect, spec in _handlers(instance, event):
        args, kwargs = _arguments(aspect, spec, instance, event, payload)
        try:
            value = spec.func(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
            results.append(value)
        except Exception as exc:
            _failed(aspect, spec, instance, event, exc)
        else:
            _succeeded(aspect)
    return results
