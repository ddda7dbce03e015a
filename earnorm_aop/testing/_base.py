"""The ORM-neutral operations every backend of the kit offers, and what a backend may lack.

A behaviour check written against [`Backend`][earnorm_aop.testing._base.Backend] never touches one
ORM's API: it makes a model (``backend.model("timestamp", fields={...})``), creates,
saves, gets, queries, bulk-updates and deletes through the backend, inside
``backend.transaction()`` when it needs one.  Each ORM's backend maps those
operations onto its own API (a Django manager, a SQLAlchemy session, EarnORM's
async methods run to completion).  An operation an ORM does not have (an
instance ``update`` on Django, bulk writes on EarnORM, transactions on the
in-memory store) calls ``pytest.skip`` with the reason, so only the checks
that need it are skipped there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

import pytest

from ..plugin_system.registry import PluginRegistry

__all__ = ["Backend", "Fields", "Methods"]

Fields = dict[str, tuple[Any, Any]]
"""Extra fields of a test model: name -> (annotation, default)."""
Methods = dict[str, Callable[..., Any]]
"""Extra methods of a test model: name -> function (its first argument is the record)."""

FIELDS: Fields = {"title": (str, ""), "views": (int, 0)}
"""Fields every kit model has besides its primary key ``id``."""


class Backend:
    """One ORM (and database) the kit runs behaviour checks on.

    Models have ``id``, ``title`` (str, ``""``) and ``views`` (int, ``0``)
    besides the ``fields`` a check asks for.  The class attributes tell what
    differs between ORMs where a check must know it.
    """

    name: str = ""
    NotFound: type[BaseException] = LookupError
    """What [`get`][earnorm_aop.testing._base.Backend.get] raises for a missing (or hidden) row."""
    saves_unchanged: ClassVar[bool] = True
    """Whether saving a record with no change still writes (SQLAlchemy: nothing to flush)."""
    identity_map: ClassVar[bool] = False
    """Whether two ``get`` of one row return the same object (SQLAlchemy's session)."""
    clears_pk_on_delete: ClassVar[bool] = True
    """Whether a real delete leaves the object without its key (Django: ``pk = None``)."""
    transactional: ClassVar[bool] = False
    """Whether [`transaction`][earnorm_aop.testing._base.Backend.transaction] is real (commit-time
    advice waits for the commit)."""

    # -- models -----------------------------------------------------------------------

    def model(
        self,
        *plugins: str,
        fields: Fields | None = None,
        methods: Methods | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> Any:
        """A fresh model (``id``, ``title``, ``views`` + ``fields``) with ``plugins`` woven.

        ``configured`` is each plugin's configuration (``cache={"ttl": 5}``), as
        for [`with_plugins`][earnorm_aop.with_plugins]; the model is unwoven and its
        table dropped when the backend closes.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Unweave the backend's models and release its database."""

    # -- records ----------------------------------------------------------------------

    def new(self, model: Any, **values: Any) -> Any:
        """An unsaved record."""
        return model(**values)

    def create(self, model: Any, **values: Any) -> Any:
        """A record, saved."""
        obj = self.new(model, **values)
        self.save(obj)
        return obj

    def save(self, obj: Any) -> Any:
        """The logical ``save`` of a record (insert or update)."""
        return obj.save()

    def delete(self, obj: Any) -> Any:
        """The logical ``delete`` of a record."""
        return obj.delete()

    def get(self, model: Any, pk: Any) -> Any:
        """The logical ``get`` by primary key;
        [`NotFound`][earnorm_aop.testing._base.Backend.NotFound] for a missing or hidden row."""
        raise NotImplementedError

    def update(self, obj: Any, **values: Any) -> Any:
        """The instance-level ``update`` operation (skipped where the ORM has none)."""
        pytest.skip(f"{self.name}: a model has no instance-level update operation")

    # -- querysets ----------------------------------------------------------------------

    def queryset(self, model: Any) -> Any:
        """The default queryset (what ``get_queryset`` advice filters)."""
        raise NotImplementedError

    def query(self, model: Any, **conditions: Any) -> Any:
        """The default queryset filtered by equality on ``conditions``."""
        return self.queryset(model).filter(**conditions)

    def visible(self, model: Any) -> list[Any]:
        """Primary keys the default queryset returns, sorted."""
        return sorted(o.id for o in self.queryset(model))

    def bulk_create(self, model: Any, objs: Any) -> Any:
        """The logical ``save_many`` of new records."""
        raise NotImplementedError

    def bulk_update(self, queryset: Any, **values: Any) -> Any:
        """The logical ``update_many`` of a queryset's rows; the number updated."""
        return queryset.update(**values)

    def bulk_delete(self, queryset: Any) -> Any:
        """The logical ``delete_many`` of a queryset's rows; the number deleted."""
        return queryset.delete()

    # -- transactions -------------------------------------------------------------------

    def transaction(self, *, rollback: bool = False) -> AbstractContextManager[None]:
        """A transaction around the block: committed at its end, or rolled back.

        It rolls back when the block raises (the error goes on) or when
        ``rollback=True``.  Skipped where the ORM has no transactions.
        """
        pytest.skip(f"{self.name}: no transactions")

    # -- the database underneath ---------------------------------------------------------

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every stored row by primary key, hidden ones included, read without plugins."""
        raise NotImplementedError

    def raw_delete(self, model: Any, pk: Any) -> None:
        """Remove a row without any plugin seeing it (as raw SQL would)."""
        raise NotImplementedError

    def raw_update(self, model: Any, pk: Any, **values: Any) -> None:
        """Change a stored row without any plugin seeing it (as raw SQL would)."""
        raise NotImplementedError

    def queries(self) -> AbstractContextManager[list[str]]:
        """``with backend.queries() as q:`` collects the statements run inside."""
        raise NotImplementedError

    def audit_rows(self, model: Any) -> list[dict[str, Any]]:
        """Records of the ``audit`` plugin's ``table`` sink for ``model``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@contextmanager
def closing(backend: Backend) -> Iterator[Backend]:
    """``backend``, closed when the block ends."""
    try:
        yield backend
    finally:
        backend.close()
