"""The hot path of a SQLAlchemy flush pinned by counting calls, not by timing.

One flush of one changed object, timestamp and audit woven (audit writing to
its table): the Python calls into earnorm_aop it makes hold on a loaded
machine where timings drift, and none of them is a look-up weave time
already made (the model's adapter, planning, an MRO scan for an event).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _calls import calls, ours

from earnorm_aop.testing import open_backend
from earnorm_aop.testing._sqlalchemy import SQLAlchemyBackend

# Calls into earnorm_aop per flush of one changed object, measured when the
# test was written (issue 23), with SQLAlchemy's profiles' kind of slack.
FLUSH_CALLS = 85


@pytest.fixture
def backend() -> Iterator[SQLAlchemyBackend]:
    with open_backend("sqlalchemy") as sqlalchemy:
        assert isinstance(sqlalchemy, SQLAlchemyBackend)
        yield sqlalchemy


def test_one_flush_with_timestamp_and_audit(backend: SQLAlchemyBackend) -> None:
    Article = backend.model("timestamp", "audit", audit={"sink": "table"})
    obj = backend.create(Article, title="a")
    obj.title = "b"
    backend.commit()  # first-sight work done
    obj.title = "c"
    counted = ours(calls(backend.session.flush))
    assert not [n for n in counted if n.endswith(":adapter_for")], counted
    assert not [n for n in counted if ".planning:" in n or ".rebuild:" in n], counted
    assert sum(counted.values()) <= FLUSH_CALLS * 1.05, sorted(counted.items())
    # The write's state and the save's one record (timestamp and lifecycle share it).
    assert counted["earnorm_aop.adapters.tracking:__init__"] == 2, counted
    backend.commit()
    assert [row["changes"] for row in backend.audit_rows(Article)][-1]["title"] == ("b", "c")
