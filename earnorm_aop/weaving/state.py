"""What the weaver remembers: per-class state, its wrappers, and the global modes.

Kept apart from the weaving logic so the planner, the rebuilder and the public
API share one source of truth under one lock.
"""

from __future__ import annotations

import copy
import copyreg
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .aspect import Aspect, Switch
from .chain import ChainPlan
from .scope import mode

__all__ = ["mode"]

lock = threading.RLock()
MISSING: Any = object()


class _WovenType(type):
    def __instancecheck__(cls, value: object) -> bool:
        # Ours: a plain FunctionWrapper holding the chain it runs.  A user's own
        # wrapt decorator has no ``_self_plan`` (wrapt never forwards a
        # ``_self_`` name to what it wraps), so no table of our wrappers is kept.
        return type(value) is _FunctionWrapper and getattr(value, "_self_plan", None) is not None


class Woven(metaclass=_WovenType):
    """The one wrapper installed per woven (class, method).

    ``Woven(raw, dispatcher)`` makes a *plain* ``wrapt.FunctionWrapper``:
    wrapt's C ``__get__`` takes a slower path for any subclass (it looks up
    ``__bound_function_wrapper__`` on every bind), which made each call of a
    woven method about 8% slower.  ``isinstance(value, Woven)`` still
    recognises ours.  Besides wrapt's proxying the wrapper remembers, in
    ``_self_`` attributes, what it wraps (``_self_raw``, found in
    ``_self_origin``'s dict) and the chain it runs, so the weaver can tell an
    inherited wrapper from one a subclass needs of its own.
    """

    _self_raw: Any
    _self_origin: type
    _self_plan: ChainPlan

    def __new__(cls, wrapped: Any, dispatcher: Callable[..., Any]) -> Woven:
        wrapper: Any = _function_wrapper()(wrapped, dispatcher)
        return wrapper  # type: ignore[no-any-return]


def _function_wrapper() -> Any:
    """wrapt's ``FunctionWrapper``, imported on first weave.

    ``import wrapt`` also imports asyncio (for ``wrapt.synchronized``), which
    is most of what importing this package would otherwise cost.
    """
    global _FunctionWrapper
    if _FunctionWrapper is None:
        import wrapt

        _FunctionWrapper = wrapt.FunctionWrapper
        # Bound woven methods pickle and copy as getattr(instance, name)
        # (see _reduce_bound); registered with the first wrapper we make.
        copyreg.pickle(wrapt.BoundFunctionWrapper, _reduce_bound)
        # The copy module asks an object's __copy__ / __deepcopy__ before
        # copyreg, and wrapt's proxy defines both to refuse: its per-type
        # tables come first.
        copy._copy_dispatch[wrapt.BoundFunctionWrapper] = _copy_bound  # type: ignore[attr-defined]
        copy._deepcopy_dispatch[wrapt.BoundFunctionWrapper] = _deepcopy_bound  # type: ignore[attr-defined]
    return _FunctionWrapper


_FunctionWrapper: Any = None


class Originals:
    """name -> the class-dict value a wrapper of ours replaced, held *through* that wrapper.

    The weaver's table is weak-keyed by class, so its values must not hold the
    class: an original function that uses ``super()`` does (its ``__class__``
    cell), and would keep every woven class alive forever.  The wrapper in the
    class dict already holds the original (``_self_raw``), so only a weak
    reference to the wrapper is kept here.  When the wrapper is gone (someone
    replaced it for good), so is the claim: the dict value is the method now.
    """

    __slots__ = ("_refs",)

    def __init__(self, refs: dict[str, weakref.ref[Any]] | None = None) -> None:
        self._refs: dict[str, weakref.ref[Any]] = dict(refs or {})

    def keep(self, name: str, wrapper: Any) -> None:
        """Record that ``wrapper`` (wrapping the original) now stands for ``name``."""
        self._refs[name] = weakref.ref(wrapper)

    def get(self, name: str, default: Any = None) -> Any:
        ref = self._refs.get(name)
        wrapper = None if ref is None else ref()
        if wrapper is None:
            self._refs.pop(name, None)
            return default
        return wrapper._self_raw

    def __contains__(self, name: object) -> bool:
        ref = self._refs.get(name)  # type: ignore[call-overload]
        return ref is not None and ref() is not None

    def __getitem__(self, name: str) -> Any:
        value = self.get(name, MISSING)
        if value is MISSING:
            raise KeyError(name)
        return value

    def pop(self, name: str) -> Any:
        value = self[name]
        del self._refs[name]
        return value

    def __bool__(self) -> bool:
        return any(ref() is not None for ref in self._refs.values())

    def copy(self) -> Originals:
        return Originals(self._refs)


