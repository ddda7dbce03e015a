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
from .joinpoint import JoinPoint, Recover
from .pointcut import Kind, Pointcut, parse_pointcut
from .tracing import trace

__all__ = [
    "AdviceSpec",
    "Aspect",
    "DependencyError",
    "DuplicatePluginError",
    "JoinPoint",
    "Kind",
    "PluginConfigError",
    "PluginError",
    "PluginNotFoundError",
    "Pointcut",
    "PointcutError",
    "ProceedError",
    "Recover",
    "Switch",
    "WeavingError",
    "parse_pointcut",
    "trace",
]
