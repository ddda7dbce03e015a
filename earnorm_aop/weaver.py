"""The weaver: puts aspects onto classes and takes them off again.

State per class is small: the aspects woven on it (``own``), the inherited ones
it opted out of (``excluded``), and the class-dict values it replaced.  After
every change the weaver *rebuilds* the affected hierarchy: for each class it
works out each method's advice chain, compiles one dispatcher per chain and
installs one wrapt ``FunctionWrapper`` per (class, method) — or puts the
original object back when no enabled advice is left, so an unwoven or disabled
plugin costs nothing.  Installing is a single attribute assignment, so a call
already running keeps the chain it started with.

Rebuilds run in two passes: the first plans every class (and raises, changing
nothing, if a pointcut or parameter is bad); the second installs.
"""

from __future__ import annotations

import dataclasses
import threading
import types
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import wrapt

from ._codegen import compile_chain
from ._interpreter import interpret_chain
from .advice import PlannedAdvice, Target, plan_advice
from .aspect import AdviceSpec, Aspect, Switch
from .chain import ChainPlan
from .errors import WeavingError
from .pointcut import Kind, Pointcut, split_event

__all__ = [
    "MethodChain",
    "classes_with",
    "describe",
    "effective_aspects",
    "event_handlers",
    "is_woven",
    "refresh",
    "register_framework_base",
    "set_enabled",
    "unweave",
    "weave",
    "weave_many",
    "woven_classes",
]

_lock = threading.RLock()
_MISSING: Any = object()


# Our wrappers by id, so ``isinstance(value, _Woven)`` tells them from any other
# FunctionWrapper (a user's own wrapt decorator) without subclassing.
_woven_ids: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


class _WovenType(type):
    def __instancecheck__(cls, value: object) -> bool:
        ours = _woven_ids.get(id(value))
        return ours is not None and ours is value


class _Woven(metaclass=_WovenType):
    """The one wrapper installed per woven (class, method).

    ``_Woven(raw, dispatcher)`` makes a *plain* ``wrapt.FunctionWrapper``:
    wrapt's C ``__get__`` takes a slower path for any subclass (it looks up
    ``__bound_function_wrapper__`` on every bind), which made each call of a
    woven method about 8% slower.  ``isinstance(value, _Woven)`` still
    recognises ours.  Besides wrapt's proxying the wrapper remembers, in
    ``_self_`` attributes, what it wraps (``_self_raw``, found in
    ``_self_origin``'s dict) and the chain it runs, so the weaver can tell an
    inherited wrapper from one a subclass needs of its own.
    """

    _self_raw: Any
    _self_origin: type
    _self_key: Any
    _self_guard: bool
    _self_traced: bool
    _self_plan: ChainPlan

    def __new__(cls, wrapped: Any, dispatcher: Callable[..., Any]) -> _Woven:
        wrapper: Any = wrapt.FunctionWrapper(wrapped, dispatcher)
        _woven_ids[id(wrapper)] = wrapper
        return wrapper  # type: ignore[no-any-return]


_framework_bases: set[type] = {object}


def register_framework_base(cls: type) -> None:
    """Exclude ``cls``'s methods from globs (as for ``object`` and ``pydantic.BaseModel``)."""
    _framework_bases.add(cls)


try:  # pydantic is a core dependency, but keep the engine importable without it
    import pydantic

    register_framework_base(pydantic.BaseModel)
except ImportError:  # pragma: no cover
    pass


@dataclass(eq=False)
class _State:
    """What the weaver did to one class."""

    own: dict[str, Aspect] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)
    originals: dict[str, Any] = field(default_factory=dict)  # name -> replaced dict value
    hook: Any = _MISSING  # previous __init_subclass__ dict value while our hook is installed
    # (owner, attribute) -> replaced dict value, for methods an adapter maps
    # onto objects other than the model class (a Django model's manager).
    foreign: dict[tuple[type, str], Any] = field(default_factory=dict)
    # name -> an inherited original put in this class's dict to hide a parent's
    # wrapper whose aspects this class opted out of (unweave on a subclass).
    shadows: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.own and not self.excluded

    @property
    def idle(self) -> bool:
        """Nothing to remember: the class can be forgotten."""
        return (
            self.empty
            and not self.originals
            and not self.foreign
            and not self.shadows
            and self.hook is _MISSING
        )


