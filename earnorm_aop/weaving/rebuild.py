"""Rebuilding: make a hierarchy's class dicts match its plans.

After every change the weaver re-plans the affected classes (pass 1, which
raises before touching anything if a pointcut or parameter is bad), decides
which class needs its own wrapper and which simply inherits one, where the
super() guard, shadows and pass-through wrappers are needed, and installs
(pass 2): one wrapt ``FunctionWrapper`` per (class, method), or the original
object back when no enabled advice is left.  Installing is one attribute
assignment per method, so a call already running keeps the chain it started
with.
"""

from __future__ import annotations

import dataclasses
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import extensions
from .advice import Target
from .aspect import Switch
from .chain import ChainPlan
from .generated import compile_chain, sharing_cells
from .planning import effective, event_table, lookup_original, method_names, plan_class, routine
from .state import (
    MISSING,
    NO_EVENTS,
    NOTHING,
    Originals,
    State,
    Woven,
    lock,
    set_table,
    state_of,
    states,
    stillborn,
)

# Which classes weave an aspect of each plugin themselves, brought in step with
# ``State.own`` at the end of every rebuild, so a toggle finds them without
# looking at every woven class.  Weak: one reference per class, whose callback
# only queues it, so a collection never changes these dicts under a reader.
_indexed: dict[weakref.ref[type], tuple[Switch, ...]] = {}
_users: weakref.WeakKeyDictionary[Switch, dict[weakref.ref[type], None]] = (
    weakref.WeakKeyDictionary()
)
_dead: list[weakref.ref[type]] = []


def _unindex(ref: weakref.ref[type]) -> None:
    for switch in _indexed.pop(ref, ()):
        users = _users.get(switch)
        if users is not None:
            users.pop(ref, None)


def _died(ref: weakref.ref[type]) -> None:
    _dead.append(ref)  # (a module function: a bound _dead.append would be one object per class)


def _purge() -> None:
    while _dead:
        _unindex(_dead.pop())


class _Stats:
    """Counters for tests: how much work rebuilds did."""

    planned = 0  # classes planned, over all rebuilds


stats = _Stats()


def classes_using(switches: set[Switch]) -> list[type]:
    """The classes that weave an aspect of one of ``switches`` themselves."""
    _purge()
    found: dict[type, None] = {}
    for switch in switches:
        for ref in list(_users.get(switch, ())):
            klass = ref()
            if klass is not None:
                found[klass] = None
    return list(found)


def _reindex(klass: type) -> None:
    _purge()
    state = states.get(klass)
    now = tuple(dict.fromkeys(a.switch for a in state.own.values())) if state is not None else ()
    probe = weakref.ref(klass)
    if set(_indexed.get(probe, ())) == set(now):
        return
    _unindex(probe)  # equal to the stored reference while the class lives
    if now:
        ref = weakref.ref(klass, _died)
        _indexed[ref] = now
        for switch in now:
            _users.setdefault(switch, {})[ref] = None


def subclasses(klass: type) -> Iterator[type]:
    try:
        subs: list[type] = type.__subclasses__(klass)
    except TypeError:  # pragma: no cover - exotic metaclasses
        subs = []
    for sub in subs:
        if sub in stillborn:
            continue  # its class statement raised: it does not exist for the user
        yield sub
        yield from subclasses(sub)


def _hierarchy(seeds: Iterable[type]) -> list[type]:
    """Seeds, their descendants and their managed ancestors, ancestors first.

    Descendants inherit the seeds' aspects; ancestors are re-planned because
    whether their wrappers need the super() guard depends on the seeds.
    """
    seen: dict[type, None] = {}
    for seed in seeds:
        for klass in reversed(seed.__mro__):
            if klass is seed or klass in states:
                seen.setdefault(klass, None)
        for sub in subclasses(seed):
            seen.setdefault(sub, None)
    return sorted(seen, key=lambda k: len(k.__mro__))