def _reduce_bound(bound: Any) -> Any:
    """Pickle / copy a bound woven method as ``getattr(instance, name)``, as Python does a method.

    wrapt's proxies refuse to be pickled, so without this ``pickle.dumps(obj.save)``
    (Celery, multiprocessing) and ``copy.deepcopy`` of an object holding one
    fail once ``save`` is woven.  Registered in [`copyreg`][copyreg] for wrapt's bound
    wrapper type; other wrapt wrappers (a user's own decorator) keep wrapt's
    behaviour.
    """
    found = _bound_to(bound)
    if found is None:
        return bound.__reduce_ex__(2)  # wrapt's own answer (it refuses)
    return getattr, found


def _bound_to(bound: Any) -> tuple[Any, str] | None:
    """(instance or class, attribute name) of a bound woven method; None if not ours."""
    parent = bound._self_parent
    if not isinstance(parent, Woven):
        return None
    subject = bound._self_instance
    if subject is None:
        subject = bound._self_owner
    if subject is None:  # pragma: no cover - wrapt always passes an owner
        subject = parent._self_origin
    return subject, parent._self_plan.target.name


def _copy_bound(bound: Any) -> Any:
    found = _bound_to(bound)
    if found is None:
        return type(bound).__copy__(bound)
    return getattr(*found)


def _deepcopy_bound(bound: Any, memo: dict[int, Any]) -> Any:
    found = _bound_to(bound)
    if found is None:
        return type(bound).__deepcopy__(bound, memo)
    subject, name = found
    return getattr(copy.deepcopy(subject, memo), name)


NOTHING: Mapping[Any, Any] = MappingProxyType({})
"""The empty ``foreign`` and ``shadows`` of a class that has none (read-only: shared)."""


def _nothing() -> Any:
    return NOTHING


@dataclass(eq=False, slots=True)
class State:
    """What the weaver did to one class."""

    own: dict[str, Aspect] = field(default_factory=dict)
    # Immutable, replaced on change: most classes never exclude anything and
    # share the one empty frozenset.
    excluded: frozenset[str] = frozenset()
    originals: Originals = field(default_factory=Originals)  # name -> replaced dict value
    # While our __init_subclass__ hook is installed: a weak reference to it (the
    # hook itself holds the previous value, for the reason Originals gives).
    hook: Any = MISSING
    # (owner, attribute) -> replaced dict value, for methods an adapter maps
    # onto objects other than the model class (a Django model's manager).
    # Both start as the one read-only empty mapping most classes never change
    # (``NOTHING``); the weaver puts a dict of the class's own before writing.
    foreign: dict[tuple[type, str], Any] = field(default_factory=_nothing)
    # name -> an inherited original put in this class's dict to hide a parent's
    # wrapper whose aspects this class opted out of (unweave on a subclass).
    shadows: dict[str, Any] = field(default_factory=_nothing)

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
            and self.hook is MISSING
        )


states: weakref.WeakKeyDictionary[type, State] = weakref.WeakKeyDictionary()
# Open disabled() blocks per plugin, in any context (each Switch keeps the same
# count in ``scopes`` for the dispatchers to test).
disabled_counts: dict[Switch, int] = {}
# Subclasses whose creation failed in our __init_subclass__ hook (a WeavingError).
# Python lists them in __subclasses__() until they are garbage collected; the
# weaver skips them, or every later weave or toggle on the parent would fail too.
stillborn: weakref.WeakSet[type] = weakref.WeakSet()


# Each class's custom events and their enabled handlers (planning.event_table),
# set when the class's plans are rebuilt, so an ``emit`` is one look-up.
event_tables: weakref.WeakKeyDictionary[type, Mapping[str, Any]] = weakref.WeakKeyDictionary()
NO_EVENTS: Mapping[str, Any] = MappingProxyType({})


class Listening:
    """One class's event table, kept current by every rebuild, for advice that holds it.

    Advice specialised to a model at weave time (the ``lifecycle`` plugin's)
    takes this object once and reads ``table`` per call: one attribute read
    instead of a look-up by class, and still current after a toggle, which
    rebuilds the table ([`set_table`][earnorm_aop.weaving.state.set_table]).
    """

    __slots__ = ("__weakref__", "table")

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.table = table


# The Listening objects handed out, by class (weakly: advice holding one keeps it).
listening: weakref.WeakKeyDictionary[type, Listening] = weakref.WeakKeyDictionary()


def set_table(klass: type, table: Mapping[str, Any]) -> None:
    """``klass``'s event table is ``table`` now: recorded, and told to whoever holds it."""
    event_tables[klass] = table
    held = listening.get(klass)
    if held is not None:
        held.table = table


def state_of(klass: type) -> State:
    state = states.get(klass)
    if state is None:
        return State()
    return state