_states: weakref.WeakKeyDictionary[type, _State] = weakref.WeakKeyDictionary()
_ctx_counts: dict[Switch, int] = {}
# Called with each new subclass of a woven class (the model layer reads its Meta).
subclass_listeners: list[Callable[[type], None]] = []
_tracing = 0


# --------------------------------------------------------------------------
# Public engine API
# --------------------------------------------------------------------------


def weave(model: type, aspect: Aspect) -> None:
    """Weave ``aspect`` onto ``model`` (and, by inheritance, its subclasses).

    Weaving the same aspect object twice is a no-op; weaving another aspect
    with the same name replaces it in place (re-configuration).  Raises
    :class:`WeavingError` before changing anything if the aspect does not fit.
    """
    weave_many(model, [aspect])


def weave_many(model: type, aspects: Iterable[Aspect]) -> None:
    """Weave several aspects with one rebuild; all or none of them (see :func:`weave`)."""
    _check_class(model)
    aspects = list(aspects)
    with _lock:
        state = _states.get(model)
        if state is not None and all(state.own.get(a.name) is a for a in aspects):
            return
        if state is None:
            state = _states[model] = _State()
        before = (dict(state.own), set(state.excluded))
        for aspect in aspects:
            state.excluded.discard(aspect.name)
            state.own[aspect.name] = aspect
        try:
            _rebuild([model])
        except BaseException:
            state.own, state.excluded = before
            if state.idle:
                _states.pop(model, None)
            raise


def refresh(model: type) -> None:
    """Re-plan ``model`` and its subclasses with what its adapter maps now.

    An ORM adapter calls this once a class is fully built (Django sends
    ``class_prepared`` after ``__init_subclass__``), so the methods it maps onto
    other objects, such as the model's manager, are woven there too.
    """
    _check_class(model)
    with _lock:
        _rebuild([model])


def unweave(model: type, aspect: Aspect | str | None = None) -> None:
    """Remove one aspect (by object or name) from ``model``, or all of them.

    An aspect ``model`` inherits is excluded on ``model`` (and its subclasses)
    only; the parent keeps it.  Unweaving an aspect that is not there is a
    no-op.
    """
    _check_class(model)
    with _lock:
        names = (
            [a.name for a in effective_aspects(model)]
            if aspect is None
            else [aspect if isinstance(aspect, str) else aspect.name]
        )
        state = _states.get(model)
        inherited = {a.name for a in _effective(model, skip_self=True)}
        changed = False
        for name in names:
            if state is not None and name in state.own:
                del state.own[name]
                changed = True
            if name in inherited:
                if state is None:
                    state = _states[model] = _State()
                if name not in state.excluded:
                    state.excluded.add(name)
                    changed = True
        if changed:
            _rebuild([model])


def effective_aspects(model: type) -> list[Aspect]:
    """The aspects that apply to ``model``, inherited ones included, in run order."""
    with _lock:
        return _effective(model)


def is_woven(model: type, name: str) -> bool:
    """Whether an aspect called ``name`` applies to ``model``."""
    return any(a.name == name for a in effective_aspects(model))


def classes_with(switch: Switch) -> list[type]:
    """The classes that weave an aspect of this switch's plugin themselves."""
    with _lock:
        return _classes_using({switch})


def woven_classes() -> list[type]:
    """Every class that has aspects of its own or has opted out of inherited ones."""
    with _lock:
        return list(_states.keys())


def set_enabled(switch: Switch, enabled: bool) -> None:
    """Switch a plugin on or off on every class that uses it, at once."""
    with _lock:
        if switch.enabled == enabled:
            return
        switch.enabled = enabled
        if enabled:
            switch.auto_disabled = False
            switch.consecutive_failures = 0
        _rebuild(_classes_using({switch}))


