"""Context-local state: plugins switched off for the current thread / task, and traces.

Both live in :mod:`contextvars`, so a ``with registry.disabled("x"):`` block or a
``with trace():`` block is seen by the code inside it (and by asyncio tasks it
starts) but not by other threads or tasks.  Dispatchers only read these
variables while some context has one in force: the weaver counts the open
scopes and re-weaves with or without the check as the count leaves or returns
to zero, so code that never uses them pays nothing.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aspect import Switch
    from .tracing import Trace

__all__ = ["ACTIVE_CALLS", "DISABLED", "TRACE"]

DISABLED: ContextVar[frozenset[Switch]] = ContextVar("earnorm_aop_disabled", default=frozenset())
TRACE: ContextVar[Trace | None] = ContextVar("earnorm_aop_trace", default=None)
# (id(instance), method) pairs (for a staticmethod, the topmost class defining
# it stands for the instance) whose advice already runs in an outer call, so a
# super() call into a woven parent does not run the same advice again; with each,
# (id(instance), method, defining class) of the level that call entered at, so a
# recursive call at that same level still counts as an outer call.
ACTIVE_CALLS: ContextVar[frozenset[tuple[Any, ...]]] = ContextVar(
    "earnorm_aop_active", default=frozenset()
)
