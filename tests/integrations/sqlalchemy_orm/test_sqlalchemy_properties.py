"""Properties over random sequences of writes through a Session (hypothesis).

For any sequence of instance writes, deletes, restores and bulk statements
on a model with softdelete, timestamp and audit (table sink), committed or
rolled back at random:

- no row is ever removed from the table (every delete is soft);
- ``select(M)`` returns exactly the rows whose ``deleted_at`` is NULL, and
  ``include_deleted=True`` every row;
- the audit table (``table`` sink, in the data's transaction) has one
  ``create`` row per row that exists at the end, none for a rolled-back insert.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, create_engine, delete, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from earnorm_aop import with_plugins
from earnorm_aop.integrations.sqlalchemy import audit_metadata, audit_table
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.weaving import weaver

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from("abc")),
        st.tuples(st.just("rename"), st.integers(0, 5), st.sampled_from("xyz")),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(st.just("restore"), st.integers(0, 5)),
        st.tuples(st.just("bulk_delete"), st.sampled_from("abcxyz")),
        st.tuples(st.just("bulk_rename"), st.sampled_from("abcxyz"), st.sampled_from("xyz")),
        st.tuples(st.just("commit")),
        st.tuples(st.just("rollback")),
    ),
    max_size=12,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_soft_delete_and_audit_invariants(ops: list[tuple[Any, ...]]) -> None:
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(10), default="")

    with_plugins("softdelete", "timestamp", audit={"sink": "table"})(Item)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        Base.metadata.create_all(engine)
        audit_metadata.create_all(engine)
        run(engine, Item, ops)
    finally:
        weaver.unweave(Item)
        engine.dispose()


def _nth(items: list[Any], index: int) -> Any:
    return items[index % len(items)]


def run(engine: Any, Item: Any, ops: list[tuple[Any, ...]]) -> None:
    ever: set[int] = set()
    with Session(engine) as session:
        for op in ops:
            kind = op[0]
            with including_deleted():
                known = session.scalars(select(Item).order_by(Item.id)).all()
            pick = functools.partial(_nth, known) if known else None
            if kind == "add":
                session.add(Item(title=op[1]))
            elif kind == "rename" and pick:
                pick(op[1]).title = op[2]
            elif kind == "delete" and pick:
                session.delete(pick(op[1]))
            elif kind == "restore" and pick:
                pick(op[1]).restore()
            elif kind == "bulk_delete":
                session.execute(delete(Item).where(Item.title == op[1]))
            elif kind == "bulk_rename":
                session.execute(update(Item).where(Item.title == op[1]).values(title=op[2]))
            elif kind == "commit":
                session.commit()
                ever |= {r.id for r in session.execute(select(Item.__table__.c.id))}
            elif kind == "rollback":
                session.rollback()
            session.flush()
            table = session.execute(select(Item.__table__)).all()
            assert ever <= {r.id for r in table}  # nothing committed ever disappears
            live = sorted(r.id for r in table if r.deleted_at is None)
            assert sorted(i.id for i in session.scalars(select(Item))) == live
            everything = select(Item).execution_options(include_deleted=True)
            assert len(session.scalars(everything).all()) == len(table)
        session.commit()
        created = session.execute(
            select(audit_table.c.object_id).where(audit_table.c.action == "create")
        ).scalars()
        assert sorted(int(i) for i in created) == sorted(
            r.id for r in session.execute(select(Item.__table__.c.id))
        )
