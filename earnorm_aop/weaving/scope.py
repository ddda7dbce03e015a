"""Context-local state: plugins switched off for the current thread / task, and traces.

Both live in :mod:`contextvars`, so a ``with registry.disabled("x"):`` block or a
``with trace():`` block is seen by the code inside it (and by asyncio tasks it
starts) but not by other threads or tasks.  Dispatchers only read these
variables while some context has one in force: each plugin's
:class:`~earnorm_aop.weaving.aspect.Switch` counts the ``disabled()`` blocks open
for it anywhere (``Switch.scopes``) and :data:`TRACING` counts open traces; the
compiled dispatchers close over those counters' cells, which a block flips in
O(1) instead of re-weaving every class, so code that never uses them pays one
truth test of a closure variable per plugin.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import CellType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aspect import Switch
    from .tracing import Trace

__all__ = ["ACTIVE_CALLS", "DISABLED", "TRACE", "TRACING", "mode"]

DISABLED: ContextVar[frozenset[Switch]] = ContextVar("earnorm_aop_disabled", default=frozenset())
TRACE: ContextVar[Trace | None] = ContextVar("earnorm_aop_trace", default=None)
# (id(instance), method) pairs whose advice already runs in an outer call, so a
# super() call into a woven parent does not run the same advice again; with each,
# (id(instance), method, defining class) of the level that call entered at, so a
# recursive call at that same level still counts as an outer call.
ACTIVE_CALLS: ContextVar[frozenset[tuple[Any, ...]]] = ContextVar(
    "earnorm_aop_active", default=frozenset()
)


# Open trace() blocks in any thread or task.  Compiled dispatchers close over
# this very cell (a closure variable is the cheapest thing Python can test), so
# opening the first trace flips one value instead of re-weaving every class.
TRACING = CellType(0)


class _Mode:
    """Process-wide counters the dispatchers test before reading a context variable."""

    @property
    def tracing(self) -> int:
        """Open ``trace()`` blocks, in any thread or task."""
        return TRACING.cell_contents  # type: ignore[no-any-return]

    @tracing.setter
    def tracing(self, value: int) -> None:
        TRACING.cell_contents = value


mode = _Mode()