@dataclass(frozen=True)
class MethodChain:
    """One woven method of a model as :func:`describe` reports it."""

    method: str
    advice: tuple[PlannedAdvice, ...]  # in execution order
    installed: bool  # whether a wrapper is in force (False when all advice is disabled)


def describe(model: type) -> list[MethodChain]:
    """Each method of ``model`` that has advice, with its chain in execution order."""
    with _lock:
        plans, foreign = _plan_class(model, _effective(model), include_disabled=True)
        out = []
        for name, plan in plans.items():
            installed = any(a.aspect.switch.enabled for a in plan.all)
            out.append(MethodChain(name, plan.all, installed))
        for (owner, attr), plan in foreign.items():
            installed = any(a.aspect.switch.enabled for a in plan.all)
            label = f"{plan.label} ({owner.__qualname__}.{attr})"
            out.append(MethodChain(label, plan.all, installed))
        return out


def event_handlers(model: type, event: str) -> list[tuple[Aspect, AdviceSpec]]:
    """The enabled handlers of custom ``event`` on ``model``, in plugin order.

    An event spec is a custom event on a model exactly when it is not woven as
    a pointcut there (``before_save`` on a model without ``save``).
    """
    with _lock:
        aspects = [a for a in _effective(model) if a.switch.enabled]
        names = _method_names(model)
    out = []
    for aspect in aspects:
        for spec in aspect.advices:
            if spec.target == event and _event_as_pointcut(event, names) is None:
                out.append((aspect, spec))
    return out


# --------------------------------------------------------------------------
# Context-local toggles and tracing (see scope.py)
# --------------------------------------------------------------------------


def context_scope_opened(switches: Iterable[Switch]) -> None:
    """A ``disabled()`` block started: make dispatchers of these plugins check it."""
    with _lock:
        fresh = set()
        for s in switches:
            _ctx_counts[s] = _ctx_counts.get(s, 0) + 1
            if _ctx_counts[s] == 1:
                fresh.add(s)
        if fresh:
            _rebuild(_classes_using(fresh))


def context_scope_closed(switches: Iterable[Switch]) -> None:
    """A ``disabled()`` block ended: drop the checks no other block needs."""
    with _lock:
        gone = set()
        for s in switches:
            _ctx_counts[s] -= 1
            if _ctx_counts[s] == 0:
                del _ctx_counts[s]
                gone.add(s)
        if gone:
            _rebuild(_classes_using(gone))


def tracing_started() -> None:
    global _tracing
    with _lock:
        _tracing += 1
        if _tracing == 1:
            _rebuild(list(_states.keys()))


def tracing_stopped() -> None:
    global _tracing
    with _lock:
        _tracing -= 1
        if _tracing == 0:
            _rebuild(list(_states.keys()))


# --------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------


def _check_class(model: object) -> None:
    if not isinstance(model, type):
        raise WeavingError(f"can only weave onto a class, not {model!r}")


def _effective(model: type, *, skip_self: bool = False) -> list[Aspect]:
    found: dict[str, Aspect] = {}
    for klass in reversed(model.__mro__):
        if skip_self and klass is model:
            continue
        state = _states.get(klass)
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


def _routine(value: Any) -> bool:
    return isinstance(value, types.FunctionType | classmethod | staticmethod | _Woven)


def _method_names(model: type) -> tuple[dict[str, None], dict[str, None]]:
    """(names globs range over, names exact patterns may use), in MRO order."""
    public: dict[str, None] = {}
    every: dict[str, None] = {}
    for klass in model.__mro__:
        if klass is object:
            continue
        framework = klass in _framework_bases
        for name, value in vars(klass).items():
            if name == "__init_subclass__" or not _routine(value):
                continue
            every.setdefault(name, None)
            if not framework:
                public.setdefault(name, None)
    for name in _operations(model):
        every.setdefault(name, None)
        public.setdefault(name, None)
    return public, every


