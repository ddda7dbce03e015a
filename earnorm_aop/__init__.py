"""earnorm_aop: plugins for ORM models, woven as aspects onto their methods.

This module only re-exports the public names; each lives in the module named
after its concept (see DESIGN.md and docs/reference.md).
"""

from .conditions import when
from .declaration import BasePlugin, plugin
from .errors import (
    DependencyError,
    DuplicatePluginError,
    PluginConfigError,
    PluginError,
    PluginNotFoundError,
    PointcutError,
    ProceedError,
    WeavingError,
)
from .events import aemit, emit
from .explanation import explain
from .model import PluginModel, unweave, weave, with_plugins
from .plugin_registry import PluginInfo, PluginRegistry, registry
from .plugin_spec import hook
from .weaving.aspect import AdviceSpec, Aspect, Switch
from .weaving.joinpoint import JoinPoint, Recover
from .weaving.pointcut import Kind, Pointcut, parse_pointcut
from .weaving.tracing import Trace, TraceRecord
from .weaving.weaver import trace

__all__ = [
    "AdviceSpec",
    "Aspect",
    "BasePlugin",
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
    "Pointcut",
    "PointcutError",
    "ProceedError",
    "Recover",
    "Switch",
    "Trace",
    "TraceRecord",
    "WeavingError",
    "aemit",
    "emit",
    "explain",
    "hook",
    "parse_pointcut",
    "plugin",
    "registry",
    "trace",
    "unweave",
    "weave",
    "when",
    "with_plugins",
]
