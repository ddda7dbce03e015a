"""The one place the layers plug into the engine: what each extension point is.

The engine declares its extension points in
[`earnorm_aop.weaving.extensions`][earnorm_aop.weaving.extensions]; this module fills them from the
layers above it, and [`install`][earnorm_aop._wiring.install] puts them in force, once, from the
package's ``__init__``.  Read it as the table of every way the upper layers change what the engine
does:

- logical operations, subjects and framework bases: the model's adapter
  ([`earnorm_aop.adapters.base`][earnorm_aop.adapters.base]), the plugin layer's
  [`PluginModel`][earnorm_aop.plugin_system.model.PluginModel] a framework base too;
- advice adapted to a write (conditions, ``changes``):
  [`earnorm_aop.plugin_system.conditions`][earnorm_aop.plugin_system.conditions]; then, for a
  plugin under a gradual rollout, put behind its per-call gate
  ([`earnorm_aop.runtime.rollout`][earnorm_aop.runtime.rollout]);
- the ``context`` and ``user`` (its actor) advice and event-handler parameters:
  [`earnorm_aop.runtime.context`][earnorm_aop.runtime.context]; ``adapter``, the model's
  adapter, decided at weave time; ``write``, the state of one write, made once per call
  ([`Write`][earnorm_aop.adapters.tracking.Write]);
- commit-aware advice waits on the model's adapter (its ``defer``, decided at weave time);
- a tripped plugin: switched off (the engine's own reaction), then published to the switchboards
  sharing it ([`earnorm_aop.runtime.switchboard`][earnorm_aop.runtime.switchboard]);
- new and re-created woven classes: the plugin layer reads their ``Meta``
  ([`earnorm_aop.plugin_system.model`][earnorm_aop.plugin_system.model]).
"""

from __future__ import annotations

import functools

from .adapters import base as adapters
from .adapters import tracking
from .plugin_system import conditions, model
from .runtime import context, rollout, switchboard
from .weaving import extensions, weaver
from .weaving.advice import Target
from .weaving.aspect import AdviceSpec, Aspect
from .weaving.pointcut import Kind

__all__ = ["EXTENSIONS", "install"]


def _framework_bases() -> frozenset[type]:
    return adapters.framework_bases() | {model.PluginModel}


def _advice(
    model: type, operation: str, target: Target, aspect: Aspect, spec: AdviceSpec, kind: Kind
) -> tuple[AdviceSpec, Kind] | None:
    """Conditions on a write's changes, then the plugin's rollout gate (if it has one).

    ``None``: the advice has nothing to do on this model (left out of its chain).
    """
    resolved = conditions.resolve_advice(model, operation, target, aspect, spec, kind)
    if resolved is None:
        return None
    return rollout.resolve_advice(model, operation, target, aspect, *resolved)


EXTENSIONS = extensions.Extensions(
    operations=adapters.operations_of,
    subject=adapters.subject_of,
    advice=_advice,
    framework_bases=_framework_bases,
    injectables={"context": context.current_context, "user": context.current_user},
    constants={"adapter": adapters.adapter_for},
    per_call={"write": tracking.write_maker},
    scheduler=adapters.scheduler_of,
    on_auto_disable=(weaver.switch_off, switchboard.publish_auto_disable),
    on_subclass=(model.on_subclass,),
    on_copy=(model.on_copy,),
)
"""The extension points of the engine as this package fills them."""


@functools.cache  # once per process
def install() -> None:
    """Put ``EXTENSIONS`` in force (``earnorm_aop/__init__.py`` calls it, once)."""
    extensions.install(EXTENSIONS)
