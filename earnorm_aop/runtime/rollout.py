"""The per-call gate of a plugin under gradual rollout
([`earnorm_aop.plugin_system.rollout`][earnorm_aop.plugin_system.rollout]).

[`resolve_advice`][earnorm_aop.runtime.rollout.resolve_advice] is part of the engine's ``advice``
extension point (``earnorm_aop/_wiring.py``): at weave time, an advice of a plugin whose
switch has a rollout is put behind a gate that reads the call context and
asks the rollout; outside the share the advice does what a skipped advice
does (``around`` calls ``proceed()``, ``chain`` hands the value on, the others
return nothing).  A plugin without a rollout is not touched, so its calls pay
nothing for this.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from ..plugin_system.rollout import Rollout
from ..weaving.advice import Target
from ..weaving.aspect import AdviceSpec, Aspect
from ..weaving.pointcut import Kind
from .context import current_context as current
from .switchboard import ROLLOUT, log

__all__ = ["SharedRollouts", "gated", "resolve_advice"]


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


class SharedRollouts:
    """``RedisSwitchboard``'s rollouts: a hash of their own, announced as a plugin's state.

    A mixin of the board (it uses its ``client``, ``key``, ``set``, ``states``
    and ``registry``); kept here, with the gate, so the board's module stays
    about switches.
    """

    client: Any
    key: str
    namespace: str
    errors: tuple[type[BaseException], ...]
    registry: Any

    @property
    def rollouts_key(self) -> str:
        return f"{self.key}:rollouts"

    def rollouts(self) -> dict[str, dict[str, Any]]:
        """The shared rollouts of the namespace: plugin -> ``Rollout.as_dict()``."""
        raw: dict[str, str] = self.client.hgetall(self.rollouts_key)
        out = {}
        for name, text in raw.items():
            try:
                data = json.loads(text)
            except ValueError:
                log.warning("switchboard %s: rollout of %r is not JSON", self.namespace, name)
                continue
            if isinstance(data, dict):
                out[name] = data
        return out

    def publish_rollout(self, name: str, rollout: dict[str, Any] | None) -> None:
        """Write ``name``'s rollout and announce it with a new state of the plugin.

        Every process applies a state whose origin is ``rollout`` by reading the
        rollout back
        ([`rollout_changed`][earnorm_aop.runtime.rollout.SharedRollouts.rollout_changed]), so the
        announcement rides on the states' own versioning and catch-up.
        """
        try:
            if rollout is None:
                self.client.hdel(self.rollouts_key, name)
            else:
                self.client.hset(self.rollouts_key, name, json.dumps(rollout))
            registry = self.registry
            if registry is not None:
                enabled = registry.switch(name).enabled
            else:  # the CLI: keep the shared state as it is
                shared = self.states().get(name)  # type: ignore[attr-defined]
                enabled = True if shared is None else shared.enabled
            self.set(name, enabled, origin=ROLLOUT)  # type: ignore[attr-defined]
        except self.errors as exc:
            log.warning(
                "switchboard %s: could not share the rollout of %r: %s", self.namespace, name, exc
            )

    def rollout_changed(self, name: str) -> None:
        text = self.client.hget(self.rollouts_key, name)
        try:
            data = None if text is None else json.loads(text)
        except ValueError:
            log.warning("switchboard %s: rollout of %r is not JSON", self.namespace, name)
            return
        self.apply_rollout(name, data if isinstance(data, dict) else None)  # type: ignore[attr-defined]

    def _catch_up_rollouts(self) -> None:
        for name, data in self.rollouts().items():
            self.apply_rollout(name, data)  # type: ignore[attr-defined]
