"""Aspects: what the weaver weaves.

An [`Aspect`][earnorm_aop.weaving.aspect.Aspect] is a named bundle of advice specs (a function plus
the pointcut or event it is bound to).  The plugin layer builds one per (model, configuration) from
a plugin class; the engine itself only needs this small, explicit shape, so it can be used and
tested without plugins.

A [`Switch`][earnorm_aop.weaving.aspect.Switch] is the live state shared by every aspect of one
plugin on every model: enabled or not, and the failure counts the error policy keeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import CellType, MappingProxyType
from typing import Any, Literal

from ..errors import PointcutError
from .pointcut import Pointcut, check_event_name, is_pointcut, parse_pointcut

__all__ = ["AdviceSpec", "Aspect", "ErrorPolicy", "Switch"]

ErrorPolicy = Literal["raise", "log", "disable"]
_NO_EVENTS: Mapping[str, tuple[AdviceSpec, ...]] = MappingProxyType({})
_POLICIES = ("raise", "log", "disable")


@dataclass(eq=False, slots=True)
class AdviceSpec:
    """One advice: ``func`` bound to a pointcut or to an event name.

    ``target`` is a parsed [`Pointcut`][earnorm_aop.weaving.pointcut.Pointcut] or an event name such
    as ``before_save`` / ``after_change``.  ``optional`` advice may match no method.
    """

    func: Callable[..., Any]
    target: Pointcut | str
    optional: bool = False
    name: str = ""
    # Weave-time memos kept with the spec (they live and die with it): the last
    # advice planned from it (models of one shape share it: ``plan_advice``) and
    # what it was specialised to per adapter (``per_model(..., by_adapter=True)``).
    _planned: Any = field(default=None, init=False, repr=False)
    _by_adapter: dict[Any, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.target, str):
            self.target = (
                parse_pointcut(self.target)
                if is_pointcut(self.target)
                else check_event_name(self.target)
            )
        if not self.name:
            self.name = getattr(self.func, "__name__", repr(self.func))


@dataclass(eq=False)
class Switch:
    """Live state of one plugin, shared by all its aspects on all models.

    The weaver reads ``enabled`` at weave time only: flipping it goes through
    [`earnorm_aop.weaving.weaver.set_enabled`][earnorm_aop.weaving.weaver.set_enabled], which
    re-weaves the classes that use the plugin, so a disabled plugin costs nothing per call.
    ``scopes`` counts the ``disabled()`` blocks open for this plugin in any thread or task;
    dispatchers read the context-local set of disabled plugins only while it is non-zero (see
    [`earnorm_aop.weaving.scope`][earnorm_aop.weaving.scope]), so opening a block costs the same
    however many classes are woven.
    """

    name: str
    enabled: bool = True
    failures: int = 0
    consecutive_failures: int = 0
    last_error: BaseException | None = None
    auto_disabled: bool = False
    scopes: int = 0  # open disabled() blocks for this plugin, in any thread or task
    auto_disables: int = 0  # times the error policy switched the plugin off
    # Counted only while metrics are on (see metering.py): advice runs by
    # outcome, and the seconds they took.
    runs: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # A gradual rollout (the plugin layer's Rollout), read at weave time only:
    # set through weaver.set_rollout, which re-weaves the classes using the plugin.
    rollout: object = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The closure cell holding this switch, which every dispatcher of the plugin
    # closes over (made by the first one; see generated.py): one per plugin, not
    # one per advice of every woven class.
    cell: CellType | None = field(default=None, init=False, repr=False)


@dataclass(eq=False, slots=True, weakref_slot=True)
class Aspect:
    """A named set of advice, woven as one unit onto a model.

    ``priority`` orders aspects (higher first); ``requires`` names aspects that
    must run before this one when both are woven.  ``switch`` is shared by all
    aspects of the same plugin so one toggle reaches every model.
    """

    name: str
    advices: tuple[AdviceSpec, ...]
    priority: int = 0
    requires: tuple[str, ...] = ()
    on_error: ErrorPolicy = "raise"
    max_failures: int = 3
    switch: Switch = field(default=None)  # type: ignore[assignment]
    plugin: object = None
    # Shared and read-only until a plugin layer gives its own: no dict per aspect.
    events: Mapping[str, tuple[AdviceSpec, ...]] = field(
        default_factory=lambda: _NO_EVENTS, repr=False
    )

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise PointcutError(f"an aspect needs a non-empty string name, not {self.name!r}")
        self.advices = tuple(self.advices)
        if self.switch is None:
            self.switch = Switch(self.name)
        if self.on_error not in _POLICIES:
            raise ValueError(
                f"aspect {self.name!r}: on_error must be one of {', '.join(_POLICIES)}, "
                f"not {self.on_error!r}"
            )
        if self.max_failures < 1:
            raise ValueError(f"aspect {self.name!r}: max_failures must be at least 1")

    @classmethod
    def of(
        cls,
        name: str,
        hooks: Iterable[tuple[str, Callable[..., Any]]],
        **options: Any,
    ) -> Aspect:
        """Build an aspect from ``(spec, function)`` pairs.

        ``Aspect.of("x", [("before:save", f)])``
        """
        return cls(name, tuple(AdviceSpec(f, spec) for spec, f in hooks), **options)