def _operations(model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
    """Logical operations the model's adapter maps onto other objects' methods."""
    from .integrations.base import adapter_for

    return adapter_for(model).operations(model)


def _matches(pointcut: Pointcut, names: tuple[dict[str, None], dict[str, None]]) -> list[str]:
    public, every = names
    out = pointcut.select(public)
    out += [n for n in pointcut.exact_names if n in every and n not in out]
    return out


def _event_as_pointcut(
    event: str, names: tuple[dict[str, None], dict[str, None]]
) -> tuple[Kind, str] | None:
    split = split_event(event)
    if split is not None and split[1] in names[1]:
        return split
    return None


def _lookup_raw_value(model: type, name: str) -> Any:
    for klass in model.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return _MISSING


def _lookup_original(model: type, name: str) -> tuple[type, Any]:
    """The class that defines ``name`` for ``model`` and its unwoven dict value."""
    for klass in model.__mro__:
        if name in vars(klass) and name not in _state_of(klass).shadows:
            value = vars(klass)[name]
            if isinstance(value, _Woven):
                return value._self_origin, value._self_raw
            return klass, value
    raise WeavingError(f"{model.__qualname__} has no attribute {name!r}")  # pragma: no cover


def _plan_class(
    model: type, aspects: list[Aspect], *, include_disabled: bool = False
) -> tuple[dict[str, ChainPlan], dict[tuple[type, str], ChainPlan]]:
    """Each advised method of ``model`` with its chain (enabled aspects only unless asked)."""
    names = _method_names(model)
    per_method: dict[str, list[tuple[Aspect, AdviceSpec, Kind]]] = {}
    for aspect in aspects:
        for spec in aspect.advices:
            bound = spec.target
            if isinstance(bound, Pointcut):
                matched = _matches(bound, names)
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
                split = _event_as_pointcut(bound, names)
                if split is not None:
                    per_method.setdefault(split[1], []).append((aspect, spec, split[0]))
    plans: dict[str, ChainPlan] = {}
    foreign: dict[tuple[type, str], ChainPlan] = {}
    ctx = frozenset(_ctx_counts)
    operations = _operations(model)
    for name, entries in per_method.items():
        targets: list[tuple[type | None, Target]] = []
        if name in operations:
            for owner, attr in operations[name]:
                origin, raw = _lookup_original(owner, attr)
                targets.append((owner, Target.of(origin, attr, raw, model=model)))
        else:
            origin, raw = _lookup_original(model, name)
            targets.append((None, Target.of(origin, name, raw)))
        for per_model_owner, target in targets:
            # Plan every advice (disabled ones too) so a bad one fails at weave time.
            planned = [
                (aspect, plan_advice(aspect, spec, kind, target)) for aspect, spec, kind in entries
            ]
            kept = [p for a, p in planned if include_disabled or a.switch.enabled]
            if not kept:
                continue
            plan = ChainPlan.build(target, kept, ctx_switches=ctx)
            if per_model_owner is None:
                plans[name] = plan
            else:
                foreign[(per_model_owner, target.name)] = dataclasses.replace(
                    plan, label=name, owner=per_model_owner
                )
    return plans, foreign


# --------------------------------------------------------------------------
# Rebuilding
# --------------------------------------------------------------------------


def _classes_using(switches: set[Switch]) -> list[type]:
    return [
        klass
        for klass, state in list(_states.items())
        if any(a.switch in switches for a in state.own.values())
    ]


def _subclasses(klass: type) -> Iterator[type]:
    try:
        subs: list[type] = type.__subclasses__(klass)
    except TypeError:  # pragma: no cover - exotic metaclasses
        subs = []
    for sub in subs:
        yield sub
        yield from _subclasses(sub)


def _hierarchy(seeds: Iterable[type]) -> list[type]:
    """Seeds, their descendants and their managed ancestors, ancestors first.

    Descendants inherit the seeds' aspects; ancestors are re-planned because
    whether their wrappers need the super() guard depends on the seeds.
    """
    seen: dict[type, None] = {}
    for seed in seeds:
        for klass in reversed(seed.__mro__):
            if klass is seed or klass in _states:
                seen.setdefault(klass, None)
        for sub in _subclasses(seed):
            seen.setdefault(sub, None)
    return sorted(seen, key=lambda k: len(k.__mro__))


def _chain_key(plan: ChainPlan) -> tuple[Any, ...]:
    return (
        id(plan.target.raw),
        tuple((id(a.aspect), id(a.spec), a.kind) for a in plan.all),
        plan.ctx_switches,
    )


def _rebuild(seeds: Iterable[type]) -> None:
    """Re-plan and re-install the hierarchy around ``seeds`` (caller holds the lock)."""
    classes = _hierarchy(seeds)
    # Pass 1: plan every class; nothing is touched if any plan fails.
    wanted: dict[type, dict[str, ChainPlan]] = {}
    foreign: dict[type, dict[tuple[type, str], ChainPlan]] = {}
    for klass in classes:
        aspects = _effective(klass)
        if not aspects and klass not in _states and not _has_woven(klass):
            continue
        _plan_class(klass, aspects, include_disabled=True)  # validation, disabled included
        wanted[klass], foreign[klass] = _plan_class(klass, aspects)
    # Decide which classes need their own wrapper and which simply inherit one.
    own: dict[type, dict[str, ChainPlan]] = {}
    for klass in classes:
        mine: dict[str, ChainPlan] = {}
        for name, plan in wanted.get(klass, {}).items():
            defined_here = (
                name in vars(klass)
                and name not in _state_of(klass).shadows
                and (
                    not isinstance(vars(klass)[name], _Woven) or name in _state_of(klass).originals
                )
            )
            if defined_here or _inherited_key(klass, name, own) != _chain_key(plan):
                mine[name] = plan
        if klass in wanted:
            mine.update(_shadows_needed(klass, wanted[klass], own))
        own[klass] = mine
        mine.update(_pass_through_needed(klass, wanted.get(klass, {}), own))
    # A wrapper needs the super() guard when another level of the same method is woven.
    for klass, mine in own.items():
        for name, plan in list(mine.items()):
            if plan and not plan.guard and _needs_guard(klass, name, plan, own):
                mine[name] = dataclasses.replace(plan, guard=True)
    # Pass 2: install.
    for klass in classes:
        _install_foreign(klass, foreign.get(klass, {}))
        _install(klass, own.get(klass, {}))


def _state_of(klass: type) -> _State:
    state = _states.get(klass)
    if state is None:
        return _State()
    return state


def _has_woven(klass: type) -> bool:
    return any(isinstance(v, _Woven) for v in vars(klass).values())


def _shadows_needed(
    klass: type, wanted: dict[str, ChainPlan], own: dict[type, dict[str, ChainPlan]]
) -> dict[str, ChainPlan]:
    """Inherited wrappers ``klass`` must not run, each hidden by its original.

    When a subclass opts out of every inherited aspect of a method it does not
    define, it would still find the parent's wrapper through the MRO; putting
    the original object in its own dict hides it.  Such a *shadow* is given as
    an empty plan (no advice) whose target is that original.
    """
    shadows = _state_of(klass).shadows
    names: dict[str, None] = {}
    for base in klass.__mro__[1:]:
        names.update(dict.fromkeys(own.get(base, ())))
        names.update(dict.fromkeys(n for n, v in vars(base).items() if isinstance(v, _Woven)))
    out: dict[str, ChainPlan] = {}
    originals = _state_of(klass).originals
    for name in names:
        value = vars(klass).get(name, _MISSING)
        # klass's own wrapper over an inherited method (not over its own
        # definition) goes away, so it does not count as defining the name.
        own_wrapper = isinstance(value, _Woven) and name not in originals
        if name in wanted or (value is not _MISSING and name not in shadows and not own_wrapper):
            continue
        if _inherited_key(klass, name, own) is not None:
            origin, raw = _lookup_original(klass, name)
            # If the original is itself an override whose super() call reaches
            # an advised wrapper further up, hide it behind a pass-through instead.
            guard = any(_advised_after(base, name, own) for base in origin.__mro__[1:])
            out[name] = ChainPlan(Target.of(origin, name, raw), guard=guard)
    return out


def _advised_after(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> bool:
    """Whether ``klass``'s own ``name`` will be a wrapper that runs advice."""
    after = _woven_after(klass, name, own)
    if isinstance(after, ChainPlan):
        return bool(after)
    return isinstance(after, _Woven) and bool(after._self_plan)


def _pass_through_needed(
    klass: type, wanted: dict[str, ChainPlan], own: dict[type, dict[str, ChainPlan]]
) -> dict[str, ChainPlan]:
    """Overrides with no advice left whose ``super()`` call would reach advised parents.

    A subclass that opted out of every inherited aspect of a method it
    overrides must not have them run through ``super()``: its override gets a
    wrapper with no advice that only marks the call as entered, so the
    parent's wrapper skips its advice for it.  (The nearest sound thing to
    "the attribute is the original function": that would run the advice the
    subclass removed.)
    """
    state = _state_of(klass)
    out: dict[str, ChainPlan] = {}
    for name, value in vars(klass).items():
        if name in wanted or name in state.shadows:
            continue
        if isinstance(value, _Woven):
            if name not in state.originals:
                continue  # a wrapper over an inherited method, not an override
            value = state.originals[name]
        elif not _routine(value):
            continue
        if not any(_state_of(k).excluded for k in klass.__mro__):
            continue  # nothing opted out: the parents' advice is this class's too
        if any(_advised_after(base, name, own) for base in klass.__mro__[1:]):
            out[name] = ChainPlan(Target.of(klass, name, value), guard=True)
    return out


def _woven_after(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> Any:
    """What ``vars(klass)[name]`` will be once the rebuild is done: a plan, a value or _MISSING.

    A shadow (an empty plan) stands for the original object it puts there.
    """
    if klass in own:
        if name in own[klass]:
            plan = own[klass][name]
            return plan if (plan or plan.guard) else plan.target.raw
        if name in _state_of(klass).shadows:
            return _MISSING  # a shadow no longer needed: it goes away
        value = vars(klass).get(name, _MISSING)
        if isinstance(value, _Woven):
            return _state_of(klass).originals.get(name, _MISSING)
        return value
    return vars(klass).get(name, _MISSING)


def _inherited_key(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> Any:
    """The chain key of the wrapper ``klass`` would inherit for ``name``, or None."""
    for base in klass.__mro__[1:]:
        value = _woven_after(base, name, own)
        if value is _MISSING:
            continue
        if isinstance(value, ChainPlan):
            return _chain_key(value)
        if isinstance(value, _Woven):
            return value._self_key
        return None
    return None


def _origin_after(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> type | None:
    value = _woven_after(klass, name, own)
    if isinstance(value, ChainPlan):
        return value.target.owner
    if isinstance(value, _Woven):
        return value._self_origin
    return None


def _needs_guard(
    klass: type, name: str, plan: ChainPlan, own: dict[type, dict[str, ChainPlan]]
) -> bool:
    """Whether another woven level of ``name`` wraps a different function in the hierarchy.

    Only then can one call pass through two wrappers (an override calling
    super()), so only then does the dispatcher pay for the re-entry check.
    """
    origin = plan.target.owner
    for other in (*klass.__mro__[1:], *_subclasses(klass)):
        other_origin = _origin_after(other, name, own)
        if other_origin is not None and other_origin is not origin:
            return True
    return False


def _install(klass: type, plans: dict[str, ChainPlan]) -> None:
    state = _states.get(klass)
    originals = state.originals if state is not None else {}
    shadows = state.shadows if state is not None else {}
    # Drop shadows no longer needed, so they are never taken for originals.
    for name in list(shadows):
        if name not in plans or plans[name]:
            shadow = shadows.pop(name)
            if vars(klass).get(name, _MISSING) is shadow:
                delattr(klass, name)
    # Restore what no longer needs a wrapper.
    for name, value in list(vars(klass).items()):
        if isinstance(value, _Woven) and name not in plans:
            if name in originals:
                setattr(klass, name, originals.pop(name))
            else:
                delattr(klass, name)
    for name, plan in plans.items():
        current = vars(klass).get(name, _MISSING)
        if not plan and not plan.guard:  # a shadow: the original hides an inherited wrapper
            if state is None:
                state = _states[klass] = _State()
                originals, shadows = state.originals, state.shadows
            if name not in shadows:
                setattr(klass, name, plan.target.raw)
                shadows[name] = plan.target.raw
            continue
        if (
            isinstance(current, _Woven)
            and current._self_key == _chain_key(plan)
            and (current._self_guard == plan.guard and current._self_traced == bool(_tracing))
        ):
            continue
        if current is not _MISSING and not isinstance(current, _Woven):
            if state is None:
                state = _states[klass] = _State()
                originals = state.originals
            originals[name] = current
        setattr(klass, name, _make_wrapper(plan))
    _sync_hook(klass)
    if state is not None and state.idle:
        _states.pop(klass, None)


def _make_wrapper(plan: ChainPlan) -> _Woven:
    dispatcher = interpret_chain(plan) if _tracing else compile_chain(plan)
    wrapper = _Woven(plan.target.raw, dispatcher)
    wrapper._self_raw = plan.target.raw
    wrapper._self_origin = plan.target.owner
    wrapper._self_key = _chain_key(plan)
    wrapper._self_guard = plan.guard
    wrapper._self_traced = bool(_tracing)
    wrapper._self_plan = plan
    return wrapper


def _install_foreign(klass: type, plans: dict[tuple[type, str], ChainPlan]) -> None:
    """Install (or restore) the methods an adapter maps onto other objects for ``klass``."""
    state = _states.get(klass)
    if state is None and not plans:
        return
    if state is None:
        state = _states[klass] = _State()
    for (owner, attr), original in list(state.foreign.items()):
        if (owner, attr) not in plans:
            if original is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
            del state.foreign[(owner, attr)]
    for (owner, attr), plan in plans.items():
        current = vars(owner).get(attr, _MISSING)
        if (
            isinstance(current, _Woven)
            and current._self_key == _chain_key(plan)
            and (current._self_traced == bool(_tracing))
        ):
            continue
        if (owner, attr) not in state.foreign:
            state.foreign[(owner, attr)] = current
        setattr(owner, attr, _make_wrapper(plan))


# --------------------------------------------------------------------------
# Subclasses created after weaving
# --------------------------------------------------------------------------


def _sync_hook(klass: type) -> None:
    """Install our ``__init_subclass__`` while ``klass`` has aspects, remove it after."""
    state = _states.get(klass)
    wants = state is not None and bool(state.own)
    has = state is not None and state.hook is not _MISSING
    if wants and not has:
        assert state is not None
        previous = vars(klass).get("__init_subclass__", None)
        state.hook = previous
        type.__setattr__(klass, "__init_subclass__", _make_hook(klass, previous))
    elif has and not wants:
        assert state is not None
        if state.hook is None:
            delattr(klass, "__init_subclass__")
        else:
            type.__setattr__(klass, "__init_subclass__", state.hook)
        state.hook = _MISSING


def _make_hook(owner: type, previous: Any) -> classmethod[Any, Any, None]:
    def __init_subclass__(cls: Any, /, **kwargs: Any) -> None:
        if previous is None:
            super(owner, cls).__init_subclass__(**kwargs)  # type: ignore[arg-type]
        else:
            previous.__get__(None, cls)(**kwargs)
        with _lock:
            _rebuild([cls])
        for listener in list(subclass_listeners):
            listener(cls)

    __init_subclass__.__earnorm_hook__ = True  # type: ignore[attr-defined]
    return classmethod(__init_subclass__)
