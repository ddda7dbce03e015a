"""Where audit keeps what an instance held when saved: never in a way that keeps it alive."""

from __future__ import annotations

import gc
from typing import Any

from earnorm_aop import unweave, with_plugins
from earnorm_aop.plugins.audit import AuditRecord


def test_instances_without_weakref_support_are_not_kept_alive() -> None:
    records: list[AuditRecord] = []
    freed: list[int] = []

    @with_plugins(audit={"sink": records.append})
    class Slotted:
        __slots__ = ("id", "title")
        id: int
        title: str

        def __init__(self, id: int, title: str) -> None:
            self.id = id
            self.title = title

        def save(self) -> None:
            return None

        def __del__(self) -> None:
            freed.append(self.id)

    for i in range(1, 51):
        Slotted(i, "t").save()
    gc.collect()
    assert sorted(freed) == list(range(1, 51))
    # its persisted state is still known, per row: a later save is an update
    again: Any = Slotted(1, "changed")
    again.save()
    assert (records[-1].action, records[-1].changes) == ("update", {"title": ("t", "changed")})
    unweave(Slotted)
