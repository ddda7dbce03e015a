"""The dispatch chain of one woven method, and the two ways to run it.

A :class:`ChainPlan` is decided at weave time: which advice runs in which
phase, in which order.  Two modules turn a plan into the wrapt wrapper
function: :mod:`earnorm_aop.weaving.generated` generates Python source specialised to
that exact chain (the fast path), and :mod:`earnorm_aop.weaving.interpreted` runs
the same plan with plain loops (tests check the two agree; tracing uses it
because it can report every advice run).  What both share lives here: the
plan and what a failing advice does under the ``log``/``disable`` policies.

Semantics (DESIGN.md section 2): every ``before`` in plugin order (``False``
vetoes: the call returns ``None`` and nothing else runs) -> the ``around``
onion, first outermost -> the method -> ``chain`` advice reversed -> ``after``
advice reversed.  ``error`` advice runs reversed for an exception from the
method or an ``around``; the first ``Recover(v)`` makes ``v`` the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .advice import PlannedAdvice, Target
from .aspect import Aspect, Switch
from .pointcut import Kind

__all__ = [
    "ChainPlan",
    "Dispatcher",
    "FailureHandler",
    "model_of",
    "on_auto_disable",
    "record_failure",
]

log = logging.getLogger("earnorm_aop")

Dispatcher = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]

# What switching a tripped plugin off means is re-weaving, which the layer
# above this one (the rebuild step) knows how to do; it registers itself here
# so that this module, imported by the dispatchers, does not import it.
_auto_disable: list[Callable[[Switch], None]] = []


def on_auto_disable(action: Callable[[Switch], None]) -> None:
    """Run ``action(switch)`` when a failing plugin trips its ``max_failures``."""
    if action not in _auto_disable:
        _auto_disable.append(action)


@dataclass(frozen=True, slots=True)
class ChainPlan:
    """The advice of one (class, method), sorted into phases and run order."""

    target: Target
    befores: tuple[PlannedAdvice, ...] = ()
    arounds: tuple[PlannedAdvice, ...] = ()
    chains: tuple[PlannedAdvice, ...] = ()
    afters: tuple[PlannedAdvice, ...] = ()
    errors: tuple[PlannedAdvice, ...] = ()
    # Set by the weaver when another woven level of the same method exists in
    # the hierarchy, so a super() call must not run the advice twice.
    guard: bool = False
    # For an adapter-mapped method: the logical operation and the per-model
    # class the wrapper is installed on.
    label: str = ""
    owner: type | None = None

    @classmethod
    def build(
        cls,
        target: Target,
        advice: Sequence[PlannedAdvice],
        *,
        guard: bool = False,
    ) -> ChainPlan:
        """Sort advice given in plugin order into phases (reversing the late ones)."""

        def of(kind: Kind) -> tuple[PlannedAdvice, ...]:
            return tuple(a for a in advice if a.kind is kind)

        return cls(
            target,
            befores=of(Kind.BEFORE),
            arounds=of(Kind.AROUND),
            chains=of(Kind.CHAIN)[::-1],
            afters=of(Kind.AFTER)[::-1],
            errors=of(Kind.ERROR)[::-1],
            guard=guard,
        )

    @property
    def all(self) -> tuple[PlannedAdvice, ...]:
        return self.befores + self.arounds + self.chains + self.afters + self.errors

    @property
    def switches(self) -> tuple[Switch, ...]:
        """The distinct plugin switches of the chain, in first-use order."""
        return tuple(dict.fromkeys(a.aspect.switch for a in self.all))

    def __bool__(self) -> bool:
        return bool(self.all)


def model_of(target: Target) -> Callable[[Any], Any]:
    model = target.model
    if model is not None:
        return lambda instance: model
    if target.binding == "method":
        return type
    if target.binding == "classmethod":
        return lambda instance: instance
    owner = target.owner
    return lambda instance: owner


class FailureHandler:
    """What a failing advice does under the ``log`` and ``disable`` policies."""

    def __init__(self, advice: PlannedAdvice, target: Target) -> None:
        self.advice = advice
        self.method = target.name
        self.model_of = model_of(target)

    def __call__(self, error: BaseException, instance: Any) -> None:
        # Name the model the call ran on (a subclass inheriting the method),
        # not the class that happens to define it.
        model = self.model_of(instance)
        where = f"{getattr(model, '__qualname__', model)}.{self.method}"
        advice = self.advice
        record_failure(
            advice.aspect, error, f"{advice.kind.value} advice {advice.spec.name!r} on {where}"
        )


def record_failure(aspect: Aspect, error: BaseException, what: str) -> None:
    """Count, log and, past ``max_failures`` under ``disable``, switch off a failing plugin.

    ``what`` says which advice or handler failed where; advice and event
    handlers share this so one plugin has one failure count.
    """
    switch = aspect.switch
    with switch.lock:
        switch.failures += 1
        switch.consecutive_failures += 1
        switch.last_error = error
        trip = (
            aspect.on_error == "disable"
            and switch.enabled
            and switch.consecutive_failures >= aspect.max_failures
        )
    log.error("plugin %r: %s failed; the operation goes on", aspect.name, what, exc_info=error)
    if trip:
        log.warning(
            "plugin %r disabled after %d consecutive failures (max_failures=%d)",
            aspect.name,
            switch.consecutive_failures,
            aspect.max_failures,
        )
        switch.auto_disabled = True
        for action in _auto_disable:
            action(switch)
