"""What the weaver remembers: per-class state, its wrappers, and the global modes.

Kept apart from the weaving logic so the planner, the rebuilder and the public
API share one source of truth under one lock.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .aspect import Aspect, Switch
from .chain import ChainPlan
from .scope import mode

__all__ = ["mode", "subclass_listeners"]

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
    _self_guard: bool
    _self_plan: ChainPlan

    def __new__(cls, wrapped: Any, dispatcher: Callable[..., Any]) -> _Woven:
        wrapper: Any = _function_wrapper()(wrapped, dispatcher)
        _woven_ids[id(wrapper)] = wrapper
        return wrapper  # type: ignore[no-any-return]


def _function_wrapper() -> Any:
    """wrapt's ``FunctionWrapper``, imported on first weave.

    ``import wrapt`` also imports asyncio (for ``wrapt.synchronized``), which
    is most of what importing this package would otherwise cost.
    """
    global _FunctionWrapper
    if _FunctionWrapper is None:
        from wrapt import FunctionWrapper

        _FunctionWrapper = FunctionWrapper
    return _FunctionWrapper


_FunctionWrapper: Any = None


@dataclass(eq=False, slots=True)
class _State:
    """What the weaver did to one class."""

    own: dict[str, Aspect] = field(default_factory=dict)
    # Immutable, replaced on change: most classes never exclude anything and
    # share the one empty frozenset.
    excluded: frozenset[str] = frozenset()
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
# Open disabled() blocks per plugin, in any context (each Switch keeps the same
# count in ``scopes`` for the dispatchers to test).
_ctx_counts: dict[Switch, int] = {}
# Called with each new subclass of a woven class (the model layer reads its Meta).
subclass_listeners: list[Callable[[type], None]] = []


def _state_of(klass: type) -> _State:
    state = _states.get(klass)
    if state is None:
        return _State()
    return state
