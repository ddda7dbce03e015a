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


def test_a_soft_delete_reads_no_attribute_history_for_the_state_before_it(
    backend: SQLAlchemyBackend,
) -> None:
    """Issue 18 point 5: the flush reads the values before a write from the state's dicts.

    A soft delete turns the delete into a save in the same flush: the object's
    committed values were read as one ``History`` per attribute for each call,
    and every pass over ``session.dirty`` read them again for an object whose
    save had already run.  Now one history check remains (SQLAlchemy's own
    ``is_modified`` for the first pass); nothing asks ``inspect`` per object.
    """
    Article = backend.model("timestamp", "softdelete")
    first = backend.create(Article, title="a")
    backend.session.delete(first)
    backend.commit()  # first-sight work (the UPDATE's compiled form) done
    obj = backend.create(Article, title="b")
    backend.session.refresh(obj)
    backend.session.delete(obj)
    counted = calls(backend.session.flush)
    columns = len(Article.__mapper__.column_attrs)
    # One pass over the attributes (is_modified) and the flush's own; before: 4 passes + 1.
    assert counted["sqlalchemy.orm.attributes:get_history"] <= columns + 1, counted  # +1: the flush
    assert not counted["inspect:getattr_static"], counted
    backend.commit()
    assert obj.deleted_at is not None
