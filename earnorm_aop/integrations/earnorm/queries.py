"""The query ``get_queryset`` advice receives on EarnORM: ``filter()`` also takes keywords.

EarnORM's ``_where_calc`` (woven as ``get_queryset``) returns a ``MongoQuery``,
whose ``filter`` takes one domain (a list of triples, or a MongoDB filter
dict) and updates its filter key by key.  A plugin written for Django's
querysets, as the plugin page's soft delete is
(``return queryset.filter(deleted_at=None)``), calls it with keywords; so the
query the adapter hands on is a
[`KeywordQuery`][earnorm_aop.integrations.earnorm.queries.KeywordQuery], whose ``filter`` also takes
``field=value`` keywords (``None`` matches a missing field, as MongoDB reads it) and joins them to
the query's own criteria with ``$and``, as Django's and SQLAlchemy's filters combine.  A domain or a
dict works as on any ``MongoQuery``.
"""

from __future__ import annotations

from typing import Any

from earnorm.base.database.query.backends.mongo.query import MongoQuery

__all__ = ["KeywordQuery", "answering_keywords", "narrowed"]


def narrowed(query: Any, conditions: dict[str, Any]) -> Any:
    """``query`` narrowed by ``conditions`` (a MongoDB filter), its own criteria kept.

    EarnORM's ``filter(dict)`` updates its filter key by key, so
    ``{"deleted_at": None}`` would replace a ``("deleted_at", "!=", None)`` of
    the search domain; both are joined with ``$and`` instead.
    """
    own = getattr(query, "_filter", None)
    if isinstance(own, dict) and own:
        combined = {"$and": [dict(own), dict(conditions)]}
        own.clear()
        return MongoQuery.filter(query, combined)
    return MongoQuery.filter(query, dict(conditions))


class KeywordQuery(MongoQuery):  # type: ignore[misc]
    """A ``MongoQuery`` whose ``filter`` also takes keywords (see the module docstring)."""

    def filter(self, domain: Any = None, /, **conditions: Any) -> Any:
        query = self if domain is None else super().filter(domain)
        return narrowed(query, conditions) if conditions else query


def answering_keywords(query: Any) -> Any:
    """``query`` as a [`KeywordQuery`][earnorm_aop.integrations.earnorm.queries.KeywordQuery] (the
    same object: it is EarnORM's own query)."""
    if type(query) is MongoQuery:
        query.__class__ = KeywordQuery
    return query
