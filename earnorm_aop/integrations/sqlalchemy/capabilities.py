"""What single plugins need of mapped classes, beyond the adapter: their capabilities.

Each is provided for
[`SQLAlchemyAdapter`][earnorm_aop.integrations.sqlalchemy.adapter.SQLAlchemyAdapter] by the
package's ``__init__``, under the name the plugin that needs it gives it (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]):

- ``cached rows`` (the cache): keys per bind, a hit built detached;
- ``audit store`` (audit): rows of ``earnorm_aop_audit`` (``audit.py``) in the
  session of the write, the records of a flush inserted at its end at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import PluginError
from . import context, flush, statements
from .adapter import SQLAlchemyAdapter, bind_identity, identities_seen, mapper_of

__all__ = ["SQLAlchemyAuditStore", "SQLAlchemyCachedRows"]


class SQLAlchemyCachedRows:
    """Entries keyed by the database identity of the session's bind; a hit is a detached row."""

    def __init__(self, adapter: SQLAlchemyAdapter) -> None:
        self.adapter = adapter

    def read_alias(self, model: type, subject: Any) -> str | None:
        """The database identity of the session's bind for ``model`` (see ``bind_identity``)."""
        session = context.SESSION.get()
        if session is None:
            return None
        return bind_identity(session.get_bind(mapper=model))

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """The writing session's database and every one this process has read ``model`` from."""
        session = self.adapter.session_of(subject)
        if session is not None:
            with contextlib.suppress(Exception):  # no bind: only the databases already read
                bind_identity(session.get_bind(mapper=model))
        return identities_seen() or (None,)

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Every mapped column attribute and no other, and the primary key of the key."""
        mapper = mapper_of(model)
        assert mapper is not None
        names = [a.key for a in mapper.column_attrs]
        if len(values) != len(names) or not all(n in values for n in names):
            missing = [n for n in names if n not in values]
            unknown = sorted(str(n) for n in values if n not in names)
            return f"fields missing: {missing}, unknown: {unknown}"
        key = tuple(values[mapper.get_property_by_column(c).key] for c in mapper.primary_key)
        found = key[0] if len(key) == 1 else key
        if found != pk:
            return f"its primary key is {found!r}, not the key's {pk!r}"
        return None

    def from_values(self, model: type, values: Mapping[str, Any], alias: str | None) -> Any:
        """A transient instance holding ``values`` as its loaded state (in no session)."""
        from sqlalchemy.orm import make_transient_to_detached

        obj = statements.detached(mapper_of(model), values)
        # Detached with its identity, so a session takes it in with merge(load=False).
        make_transient_to_detached(obj)
        return obj


class SQLAlchemyAuditStore:
    """Audit records as rows of ``earnorm_aop_audit`` in the session that writes the model."""

    def __init__(self, adapter: SQLAlchemyAdapter) -> None:
        self.adapter = adapter

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> None:
        """A row of ``earnorm_aop_audit`` (see ``audit.py``) in the session of the write.

        At the end of a flush, added to the rows the flush inserts at once.
        """
        session = context.SESSION.get()
        batch = None if session is None else session.info.get(flush.RECORDS)
        if batch is not None:
            batch.append(record)
            return
        self.write_audit_records(model, [record])

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The records of one write as rows of ``earnorm_aop_audit``: one executemany."""
        from .audit import write

        session = context.SESSION.get()
        if session is None:
            raise PluginError(
                f"audit records of {model.__qualname__} go to the table of the session that "
                "writes them, and no session is writing now"
            )
        write(session, *records)
        return []
