"""earnorm_aop: plugins for ORM models, woven as aspects onto their methods.

This module only re-exports the public names; each lives in the module named
after its concept (see DESIGN.md and docs/reference.md).
"""

from .aspect import AdviceSpec, Aspect, Switch
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
from .explain import explain
from .joinpoint import JoinPoint, Recover
from .model import PluginModel, unweave, weave, with_plugins
from .plugin import BasePlugin, hook, plugin
from .pointcut import Kind, Pointcut, parse_pointcut
from .registry import PluginInfo, PluginRegistry, registry
from .tracing import Trace, TraceRecord, trace

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
    "with_plugins",
]
