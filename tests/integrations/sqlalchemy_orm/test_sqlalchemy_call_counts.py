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
# test was written (issue 23: 85), with SQLAlchemy's profiles' kind of slack;
# 78 since issue 18 point 5 (the model's woven state asked inline, each object's
# model asked once whether it is woven, nothing remembered after a mapped save);
# 75 since the changes plugin weaves no after-save advice on a mapped class.
FLUSH_CALLS = 75
# A soft delete's flush (issue 18 point 5; 78 before, 72 before its queued save took
# the delete call's committed state, 70 before no after-save advice of changes).
SOFT_DELETE_CALLS = 67
# A flush of ten new objects with timestamp, softdelete and audit (840 before issue 18
# point 5's pooled greenlets and audit rows built without a call per plain value;
# 658 before the changes plugin stopped weaving its after-save advice on mapped classes).
NEW_OBJECTS_CALLS = 628


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
    # A mapped object's history is its persisted state: nothing remembered after the save.
    assert not [n for n in counted if n.startswith("earnorm_aop.plugins.changes:")], counted
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
    # The flush's own only: the queued save is not checked for changes again, and the
    # dirty check reads the history of changed attributes only (before: 4 passes + 1,
    # then one pass over every attribute + 1).
    assert columns > 1
    assert counted["sqlalchemy.orm.attributes:get_history"] <= 1, counted
    assert not counted["inspect:getattr_static"], counted
    # The save the delete queues takes the state the delete call read (two reads before).
    assert counted["earnorm_aop.integrations.sqlalchemy.flush:committed_state"] == 1, counted
    assert sum(ours(counted).values()) <= SOFT_DELETE_CALLS * 1.05, sorted(ours(counted).items())
    backend.commit()
    assert obj.deleted_at is not None


def test_a_soft_delete_s_save_compares_with_the_values_stored_before_the_flush(
    backend: SQLAlchemyBackend,
) -> None:
    """The queued save reuses the delete call's committed state: still the stored values.

    An attribute changed before the delete, and the stamps the advice set, are
    changes of the save against what the row held; what was not changed is not.
    """
    Article = backend.model("timestamp", "softdelete", "audit", audit={"sink": "table"})
    obj = backend.create(Article, title="a", views=3)
    backend.commit()
    obj.title = "b"
    backend.session.delete(obj)
    backend.commit()
    row = backend.audit_rows(Article)[-1]
    assert row["action"] == "soft_delete"
    changes = row["changes"]
    assert changes["title"] == ("a", "b")
    assert changes["deleted_at"][0] is None and changes["deleted_at"][1] is not None
    assert changes["updated_at"][0] != changes["updated_at"][1]
    assert "views" not in changes and "created_at" not in changes, changes
    # A second soft delete of another object in a later flush: its own values, not these.
    other = backend.create(Article, title="c")
    backend.commit()
    backend.session.delete(other)
    backend.commit()
    last = backend.audit_rows(Article)[-1]
    assert last["id"] == other.id and "title" not in last["changes"], last


def test_a_flush_of_new_objects_builds_their_audit_rows_without_a_call_per_value(
    backend: SQLAlchemyBackend,
) -> None:
    Article = backend.model("timestamp", "softdelete", "audit", audit={"sink": "table"})
    backend.create(Article, title="first")  # first-sight work done
    backend.session.add_all([Article(title=f"n{i}") for i in range(10)])
    counted = ours(calls(backend.session.flush))
    assert sum(counted.values()) <= NEW_OBJECTS_CALLS * 1.05, sorted(counted.items())
    # Only the two stamps (datetimes) of each record need converting for JSON.
    assert counted["earnorm_aop.integrations.sqlalchemy.audit:_jsonable"] <= 2 * 10, counted
    backend.commit()
    rows = [row for row in backend.audit_rows(Article) if row["action"] == "create"]
    assert len(rows) == 11
    assert rows[-1]["changes"]["title"] == (None, "n9")
    assert isinstance(rows[-1]["changes"]["created_at"][1], str)  # ISO text in the JSON
