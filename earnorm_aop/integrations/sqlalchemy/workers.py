"""The greenlets woven writes run in at flush, kept by each thread for its next writes.

A woven ``save`` / ``delete`` spans the flush (see ``flush.py``): it runs in a
greenlet of its own, which switches back to the flush at the write's body and
is resumed after the SQL.  Making a greenlet, entering it the first time and
letting it die cost more than a small write's advice (issue 18 point 5: inside
a flush, ~23 us to enter a new greenlet and ~17 us for its end, against ~8 us
for a one-object save's whole chain), so a greenlet whose call has ended does
not die: it waits in its thread's pool (a greenlet runs only in the thread it
was made in) and runs the next write.  Nothing a plugin sees changes: each call
runs in the context the flush gives it, is paused and resumed the same way, and
its error reaches the flush.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import greenlet

__all__ = ["ENDED", "POOL_SIZE", "Done", "Worker", "drive", "pools"]

POOL_SIZE = 64  # idle workers kept per thread; one more ends with its call

# Idle workers per thread, in ``pools.idle`` (made on the thread's first write).
pools = threading.local()


class Done(tuple[Any, BaseException | None]):
    """How a worker's call ended: ``(value, error)``.

    A tuple (made in C: no Python call per write, which the call-count tests pin).
    """

    __slots__ = ()


class Worker(greenlet.greenlet):  # type: ignore[misc]
    """A greenlet running woven writes until the flush's end, one call after another.

    It may do I/O on an async session: SQLAlchemy's ``await_only`` switches to
    its parent, which the flush sets to its own greenlet for each call.
    """

    __sqlalchemy_greenlet_provider__ = True

    def __init__(self, driver: greenlet.greenlet) -> None:
        super().__init__(self._serve, greenlet.getcurrent())
        # Started now, with nothing, so it waits for its first job as for every
        # later one: a greenlet holds the arguments of its first switch until
        # it ends, and a job holds its object, session and context.
        self.switch()
        self.parent = driver

    # What its last call ended with, until the flush takes it (``drive``).
    ended: Done | None = None

    def _serve(self) -> object:
        # The job is held in a list emptied before it runs, and the outcome is
        # handed over through ``ended``, not as the switch's argument (which the
        # suspended frame would hold): an idle worker keeps no session, object
        # or traceback alive.
        jobs: list[Callable[[], Any]] = [self.parent.switch()]
        while True:
            try:
                self.ended = Done((jobs.pop()(), None))
            except greenlet.GreenletExit:
                raise  # collected while suspended (its session was dropped): the worker ends
            except BaseException as exc:
                self.ended = Done((None, exc))
            idle: list[Worker] | None = getattr(pools, "idle", None)
            if idle is None:
                idle = pools.idle = []
            if len(idle) >= POOL_SIZE:
                return ENDED  # the pool is full: the worker ends, the flush takes ``ended``
            idle.append(self)
            jobs.append(self.parent.switch(ENDED))


# What a worker switches out with when its call has ended (its outcome: ``ended``).
ENDED = object()


def _await_only() -> Callable[[Any], Any]:
    from sqlalchemy import util

    # 2.1 names it await_ (await_only stays as an alias); 2.0 has await_only only.
    found: Callable[[Any], Any] = getattr(util, "await_", None) or util.await_only
    return found


_await = _await_only()


def drive(call: greenlet.greenlet, step: Callable[[], Any]) -> tuple[bool, Any]:
    """Run ``call`` until it ends or suspends: ``(suspended, value)``.

    A call suspends by switching out with itself.  Anything else it switches
    out with is an awaitable from SQLAlchemy's ``await_only`` (I/O on an
    ``AsyncSession``): awaited here, in the flush's own greenlet, and its result
    sent back.  What the call raised is raised here.
    """
    value = step()
    while True:
        if value is ENDED:
            done: Done = call.ended
            call.ended = None
            if done[1] is not None:
                raise done[1]
            return False, done[0]
        # coverage.py loses its place in this frame once a greenlet has switched
        # back into it (it counts the lines below as never run): the tests show
        # they run (test_sqlalchemy_async's I/O inside an async flush counts the
        # awaits, every flush test suspends a call).
        if value is call:  # pragma: no cover
            return True, call
        try:  # pragma: no cover
            answer = _await(value)
        except BaseException as exc:  # pragma: no cover
            value = call.throw(exc)
        else:  # pragma: no cover
            value = call.switch(answer)
