"""The audit ``table`` sink on SQLAlchemy: a row of ``earnorm_aop_audit`` per record.

The table lives in its own ``MetaData``
([`audit_metadata`][earnorm_aop.integrations.sqlalchemy.audit.audit_metadata]): create it with
``audit_metadata.create_all(engine)``, or copy it into your own metadata
(``audit_table.to_metadata(Base.metadata)``) so Alembic sees it.  The row is inserted on the
connection of the session that writes the audited data, in its transaction: it commits or rolls back
with the data.  Besides the record's model, key, action, changes, actor and time, each row has the
call context's ``request_id``, ``client`` (address) and ``reason``; a table made
before those columns existed needs them added (``ALTER TABLE earnorm_aop_audit
ADD COLUMN request_id VARCHAR(200)``, and likewise ``client`` and ``reason``
``VARCHAR(500)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

__all__ = ["audit_metadata", "audit_table", "read", "write"]

audit_metadata = MetaData()

audit_table = Table(
    "earnorm_aop_audit",
    audit_metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False, index=True),
    Column("object_id", String(200), nullable=False, default=""),
    Column("action", String(40), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("actor", String(200), nullable=True),
    Column("time", DateTime(timezone=True), nullable=False),
    # Of the call context (earnorm_aop.context): which request, from where, why.
    Column("request_id", String(200), nullable=True, index=True),
    Column("client", String(200), nullable=True),
    Column("reason", String(500), nullable=True),
)


def write(session: Session, *records: Mapping[str, Any]) -> None:
    """Insert ``records`` on ``session``'s connection (Core: no ORM event, no advice).

    Several records (one bulk write's) go out as one executemany.
    """
    if not records:
        return
    if len(records) == 1:  # one write's row, built here (a save's hot path: no helper call)
        record = records[0]
        pk = record.get("id")
        given = record.get("changes") or {}
        changes = {n: [_jsonable(o), _jsonable(v)] for n, (o, v) in given.items()}
        row = {"model": record.get("model", ""), "object_id": "" if pk is None else str(pk)}
        row.update(action=record.get("action", ""), changes=changes, time=record["time"])
        for key in ("actor", "request_id", "client", "reason"):
            row[key] = record.get(key)
        session.connection().execute(insert(audit_table), row)
        return
    session.connection().execute(insert(audit_table), [_row(record) for record in records])


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    pk = record.get("id")
    # A plain value (most are) as it is, without a call per value: a flush's
    # records are built here for every object it wrote.
    plain = _PLAIN
    changes = {
        name: [
            old if type(old) in plain else _jsonable(old),
            new if type(new) in plain else _jsonable(new),
        ]
        for name, (old, new) in (record.get("changes") or {}).items()
    }
    return {
        "model": record.get("model", ""),
        "object_id": "" if pk is None else str(pk),
        "action": record.get("action", ""),
        "changes": changes,
        "actor": record.get("actor"),
        "time": record["time"],
        "request_id": record.get("request_id"),
        "client": record.get("client"),
        "reason": record.get("reason"),
    }


def read(session: Session, model_label: str) -> list[dict[str, Any]]:
    """The records of ``model_label``, oldest first."""
    statement = (
        select(audit_table).where(audit_table.c.model == model_label).order_by(audit_table.c.pk)
    )
    return [dict(row._mapping) for row in session.connection().execute(statement)]


_PLAIN = frozenset({type(None), bool, int, float, str})


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
