"""Custom events: ``@hook("after_change")`` handlers fired by ``emit``/``aemit``.

An event is a hook name that does not name a model method (``after_change``,
or ``before_update`` on a model without ``update``).  ``emit(instance, event,
**payload)`` calls every enabled handler of the instance's model in plugin
order, injecting ``instance``, ``model``, ``event`` and the payload keys by
name.

Which handlers an event has on a class is decided when the class's plans are
rebuilt (:func:`earnorm_aop.weaving.weaver.event_handlers` is one look-up), so
an event nobody listens to costs a look-up and a test of an empty tuple,
before anything is built.  Handler parameters are read per call (cached per
handler): that cost is paid only where someone listens.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from ..errors import PluginError
from ..weaving import scope, weaver
from ..weaving.aspect import AdviceSpec, Aspect
from ..weaving.policy import policy_of

__all__ = ["aemit", "emit", "listened"]

_signatures: dict[int, tuple[AdviceSpec, inspect.Signature]] = {}


def _arguments(
    aspect: Aspect, spec: AdviceSpec, instance: Any, event: str, payload: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    cached = _signatures.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _signatures[id(spec)] = (spec, inspect.signature(spec.func))
    sig = cached[1]
    given = {"instance": instance, "model": type(instance), "event": event, **payload}
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    used: set[str] = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            keywords.update({k: v for k, v in payload.items() if k not in used})
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        if p.name in given:
            value = given[p.name]
        elif p.default is not p.empty:
            continue
        else:
            raise PluginError(
                f"plugin {aspect.name!r}, handler {spec.name!r} of event {event!r} needs "
                f"{p.name!r}, but emit() gave {', '.join(given)}"
            )
        used.add(p.name)
        if p.kind is p.KEYWORD_ONLY:
            keywords[p.name] = value
        else:
            positional.append(value)
    return positional, keywords


def listened(model: type, event: str) -> bool:
    """Whether any enabled handler of ``event`` is woven on ``model`` (one look-up).

    For a caller whose payload costs something to build: nobody listens, nothing built.
    """
    return bool(weaver.event_handlers(model, event))


def _handlers(instance: Any, event: str) -> Sequence[tuple[Aspect, AdviceSpec]]:
    found = weaver.event_handlers(type(instance), event)
    if not found:
        return found  # nobody listens
    off = scope.DISABLED.get()
    if not off:
        return found
    return [(a, s) for a, s in found if a.switch not in off]


def _failed(aspect: Aspect, spec: AdviceSpec, instance: Any, event: str, exc: Exception) -> None:
    """Apply the plugin's error policy to a failing handler (as the chain does for advice)."""
    what = f"handler {spec.name!r} of event {event!r} on {type(instance).__qualname__}"
    policy_of(aspect).failed(aspect, exc, what)


def _succeeded(aspect: Aspect) -> None:
    policy_of(aspect).succeeded(aspect)


def emit(instance: Any, event: str, **payload: Any) -> list[Any]:
    """Fire ``event`` on ``instance``'s model; return the handlers' results in order."""
    results = []
    for aspect, spec in _handlers(instance, event):
        if inspect.iscoroutinefunction(spec.func):
            raise PluginError(
                f"plugin {aspect.name!r}: handler {spec.name!r} of event {event!r} is async; "
                "fire the event with 'await aemit(...)'"
            )
        args, kwargs = _arguments(aspect, spec, instance, event, payload)
        try:
            results.append(spec.func(*args, **kwargs))
        except Exception as exc:
            _failed(aspect, spec, instance, event, exc)
        else:
            _succeeded(aspect)
    return results


async def aemit(instance: Any, event: str, **payload: Any) -> list[Any]:
    """Like :func:`emit`, awaiting async handlers (sync handlers are called directly)."""
    results = []
    for aspect, spec in _handlers(instance, event):
        args, kwargs = _arguments(aspect, spec, instance, event, payload)
        try:
            value = spec.func(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
            results.append(value)
        except Exception as exc:
            _failed(aspect, spec, instance, event, exc)
        else:
            _succeeded(aspect)
    return results
