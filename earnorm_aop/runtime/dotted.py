"""Objects named by a dotted import path, as settings and plugin options name them.

``"myapp.clock.now"`` or ``"myapp.clock:Clock.now"``: what an operator writes in
Django settings (``EARNORM_AOP_CONTEXT``'s actor function) or in a plugin's
options (a clock, a sink), read by the integrations and the built-in plugins alike.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_dotted"]


def import_dotted(path: str) -> Any:
    """The object at ``"package.module.attr"`` (or ``"package.module:attr.sub"``)."""
    if ":" in path:
        module_name, _, attrs = path.partition(":")
        obj: Any = importlib.import_module(module_name)
        for attr in attrs.split("."):
            obj = getattr(obj, attr)
        return obj
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f"cannot import {path!r}: write 'package.module.attribute'")
