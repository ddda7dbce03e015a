"""Metering: per-plugin counts of advice runs and the time they took, while metrics are on.

Off (the default) it costs nothing per call: no dispatcher tests a flag of its own.
[`start`][earnorm_aop.weaving.metering.start] raises every dispatcher's gate, as an open ``trace()``
block does (see [`earnorm_aop.weaving.scope`][earnorm_aop.weaving.scope]), so each call is handed to
the interpreted chain, which already times every advice run and reports it here;
[`stop`][earnorm_aop.weaving.metering.stop] lowers the gates again and the compiled plain path is
back. The counts live on each plugin's [`Switch`][earnorm_aop.weaving.aspect.Switch], next to the
failure counts the error policy keeps, so whoever reads a plugin's state (the registry's
``metrics()``) finds them there.

``start``/``stop`` nest: metrics stay on until every ``start`` is matched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import scope
from .aspect import Switch

__all__ = ["active", "count", "metering", "start", "stop"]


def start() -> None:
    """Count advice runs and time per plugin from now on, in every thread."""
    scope.metering_started()


def stop() -> None:
    """Undo one ``start``; the last one puts the uninstrumented dispatchers back."""
    if scope.mode.metering <= 0:
        raise RuntimeError("metering.stop() without a matching metering.start()")
    scope.metering_stopped()


def active() -> bool:
    """Whether metrics are on."""
    return scope.mode.metering > 0


@contextmanager
def metering() -> Iterator[None]:
    """Metrics on inside the block (``with metering(): ...``)."""
    start()
    try:
        yield
    finally:
        stop()


def count(switch: Switch, outcome: str, seconds: float) -> None:
    """Record one advice run of ``switch``'s plugin (called by the interpreted chain)."""
    with switch.lock:
        switch.runs[outcome] = switch.runs.get(outcome, 0) + 1
        switch.seconds += seconds
