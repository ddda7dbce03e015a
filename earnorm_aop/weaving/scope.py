"""Context-local state: plugins switched off for the current thread / task, and traces.

Both live in ``contextvars``, so a ``with registry.disabled("x"):`` block or a
``with trace():`` block is seen by the code inside it (and by asyncio tasks it
starts) but not by other threads or tasks.  Dispatchers only read these
variables while some context, anywhere, has one in force that concerns them.

How they know without being re-woven: every compiled dispatcher closes over the cell of one
[`Gate`][earnorm_aop.weaving.scope.Gate], shared by all chains made of the same set of plugins.  A
gate's value counts the open ``trace()`` blocks plus the open ``disabled()`` blocks for any of its
plugins; while it is zero (the usual case) the dispatcher pays one truth test of a closure variable
and takes its plain path.  Opening or closing a block updates the gates that contain the plugin (one
per distinct plugin set, not one per class), so its cost does not grow with the number of woven
classes.  Switching metrics on ([`earnorm_aop.weaving.metering`][earnorm_aop.weaving.metering])
raises every gate the same way, so metrics cost nothing per call while they are off.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from contextvars import ContextVar
from types import CellType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aspect import Switch
    from .tracing import Trace

__all__ = [
    "ACTIVE_CALLS",
    "DISABLED",
    "GLOBALS",
    "TRACE",
    "Gate",
    "disabled_closed",
    "disabled_opened",
    "gate",
    "metering_started",
    "metering_stopped",
    "mode",
    "trace_closed",
    "trace_opened",
]

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


class _Mode:
    """Process-wide counters (read by dispatchers only once their gate is open)."""

    tracing = 0  # open trace() blocks, in any thread or task
    metering = 0  # metering.start() calls not yet stopped (see metering.py)


mode = _Mode()

# The globals of every generated dispatcher (the dispatcher module fills in its
# constants).  ``_watch`` (open traces plus metering) and ``_metering`` mirror
# ``mode`` here, where a dispatcher whose gate is open reads them with one
# dictionary-cached global lookup each.
GLOBALS: dict[str, Any] = {"_watch": 0, "_metering": 0}


def _mirror() -> None:
    GLOBALS["_watch"] = mode.tracing + mode.metering
    GLOBALS["_metering"] = mode.metering


class Gate:
    """The cell the dispatchers of one set of plugins close over (see the module doc)."""

    __slots__ = ("__weakref__", "cell", "switches")

    def __init__(self, switches: frozenset[Switch]) -> None:
        self.switches = switches
        self.cell = CellType(mode.tracing + mode.metering + sum(s.scopes for s in switches))


_lock = threading.Lock()
# Gates by plugin set; an entry lives as long as some dispatcher holds its gate.
_gates: weakref.WeakValueDictionary[frozenset[Switch], Gate] = weakref.WeakValueDictionary()


def gate(switches: Iterable[Switch]) -> Gate:
    """The gate shared by every chain made of exactly these plugins."""
    key = frozenset(switches)
    with _lock:
        found = _gates.get(key)
        if found is None:
            found = _gates[key] = Gate(key)
        return found


def _shift(switches: Iterable[Switch] | None, delta: int) -> None:
    """Add ``delta`` to the gates that contain one of ``switches`` (all gates for None)."""
    for g in list(_gates.values()):
        if switches is None:
            g.cell.cell_contents += delta
        else:
            n = sum(1 for s in switches if s in g.switches)
            if n:
                g.cell.cell_contents += delta * n


def disabled_opened(switches: Iterable[Switch]) -> None:
    """A ``disabled()`` block for ``switches`` opened in some context."""
    switches = list(switches)
    with _lock:
        for s in switches:
            s.scopes += 1
        _shift(switches, 1)


def disabled_closed(switches: Iterable[Switch]) -> None:
    switches = list(switches)
    with _lock:
        for s in switches:
            s.scopes -= 1
        _shift(switches, -1)


def trace_opened() -> None:
    """A ``trace()`` block opened in some context."""
    with _lock:
        mode.tracing += 1
        _mirror()
        _shift(None, 1)


def trace_closed() -> None:
    with _lock:
        mode.tracing -= 1
        _mirror()
        _shift(None, -1)


def metering_started() -> None:
    """Metrics were switched on: every dispatcher takes its instrumented path."""
    with _lock:
        mode.metering += 1
        _mirror()
        _shift(None, 1)


def metering_stopped() -> None:
    with _lock:
        mode.metering -= 1
        _mirror()
        _shift(None, -1)
