"""The slug plugin: a unique slug field made from a source field.

``with_plugins("slug")`` adds ``slug`` to the model; a save of a row without
one fills it from ``title`` (``"Hello, World!"`` -> ``"hello-world"``), and a
slug another row already has gets a suffix (``hello-world-2``).  The slug is
stable: a later change of the title keeps it, unless asked for
(``regenerate=True``, or the slug set to ``""`` before the save).

Two processes creating the same title at once must not both take one slug.
On PostgreSQL the choice and the insert are serialised per slug with a
transaction-level advisory lock (``pg_advisory_xact_lock``): the second
process waits for the first one's commit, then sees its slug and takes the
next.  Elsewhere (SQLite serialises writers itself, the in-memory store runs
in one process) the check and the insert are enough.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from earnorm_aop import hook
from earnorm_aop.integrations import FieldSpec, adapter_for

__all__ = ["SlugPlugin", "slugify"]


def slugify(text: str, separator: str = "-", max_length: int = 50) -> str:
    """``"Héllo, World!"`` -> ``"hello-world"``: ASCII words joined by ``separator``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return separator.join(words)[:max_length].strip(separator) or "item"


class SlugPlugin:
    """A unique slug from a source field, stable on update unless asked."""

    version = "0.1.0"
    requires: ClassVar[dict[str, str]] = {}
    config_version = 1

    class Config(BaseModel):
        source: str = Field("title", description="The field the slug is made from.")
        field: str = Field("slug", description="The field holding the slug.")
        separator: str = Field("-", description="Between words, and before a suffix.")
        max_length: int = Field(50, ge=8, description="The longest slug, suffix included.")
        regenerate: bool = Field(
            False, description="Make the slug again on every save (default: keep it once made)."
        )

    config: Config  # the validated options, set by the registry

    def fields(self) -> list[FieldSpec]:
        return [FieldSpec(self.config.field, str, "", index=True)]

    @hook("around:save")
    def slug_save(self, instance: Any, model: type, proceed: Callable[[], Any]) -> Any:
        """Fill the slug (unique among the model's rows) and save, under a lock on PostgreSQL."""
        adapter = adapter_for(model)
        config = self.config
        current = adapter.get_field(instance, config.field)
        if current and not config.regenerate:
            return proceed()
        base = slugify(
            str(adapter.get_field(instance, config.source) or ""),
            config.separator,
            config.max_length - 6,
        )
        if _is_earnorm(model):  # async all the way: the dispatcher awaits what this returns
            return self._slug_save_async(instance, model, proceed, base)
        with _serialised(model, base):
            taken = self._taken(model, instance, base, adapter.pk(instance))
            adapter.set_field(instance, config.field, self._free(base, taken))
            return proceed()

    def _free(self, base: str, taken: set[str]) -> str:
        """``base``, or ``base-2``, ``base-3``... whichever no other row has."""
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}{self.config.separator}{n}"
        return slug

    async def _slug_save_async(
        self, instance: Any, model: type, proceed: Callable[[], Any], base: str
    ) -> Any:
        """EarnORM's save: its rows are read with ``await`` (straight from MongoDB)."""
        adapter = adapter_for(model)
        own = adapter.pk(instance)
        rows = await _earnorm_rows(model, self.config.field, base)
        taken = {slug for pk, slug in rows if own is None or pk != str(own)}
        adapter.set_field(instance, self.config.field, self._free(base, taken))
        result = proceed()
        return await result if inspect.isawaitable(result) else result

    def _taken(self, model: type, instance: Any, base: str, own_pk: Any) -> set[str]:
        """Slugs of the model's other rows that start with ``base`` (all rows, none hidden)."""
        field = self.config.field
        found = _rows_like(model, instance, field, base)
        return {slug for pk, slug in found if pk != own_pk}


def _rows_like(model: type, instance: Any, field: str, base: str) -> list[tuple[Any, str]]:
    """``(pk, slug)`` of every row whose slug starts with ``base``, through the ORM's own API."""
    django = _django_manager(model)
    if django is not None:
        rows = django.filter(**{f"{field}__startswith": base}).values_list("pk", field)
        return [(pk, slug) for pk, slug in rows]
    if hasattr(model, "__table__") and hasattr(model, "__mapper__"):
        from sqlalchemy import select
        from sqlalchemy.orm import object_session

        session = object_session(instance)
        if session is None:
            return []

        table = model.__table__
        column = table.c[field]
        statement = select(*table.primary_key.columns, column).where(column.startswith(base))
        return [(row[0], row[1]) for row in session.connection().execute(statement)]
    store = getattr(model, "__store__", None)
    if store is not None:  # earnorm-aop's in-memory models
        return [
            (row["id"], row.get(field) or "")
            for row in store.rows(model)
            if str(row.get(field) or "").startswith(base)
        ]
    raise TypeError(f"the slug plugin does not know how to read {model.__qualname__}'s rows")


def _is_earnorm(model: type) -> bool:
    return any(k.__module__.startswith("earnorm.") for k in model.__mro__)


async def _earnorm_rows(model: type, field: str, base: str) -> list[tuple[str, str]]:
    """``(id, slug)`` of every EarnORM document whose slug starts with ``base``."""
    from earnorm.base.env import Environment  # pyright: ignore[reportMissingImports]

    collection = Environment.get_instance().adapter._get_collection(model)
    found = collection.find({field: {"$regex": "^" + re.escape(base)}})
    return [(str(doc["_id"]), str(doc.get(field) or "")) for doc in await found.to_list(None)]


def _django_manager(model: type) -> Any:
    meta = getattr(model, "_meta", None)
    return getattr(model, "_base_manager", None) if meta is not None else None


@contextmanager
def _serialised(model: type, base: str) -> Iterator[None]:
    """On PostgreSQL, hold a transaction-level advisory lock per (table, base slug)."""
    django = _django_manager(model)
    if django is None:
        yield
        return
    from django.db import connections, router, transaction

    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    key = zlib.crc32(f"{model._meta.db_table}:{base}".encode())  # type: ignore[attr-defined]
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        yield
