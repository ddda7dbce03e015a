"""The per-call gate of a plugin under gradual rollout (:mod:`earnorm_aop.plugin_system.rollout`).

:func:`resolve_advice` is part of the engine's ``advice`` extension point
(``earnorm_aop/_wiring.py``): at weave time, an advice of a plugin whose
switch has a rollout is put behind a gate that reads the call context and
asks the rollout; outside the share the advice does what a skipped advice
does (``around`` calls ``proceed()``, ``chain`` hands the value on, the others
return nothing).  A plugin without a rollout is not touched, so its calls pay
nothing for this.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..plugin_system.rollout import Rollout
from ..weaving.advice import Target
from ..weaving.aspect import AdviceSpec, Aspect
from ..weaving.pointcut import Kind
from .context import current_context as current

__all__ = ["gated", "resolve_advice"]


def gated(func: Callable[..., Any], kind: Kind, rollout: Rollout) -> Callable[..., Any]:
    """``func`` run only for calls inside ``rollout``'s share."""
    sig = inspect.signature(func)
    names = {p.name for p in sig.parameters.values()}
    extra = "proceed" if kind is Kind.AROUND else None
    added = extra is not None and extra not in names
    params = list(sig.parameters.values())
    # Where the engine puts what a skipped advice hands on: by name, or by position
    # (it passes positional-or-keyword parameters positionally, in order).
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    wanted = "proceed" if kind is Kind.AROUND else (positional[0] if positional else "")
    index = positional.index(wanted) if wanted in positional else -1
    if added:
        new = inspect.Parameter(extra, inspect.Parameter.KEYWORD_ONLY)  # type: ignore[arg-type]
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        params.insert(at, new)
    decide = rollout.decide

    def handed_on(va: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        return kw[wanted] if wanted in kw else va[index]

    def outside(va: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        if kind is Kind.AROUND:
            return handed_on(va, kw)()
        if kind is Kind.CHAIN:
            return handed_on(va, kw)
        return None

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def agate(*va: Any, **kw: Any) -> Any:
            if not decide(current()):
                out = outside(va, kw)
                return (await out) if inspect.isawaitable(out) else out
            if added:
                del kw[extra]  # type: ignore[arg-type]
            return await func(*va, **kw)

        wrapper: Callable[..., Any] = agate
    else:

        @functools.wraps(func)
        def gate(*va: Any, **kw: Any) -> Any:
            if not decide(current()):
                return outside(va, kw)
            if added:
                del kw[extra]  # type: ignore[arg-type]
            return func(*va, **kw)

        wrapper = gate
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.rollout = rollout  # type: ignore[attr-defined]  # what explain and tests read
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # plan with the signature above
    return wrapper


def resolve_advice(
    model: type, operation: str, target: Target, aspect: Aspect, spec: AdviceSpec, kind: Kind
) -> tuple[AdviceSpec, Kind]:
    """``spec`` behind its plugin's rollout, if it has one (else unchanged)."""
    rollout = aspect.switch.rollout
    if not isinstance(rollout, Rollout):
        return spec, kind
    func = gated(spec.func, kind, rollout)
    return AdviceSpec(func, spec.target, optional=spec.optional, name=spec.name), kind
