"""Planning: which advice of which aspect applies to which method of a model.

Pure functions of the weaver's state and a class: the effective aspects (own
and inherited, in run order), the method names pointcuts range over (adapter
operations included), and one [`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan] per
advised method.  Nothing here changes a class.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any

from ..errors import WeavingError
from . import extensions
from .advice import Provided, Target, plan_advice
from .aspect import AdviceSpec, Aspect
from .chain import ChainPlan
from .pointcut import Kind, Pointcut, split_event
from .state import MISSING, Woven, state_of, states


def effective(model: type, *, skip_self: bool = False) -> list[Aspect]:
    found: dict[str, Aspect] = {}
    for klass in reversed(model.__mro__):
        if skip_self and klass is model:
            continue
        state = states.get(klass)
        if state is None:
            continue
        for name in state.excluded:
            found.pop(name, None)
        for name, aspect in state.own.items():
            found[name] = aspect
    return _order(list(found.values()))


def _order(aspects: list[Aspect]) -> list[Aspect]:
    """Priority (higher first, stable), then each dependency moved before its dependents."""
    ranked = sorted(aspects, key=lambda a: -a.priority)
    by_name = {a.name: a for a in ranked}
    out: list[Aspect] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(a: Aspect) -> None:
        if a.name in done or a.name in visiting:
            return  # cycles are reported by the plugin layer
        visiting.add(a.name)
        for dep in a.requires:
            if dep in by_name:
                visit(by_name[dep])
        visiting.discard(a.name)
        done.add(a.name)
        out.append(a)

    for a in ranked:
        visit(a)
    return out


# Method objects functools makes: descriptors that bind like functions, so the
# weaver wraps them as it does a function (wrapt binds through their __get__).
_ROUTINES = (
    types.FunctionType,
    classmethod,
    staticmethod,
    Woven,
    functools.partialmethod,
    functools.singledispatchmethod,
    type(functools.lru_cache(lambda: None)),  # lru_cache and cache
)


def routine(value: Any) -> bool:
    return isinstance(value, _ROUTINES)


def method_names(model: type) -> tuple[dict[str, None], dict[str, None]]:
    """(names globs range over, names exact patterns may use), in MRO order."""
    points = extensions.current.record
    # Operations first: asking the adapter may import the model's integration,
    # which is what makes its framework bases known.
    operations = points.operations(model)
    bases = points.framework_bases()
    public: dict[str, None] = {}
    every: dict[str, None] = {}
    for klass in model.__mro__:
        if klass is object:
            continue
        framework = klass in bases
        state = states.get(klass)
        originals = state.originals if state is not None else ()  # a mock over ours counts
        for name, value in vars(klass).items():
            if name == "__init_subclass__" or not (routine(value) or name in originals):
                continue
            every.setdefault(name, None)
            if not framework:
                public.setdefault(name, None)
    for name in operations:
        every.setdefault(name, None)
        public.setdefault(name, None)
    return public, every


def _matches(
    pointcut: Pointcut,
    names: tuple[dict[str, None], dict[str, None]],
    key: tuple[tuple[str, ...], tuple[str, ...]],
) -> tuple[str, ...]:
    """The names ``pointcut`` selects; ``key``: ``names`` as tuples, what the answer is cached by.

    Models of one shape have the same method names: a pointcut is matched
    against them once, not once per model.
    """
    cache = pointcut.selected
    found = cache.get(key)
    if found is None:
        public, every = names
        out = pointcut.select(public)
        out += [n for n in pointcut.exact_names if n in every and n not in out]
        if len(cache) > 256:  # bounded: the shapes of an application's models
            cache.clear()
        found = cache[key] = tuple(out)
    return found


def event_as_pointcut(
    event: str, names: tuple[dict[str, None], dict[str, None]]
) -> tuple[Kind, str] | None:
    split = split_event(event)
    if split is not None and split[1] in names[1]:
        return split
    return None


Handlers = tuple[tuple[Aspect, AdviceSpec], ...]
"""The enabled handlers of one custom event on one class, in plugin order."""

NO_HANDLERS: Handlers = ()
"""Nobody listens: false, so a caller tests it before building a payload."""


def event_table(
    aspects: list[Aspect], names: tuple[dict[str, None], dict[str, None]]
) -> dict[str, Handlers]:
    """Each custom event the enabled ``aspects`` handle on a class, with its handlers.

    An event spec is a custom event on a class exactly when it is not woven as
    a pointcut there (``before_save`` on a model without ``save``); ``names``
    are the class's [`method_names`][earnorm_aop.weaving.planning.method_names].
    """
    table: dict[str, list[tuple[Aspect, AdviceSpec]]] = {}
    for aspect in aspects:
        if not aspect.switch.enabled:
            continue
        for spec in aspect.advices:
            event = spec.target
            if isinstance(event, str) and event_as_pointcut(event, names) is None:
                table.setdefault(event, []).append((aspect, spec))
    return {event: tuple(found) for event, found in table.items()}


def _lookup_raw_value(model: type, name: str) -> Any:
    for klass in model.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return MISSING


def lookup_original(model: type, name: str) -> tuple[type, Any]:
    """The class that defines ``name`` for ``model`` and its unwoven dict value."""
    for klass in model.__mro__:
        if name in vars(klass) and name not in state_of(klass).shadows:
            value = vars(klass)[name]
            if isinstance(value, Woven):
                return value._self_origin, value._self_raw
            # A foreign object (mock.patch.object) standing over our wrapper:
            # the method is still the original we recorded.
            return klass, state_of(klass).originals.get(name, value)
    raise WeavingError(f"{model.__qualname__} has no attribute {name!r}")  # pragma: no cover


def plan_class(
    model: type,
    aspects: list[Aspect],
    *,
    include_disabled: bool = False,
    names: tuple[dict[str, None], dict[str, None]] | None = None,
) -> tuple[dict[str, ChainPlan], dict[tuple[type, str], ChainPlan]]:
    """Each advised method of ``model`` with its chain (enabled aspects only unless asked).

    ``names``: ``model``'s [`method_names`][earnorm_aop.weaving.planning.method_names], when the
    caller has them.
    """
    if names is None:
        names = method_names(model)
    per_method: dict[str, list[tuple[Aspect, AdviceSpec, Kind]]] = {}
    key = (tuple(names[0]), tuple(names[1]))
    for aspect in aspects:
        for spec in aspect.advices:
            bound = spec.target
            if isinstance(bound, Pointcut):
                matched = _matches(bound, names, key)
                if not matched and not spec.optional:
                    raise WeavingError(
                        f"plugin {aspect.name!r}, advice {spec.name!r}: pointcut '{bound}' "
                        f"matches no method of {model.__qualname__}; its methods are "
                        f"{', '.join(names[0]) or '(none)'} (mark the hook optional=True "
                        "if that is expected)"
                    )
                for name in matched:
                    per_method.setdefault(name, []).append((aspect, spec, bound.kind))
            else:
                split = event_as_pointcut(bound, names)
                if split is not None:
                    per_method.setdefault(split[1], []).append((aspect, spec, split[0]))
    plans: dict[str, ChainPlan] = {}
    foreign: dict[tuple[type, str], ChainPlan] = {}
    points = extensions.current.record
    operations = points.operations(model)
    memo: dict[tuple[Any, ...], Any] = {}  # one adapter, one maker per target: shared
    provided = Provided(points.injectables, points.constants, model, points.per_call, "", memo)
    for name, entries in per_method.items():
        on = (
            Provided(points.injectables, points.constants, model, points.per_call, name, memo)
            if points.per_call
            else provided
        )
        targets: list[tuple[type | None, Target]] = []
        if name in operations:
            for owner, attr in operations[name]:
                origin, raw = lookup_original(owner, attr)
                targets.append((owner, Target.of(origin, attr, raw, model=model)))
        else:
            origin, raw = lookup_original(model, name)
            targets.append((None, Target.of(origin, name, raw)))
        for per_model_owner, found in targets:
            subject = points.subject(model, name, found)
            target = found if subject == found.subject else found.with_subject(subject)
            # Plan every advice (disabled ones too) so a bad one fails at weave time;
            # one the resolver answers with None has no work here and is left out.
            planned = [
                (aspect, plan_advice(aspect, *resolved, target, on))
                for aspect, spec, kind in entries
                if (resolved := points.advice(model, name, target, aspect, spec, kind)) is not None
            ]
            kept = [p for a, p in planned if include_disabled or a.switch.enabled]
            if not kept:
                continue
            plan = ChainPlan.build(target, kept, model=model)
            if per_model_owner is None:
                plans[name] = plan
            else:
                foreign[(per_model_owner, target.name)] = dataclasses.replace(
                    plan, label=name, owner=per_model_owner
                )
    return plans, foreign
