"""earnorm_aop: plugins for ORM models, woven as aspects onto their methods.

This module re-exports the public names; each lives in the module named after
its concept (see DESIGN.md and docs/reference.md).  It also makes the one call
that plugs the layers into the engine: every extension point the engine
declares in :mod:`earnorm_aop.weaving.extensions`, filled from the layers above
it, installed once, at the end of this module.
"""

# Importing the integrations installs the Django system check (it imports no Django).
from . import integrations as _integrations  # noqa: F401
from .adapters import base as _adapters
from .errors import (
    DependencyError,
    DuplicatePluginError,
    PluginConfigError,
    PluginError,
    PluginNotFoundError,
    PluginWarning,
    PointcutError,
    ProceedError,
    WeavingError,
)
from .plugin_system import conditions as _conditions
from .plugin_system import model as _model
from .plugin_system.conditions import when
from .plugin_system.declaration import BasePlugin, plugin
from .plugin_system.events import aemit, emit
from .plugin_system.explanation import explain
from .plugin_system.masking import mask, unmask
from .plugin_system.model import PluginModel, unweave, weave, with_plugins
from .plugin_system.registry import PluginInfo, PluginRegistry, registry
from .plugin_system.spec import hook
from .runtime import context as _context
from .runtime import switchboard as _switchboard
from .runtime.context import Context, context
from .runtime.redis_switchboard import RedisSwitchboard
from .runtime.switchboard import Switchboard, SwitchState
from .weaving import extensions as _extensions
from .weaving import weaver as _weaver
from .weaving.aspect import AdviceSpec, Aspect, Switch
from .weaving.joinpoint import JoinPoint, Recover
from .weaving.metering import metering
from .weaving.metering import start as start_metering
from .weaving.metering import stop as stop_metering
from .weaving.pointcut import Kind, Pointcut, parse_pointcut
from .weaving.tracing import Trace, TraceRecord
from .weaving.weaver import trace

# The engine's extension points as the layers above it fill them (the table in
# weaving/extensions.py): operations, subjects and framework bases from the
# model's adapter (PluginModel a framework base too); advice adapted to a write
# (conditions, ``changes``); ``context`` per call and the model's ``adapter``
# at weave time; commit-aware advice waiting on the adapter; a tripped plugin
# switched off, then published to its switchboards; new and re-created woven
# classes read by the plugin layer.
_extensions.install(
    _extensions.Extensions(
        operations=_adapters.operations_of,
        subject=_adapters.subject_of,
        advice=_conditions.resolve_advice,
        framework_bases=lambda: _adapters.framework_bases() | {PluginModel},
        injectables={"context": _context.current_context},
        scheduler=_adapters.schedule,
        on_auto_disable=(_weaver.switch_off, _switchboard.publish_auto_disable),
        on_subclass=(_model.on_subclass,),
        on_copy=(_model.on_copy,),
    )
)

__all__ = [
    "AdviceSpec",
    "Aspect",
    "BasePlugin",
    "Context",
    "DependencyError",
    "DuplicatePluginError",
    "JoinPoint",
    "Kind",
    "PluginConfigError",
    "PluginError",
    "PluginInfo",
    "PluginModel",
    "PluginNotFoundError",
    "PluginRegistry",
    "PluginWarning",
    "Pointcut",
    "PointcutError",
    "ProceedError",
    "Recover",
    "RedisSwitchboard",
    "Switch",
    "SwitchState",
    "Switchboard",
    "Trace",
    "TraceRecord",
    "WeavingError",
    "aemit",
    "context",
    "emit",
    "explain",
    "hook",
    "mask",
    "metering",
    "parse_pointcut",
    "plugin",
    "registry",
    "start_metering",
    "stop_metering",
    "trace",
    "unmask",
    "unweave",
    "weave",
    "when",
    "with_plugins",
]
