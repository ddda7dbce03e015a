"""earnorm_aop: plugins for ORM models, woven as aspects onto their methods.

This module re-exports the public names; each lives in the module named after
its concept (see DESIGN.md and docs/reference.md).  Its last line is the one
call that plugs the layers into the engine (``_wiring.py``).
"""

# Importing the integrations installs the Django system check (it imports no Django).
from . import integrations as _integrations  # noqa: F401
from ._wiring import install as _install
from .errors import (
    DependencyError,
    DuplicatePluginError,
    PluginConfigError,
    PluginConfigWarning,
    PluginError,
    PluginNotFoundError,
    PluginWarning,
    PointcutError,
    ProceedError,
    WeavingError,
)
from .plugin_system.conditions import when
from .plugin_system.declaration import BasePlugin, plugin
from .plugin_system.events import aemit, emit
from .plugin_system.explanation import explain
from .plugin_system.masking import mask, mask_key, unmask
from .plugin_system.model import PluginModel, unweave, weave, with_plugins
from .plugin_system.registry import PluginInfo, PluginRegistry, registry
from .plugin_system.spec import hook
from .runtime.context import Context, context
from .runtime.redis_switchboard import RedisSwitchboard
from .runtime.switchboard import Switchboard, SwitchState
from .weaving.aspect import AdviceSpec, Aspect, Switch
from .weaving.joinpoint import JoinPoint, Recover
from .weaving.metering import metering
from .weaving.metering import start as start_metering
from .weaving.metering import stop as stop_metering
from .weaving.pointcut import Kind, Pointcut, parse_pointcut
from .weaving.tracing import Trace, TraceRecord
from .weaving.weaver import trace

_install()  # the engine's extension points, filled by the layers above it (_wiring.py)

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
    "PluginConfigWarning",
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
    "mask_key",
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
