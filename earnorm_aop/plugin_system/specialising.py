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
    factory: Callable[..., Callable[..., Any] | None], *, target: bool = False
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
    """

    def mark(func: F) -> F:
        func.__earnorm_per_model__ = (factory, target)  # type: ignore[attr-defined]
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
    given = (getattr(func, "__self__", None), model, operation, adapter_for(model))
    made = factory(*given, target) if with_target else factory(*given)
    if made is None:
        return None
    if type(spec) is AdviceSpec:  # (what dataclasses.replace does, without its generality)
        return AdviceSpec(made, spec.target, spec.optional, spec.name)
    return dataclasses.replace(spec, func=made)
