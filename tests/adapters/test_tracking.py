"""Bulk frames: the rows a bulk write touches, read once, kept while the write runs.

A write vetoed by a ``before`` advice never closes its frame, so the frames
of one context are bounded: the newest 32 are kept, an older one is dropped
(the next write on its queryset opens a new one).

``bulk_frame``'s ``frame.subject is not queryset`` is not tested: no test can
make it true.  Frames are keyed by ``id(queryset)`` and each keeps its
queryset alive, so while a frame is in the table no other object can have
that id; once a frame is dropped (closed, or beyond the newest 32), its entry
is gone too.  The check guards the invariant, and dropping it changes nothing
observable (an equivalent mutant, issue 19).
"""

from __future__ import annotations

import contextvars
from typing import Any

from earnorm_aop.adapters import tracking
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.memory import MemoryModel, MemoryQuerySet, MemoryStore


class Row(MemoryModel):
    __store__ = MemoryStore()
    id: int | None = None
    title: str = ""


def _open_many(count: int) -> list[tuple[Any, bool]]:
    adapter = adapter_for(Row)
    querysets = [MemoryQuerySet(Row).filter(title=str(n)) for n in range(count)]
    for queryset in querysets:
        tracking.open_bulk(adapter, Row, queryset, {"title": "x"})
    return [(q, tracking.bulk_frame(q) is not None) for q in querysets]


def test_the_newest_32_frames_of_a_context_are_kept() -> None:
    kept = contextvars.copy_context().run(_open_many, 40)
    assert [open_ for _, open_ in kept] == [False] * 8 + [True] * 32


def test_a_closed_frame_is_forgotten_and_others_stay() -> None:
    def run() -> tuple[bool, bool, bool]:
        (first, _), (second, _) = _open_many(2)
        closed = tracking.close_bulk(first)
        return (
            closed is not None,
            tracking.bulk_frame(first) is None,
            tracking.bulk_frame(second) is not None,
        )

    assert contextvars.copy_context().run(run) == (True, True, True)
    assert tracking.bulk_frame(MemoryQuerySet(Row)) is None  # nothing leaks out of the context
