"""Advice specialised to each woven method at weave time (``per_model``).

A built-in's advice often does the same thing on every model but with what
the model's adapter and the woven operation decide: which recorder, which
adapter methods, whether the method is ``async def``.  Marked with
[`per_model`][earnorm_aop.plugin_system.specialising.per_model], the advice is replaced, when a
model is planned, by what its factory makes for that model, so none of that is decided per call.
The ``changes`` plugin's bookkeeping, its bulk reads and the ``lifecycle``
plugin's events use it; the conditions' resolver
([`conditions.resolve_advice`][earnorm_aop.plugin_system.conditions.resolve_advice])
applies it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from ..adapters.base import adapter_for
from ..weaving.advice import Target
from ..weaving.aspect import AdviceSpec

__all__ = ["per_model", "specialised"]

F = TypeVar("F", bound=Callable[..., Any])


def per_model(
    factory: Callable[..., Callable[..., Any] | None],
    *,
    target: bool = False,
    by_adapter: bool = False,
) -> Callable[[F], F]:
    """Specialise a plugin's advice to each woven method at weave time.

    ``factory(plugin, model, operation, adapter)`` returns the function the
    chain calls instead of the marked method (its parameters are injected by
    name, as the method's are), so what the model's adapter and the operation
    decide is decided once, not on every call.  With ``target=True`` it is
    also given the woven method (a ``Target``: whether it is ``async def``
    is known then, not tested on each result).  The ``changes`` plugin's
    per-save bookkeeping and the ``lifecycle`` plugin's events use it.  A
    factory returning ``None`` leaves the advice out of that model's chain:
    it has nothing to do there (the ``changes`` plugin's ``remember_saved``
    on an adapter whose objects carry their persisted state themselves).

    ``by_adapter=True`` declares that what the factory makes depends only on
    the plugin instance, the operation and the adapter, never on the model:
    it is made once per (operation, adapter) and every model of that adapter
    shares it (and so the advice planned from it), which weaving many models
    of one shape costs less.  Not with ``target=True``.
    """
    if target and by_adapter:
        raise TypeError("per_model(): by_adapter=True advice cannot also ask for the target")

    def mark(func: F) -> F:
        func.__earnorm_per_model__ = (factory, "adapter" if by_adapter else target)  # type: ignore[attr-defined]
        return func

    return mark


def specialised(model: type, operation: str, target: Target, spec: AdviceSpec) -> AdviceSpec | None:
    """``spec`` with the function its ``per_model`` factory makes for ``model``; else as it is.

    ``None``: the factory made nothing (the advice is not woven on ``model``).
    """
    func = spec.func
    found = getattr(getattr(func, "__func__", None), "__earnorm_per_model__", None)
    if found is None:
        return spec
    factory, with_target = found
    adapter = adapter_for(model)
    if with_target == "adapter":  # one per (operation, adapter), kept with the spec
        memo = spec._by_adapter
        key = (operation, id(adapter))
        known = memo.get(key) if memo is not None else None
        if known is not None and known[0] is adapter:
            return known[1]  # type: ignore[no-any-return]
        made_spec = _with(spec, factory(getattr(func, "__self__", None), model, operation, adapter))
        if memo is None:
            memo = spec._by_adapter = {}
        memo[key] = (adapter, made_spec)
        return made_spec
    given = (getattr(func, "__self__", None), model, operation, adapter)
    return _with(spec, factory(*given, target) if with_target else factory(*given))


def _with(spec: AdviceSpec, made: Callable[..., Any] | None) -> AdviceSpec | None:
    """``spec`` calling ``made``; ``None`` when the factory made nothing."""
    if made is None:
        return None
    if type(spec) is AdviceSpec:  # (what dataclasses.replace does, without its generality)
        return AdviceSpec(made, spec.target, spec.optional, spec.name)
    return dataclasses.replace(spec, func=made)