def _chain_key(plan: ChainPlan) -> tuple[Any, ...]:
    """What makes two wrappers interchangeable: the function and each advice, in order."""
    key: list[Any] = [id(plan.target.raw)]
    for a in plan.all:
        key += (id(a.aspect), id(a.spec), a.kind)
    return tuple(key)


def rebuild_classes(seeds: Iterable[type]) -> None:
    """Re-plan and re-install the hierarchy around ``seeds`` (caller holds the lock)."""
    classes = _hierarchy(seeds)
    # Pass 1: plan every class; nothing is touched if any plan fails.
    wanted: dict[type, dict[str, ChainPlan]] = {}
    foreign: dict[type, dict[tuple[type, str], ChainPlan]] = {}
    events: dict[type, dict[str, Any]] = {}
    for klass in classes:
        aspects = effective(klass)
        if not aspects and klass not in states and not _has_woven(klass):
            continue
        names = method_names(klass)
        # Planning checks every advice, disabled ones included; the plans hold the enabled.
        wanted[klass], foreign[klass] = plan_class(klass, aspects, names=names)
        events[klass] = event_table(aspects, names)
        stats.planned += 1
    # Decide which classes need their own wrapper and which simply inherit one.
    own: dict[type, dict[str, ChainPlan]] = {}
    for klass in classes:
        mine: dict[str, ChainPlan] = {}
        for name, plan in wanted.get(klass, {}).items():
            defined_here = (
                name in vars(klass)
                and name not in state_of(klass).shadows
                and (not isinstance(vars(klass)[name], Woven) or name in state_of(klass).originals)
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
    # Pass 2: install, all or nothing: a failing assignment (a metaclass that
    # refuses one) puts back every dict and every record this pass changed.
    saved = _Snapshot(classes, foreign)
    try:
        with sharing_cells():  # one cell per value for the chains of this rebuild
            for klass in classes:
                _install_foreign(klass, foreign.get(klass, {}))
                _install(klass, own.get(klass, {}))
    except BaseException:
        saved.restore()
        raise
    for klass in classes:
        _reindex(klass)
        # The custom events as planned now (none for a class with no aspects).
        set_table(klass, events.get(klass, NO_EVENTS))


class _Snapshot:
    """The class dicts and weaver records pass 2 may change, to put back if it fails."""

    def __init__(self, classes: list[type], foreign: dict[type, Any]) -> None:
        owners: dict[type, None] = dict.fromkeys(classes)
        for klass in classes:
            owners.update(dict.fromkeys(owner for owner, _ in state_of(klass).foreign))
            owners.update(dict.fromkeys(owner for owner, _ in foreign.get(klass, {})))
        self.dicts = {owner: dict(vars(owner)) for owner in owners}
        self.states = {klass: _records(states.get(klass)) for klass in classes}

    def restore(self) -> None:
        # type.__setattr__: past a metaclass that refuses the ordinary assignment.
        for owner, saved in self.dicts.items():
            for name in [n for n in vars(owner) if n not in saved]:
                type.__delattr__(owner, name)
            for name, value in saved.items():
                if vars(owner).get(name, MISSING) is not value:
                    type.__setattr__(owner, name, value)
        for klass, records in self.states.items():
            state = states.get(klass)
            if records is None:
                if state is not None and state.empty:
                    states.pop(klass, None)
            elif state is not None:
                state.originals, state.shadows, state.foreign, state.hook = records


def _records(state: State | None) -> tuple[Any, ...] | None:
    if state is None:
        return None
    return (state.originals.copy(), dict(state.shadows), dict(state.foreign), state.hook)


def _has_woven(klass: type) -> bool:
    return any(isinstance(v, Woven) for v in vars(klass).values())


def _shadows_needed(
    klass: type, wanted: dict[str, ChainPlan], own: dict[type, dict[str, ChainPlan]]
) -> dict[str, ChainPlan]:
    """Inherited wrappers ``klass`` must not run, each hidden by its original.

    When a subclass opts out of every inherited aspect of a method it does not
    define, it would still find the parent's wrapper through the MRO; putting
    the original object in its own dict hides it.  Such a *shadow* is given as
    an empty plan (no advice) whose target is that original.
    """
    shadows = state_of(klass).shadows
    names: dict[str, None] = {}
    for base in klass.__mro__[1:]:
        if base is object:  # never woven (its dict cannot change)
            continue
        names.update(dict.fromkeys(own.get(base, ())))
        names.update(dict.fromkeys(n for n, v in vars(base).items() if isinstance(v, Woven)))
    out: dict[str, ChainPlan] = {}
    originals = state_of(klass).originals
    for name in names:
        value = vars(klass).get(name, MISSING)
        # klass's own wrapper over an inherited method (not over its own
        # definition) goes away, so it does not count as defining the name.
        own_wrapper = isinstance(value, Woven) and name not in originals
        if name in wanted or (value is not MISSING and name not in shadows and not own_wrapper):
            continue
        if _inherited_key(klass, name, own) is not None:
            origin, raw = lookup_original(klass, name)
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
    return isinstance(after, Woven) and bool(after._self_plan)


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
    if not any(state_of(k).excluded for k in klass.__mro__):
        return {}  # nothing opted out: the parents' advice is this class's too
    state = state_of(klass)
    out: dict[str, ChainPlan] = {}
    for name, value in vars(klass).items():
        if name in wanted or name in state.shadows:
            continue
        if isinstance(value, Woven):
            if name not in state.originals:
                continue  # a wrapper over an inherited method, not an override
            value = state.originals[name]
        elif not routine(value):
            continue
        if any(_advised_after(base, name, own) for base in klass.__mro__[1:]):
            out[name] = ChainPlan(Target.of(klass, name, value), guard=True)
    return out


def _woven_after(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> Any:
    """What ``vars(klass)[name]`` will be once the rebuild is done: a plan, a value or MISSING.

    A shadow (an empty plan) stands for the original object it puts there.
    """
    if klass in own:
        if name in own[klass]:
            plan = own[klass][name]
            return plan if (plan or plan.guard) else plan.target.raw
        if name in state_of(klass).shadows:
            return MISSING  # a shadow no longer needed: it goes away
        value = vars(klass).get(name, MISSING)
        if isinstance(value, Woven):
            return state_of(klass).originals.get(name, MISSING)
        return value
    return vars(klass).get(name, MISSING)


def _inherited_key(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> Any:
    """The chain key of the wrapper ``klass`` would inherit for ``name``, or None."""
    for base in klass.__mro__[1:]:
        value = _woven_after(base, name, own)
        if value is MISSING:
            continue
        if isinstance(value, ChainPlan):
            return _chain_key(value)
        if isinstance(value, Woven):
            return _chain_key(value._self_plan)
        return None
    return None


def _origin_after(klass: type, name: str, own: dict[type, dict[str, ChainPlan]]) -> type | None:
    value = _woven_after(klass, name, own)
    if isinstance(value, ChainPlan):
        return value.target.owner
    if isinstance(value, Woven):
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
    for other in (*klass.__mro__[1:], *subclasses(klass)):
        other_origin = _origin_after(other, name, own)
        if other_origin is not None and other_origin is not origin:
            return True
    return False


def _install(klass: type, plans: dict[str, ChainPlan]) -> None:
    state = states.get(klass)
    originals = state.originals if state is not None else Originals()
    shadows = state.shadows if state is not None else {}
    # Drop shadows no longer needed, so they are never taken for originals.
    # A shadow that becomes a pass-through wrapper (a plan with the guard) goes
    # too: left in the dict, it would be recorded as an original below.
    for name in list(shadows):
        plan = plans.get(name)
        if plan is None or plan or plan.guard:
            shadow = shadows.pop(name)
            if vars(klass).get(name, MISSING) is shadow:
                delattr(klass, name)
    # Restore what no longer needs a wrapper.  An adapter may map an operation
    # onto another method of the model itself (EarnORM): that wrapper is foreign.
    foreign = state.foreign if state is not None else {}
    for name, value in list(vars(klass).items()):
        if isinstance(value, Woven) and name not in plans and (klass, name) not in foreign:
            if name in originals:
                setattr(klass, name, originals.pop(name))
            else:
                delattr(klass, name)
    for name, plan in plans.items():
        current = vars(klass).get(name, MISSING)
        if not plan and not plan.guard:  # a shadow: the original hides an inherited wrapper
            if state is None:
                state = states[klass] = State()
                originals = state.originals
            if state.shadows is NOTHING:  # the shared empty one: the class's own now
                state.shadows = {}
            shadows = state.shadows
            if name not in shadows:
                setattr(klass, name, plan.target.raw)
                shadows[name] = plan.target.raw
            continue
        if (
            isinstance(current, Woven)
            and _chain_key(current._self_plan) == _chain_key(plan)
            and current._self_plan.guard == plan.guard
        ):
            continue
        replaces = current is not MISSING and not isinstance(current, Woven)
        if replaces and name in originals:
            # Someone put their own object over our wrapper (mock.patch.object):
            # leave it in force and keep the real original; whoever put it
            # there puts our wrapper back, and the next rebuild updates it.
            continue
        wrapper = _make_wrapper(plan)
        setattr(klass, name, wrapper)
        if replaces or name in originals:
            if state is None:
                state = states[klass] = State()
                originals = state.originals
            originals.keep(name, wrapper)  # wrapper._self_raw is the replaced value
    _sync_hook(klass)
    if state is not None and state.idle:
        states.pop(klass, None)


def _make_wrapper(plan: ChainPlan) -> Woven:
    wrapper = Woven(plan.target.raw, compile_chain(plan))
    wrapper._self_raw = plan.target.raw
    wrapper._self_origin = plan.target.owner
    # (The guard is _self_plan.guard: with wrapt's __module__ and __doc__, five
    # attributes keep the wrapper's dict at its smallest size.)
    wrapper._self_plan = plan
    return wrapper


def _install_foreign(klass: type, plans: dict[tuple[type, str], ChainPlan]) -> None:
    """Install (or restore) the methods an adapter maps onto other objects for ``klass``."""
    state = states.get(klass)
    if state is None and not plans:
        return
    if state is None:
        state = states[klass] = State()
    for (owner, attr), original in list(state.foreign.items()):
        if (owner, attr) not in plans:
            if original is MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
            del state.foreign[(owner, attr)]
    for (owner, attr), plan in plans.items():
        current = vars(owner).get(attr, MISSING)
        if isinstance(current, Woven) and _chain_key(current._self_plan) == _chain_key(plan):
            continue
        if state.foreign is NOTHING:  # the shared empty one: the class's own now
            state.foreign = {}
        if (owner, attr) not in state.foreign:
            state.foreign[(owner, attr)] = current
        setattr(owner, attr, _make_wrapper(plan))


# --------------------------------------------------------------------------
# Subclasses created after weaving
# --------------------------------------------------------------------------


def _sync_hook(klass: type) -> None:
    """Install our ``__init_subclass__`` while ``klass`` has aspects, remove it after."""
    state = states.get(klass)
    wants = state is not None and bool(state.own)
    has = state is not None and state.hook is not MISSING
    if wants and not has:
        assert state is not None
        previous = vars(klass).get("__init_subclass__", None)
        hook = _make_hook(klass, previous)
        type.__setattr__(klass, "__init_subclass__", hook)
        state.hook = weakref.ref(hook)
    elif has and not wants:
        assert state is not None
        installed: _Hook | None = state.hook()
        before = None if installed is None else installed.previous
        if installed is not None and vars(klass).get("__init_subclass__") is installed:
            if before is None:
                delattr(klass, "__init_subclass__")
            else:
                type.__setattr__(klass, "__init_subclass__", before)
        state.hook = MISSING


class _Hook:
    """Our ``__init_subclass__``: binds like a classmethod, and notices its class being copied.

    ``@dataclass(slots=True)`` (and any decorator that rebuilds a class) makes
    a new class from the old one's dict, wrappers and this hook included.
    Python calls ``__set_name__`` on every object of a new class's dict, so the
    copy announces itself here and is woven in the old class's place.

    One small object per woven class (a closure in a ``classmethod`` costs a
    function, its cells and two attribute dicts).  It holds the previous
    ``__init_subclass__`` itself, for the reason ``Originals`` gives.
    """

    __slots__ = ("__weakref__", "owner", "previous")
    __earnorm_hook__ = True

    def __init__(self, owner: type, previous: Any) -> None:
        self.owner = owner
        self.previous = previous

    def __get__(self, instance: object, owner: type | None = None) -> Callable[..., None]:
        return types.MethodType(self, owner if owner is not None else type(instance))

    def __call__(self, cls: Any, /, **kwargs: Any) -> None:
        _subclass_created(self, cls, kwargs)

    def __set_name__(self, owner: type, name: str) -> None:
        if owner is not self.owner and name == "__init_subclass__":
            with lock:
                _adopt(owner, self.owner)


def _make_hook(owner: type, previous: Any) -> _Hook:
    return _Hook(owner, previous)


def _subclass_created(hook: _Hook, cls: Any, kwargs: dict[str, Any]) -> None:
    """``cls`` was created under a woven class holding ``hook``: weave it, tell the listeners."""
    if hook.previous is None:
        # The class holding this hook (not ``hook.owner`` if it is a copy).
        holder: type = next(
            (k for k in cls.__mro__[1:] if vars(k).get("__init_subclass__") is hook), hook.owner
        )
        super(holder, cls).__init_subclass__(**kwargs)  # type: ignore[arg-type]
    else:
        hook.previous.__get__(None, cls)(**kwargs)
    try:
        with lock:
            old = _copied_from(cls)
            if old is not None:
                _adopt(cls, old)  # a copy of a subclass of a woven class
            rebuild_classes([cls])
        for listener in extensions.current.record.on_subclass:
            listener(cls)
    except BaseException:
        stillborn.add(cls)
        raise


def _copied_from(cls: type) -> type | None:
    """The woven class ``cls`` was copied from, if its dict holds that class's wrappers."""
    for value in vars(cls).values():
        if isinstance(value, Woven) and value._self_origin not in cls.__mro__:
            return value._self_origin
    return None


def _adopt(copy: type, old: type) -> None:
    """Make ``copy`` (a class re-created from ``old``'s dict) woven as ``old`` was, on its own.

    Its dict is put back to what ``old``'s was before weaving (originals in
    place of wrappers, no shadows, the previous ``__init_subclass__``); it
    takes ``old``'s own aspects and opt-outs; then it is re-woven.
    """
    state = states.get(old)
    for name, value in list(vars(copy).items()):
        if isinstance(value, Woven):
            if value._self_origin is old or value._self_origin not in copy.__mro__:
                type.__setattr__(copy, name, value._self_raw)  # old's own method
            else:
                type.__delattr__(copy, name)  # old's wrapper over an inherited method
        elif state is not None and state.shadows.get(name, MISSING) is value:
            type.__delattr__(copy, name)
    hook = vars(copy).get("__init_subclass__")
    if isinstance(hook, _Hook):
        previous = hook.previous
        if previous is None:
            type.__delattr__(copy, "__init_subclass__")
        else:
            type.__setattr__(copy, "__init_subclass__", previous)
    if state is not None and not state.empty:
        states[copy] = State(own=dict(state.own), excluded=state.excluded)
    for listener in extensions.current.record.on_copy:
        listener(old, copy)
    rebuild_classes([copy])


def set_enabled(switch: Switch, enabled: bool) -> None:
    """Switch a plugin on or off on every class that uses it, at once."""
    with lock:
        if switch.enabled == enabled:
            return
        before = (switch.enabled, switch.auto_disabled, switch.consecutive_failures)
        switch.enabled = enabled
        if enabled:
            switch.auto_disabled = False
            switch.consecutive_failures = 0
        try:
            rebuild_classes(classes_using({switch}))
        except BaseException:
            # The classes are as they were: so must be what the switch reports.
            switch.enabled, switch.auto_disabled, switch.consecutive_failures = before
            raise
