"""Lookups through relations hide the rows plugins hide.

``Author.objects.filter(articles__title="x")`` joins the article table
directly: Django never asks ``Article``'s manager, so the rows a plugin hides
from ``Article.objects`` (soft-deleted ones) would still match.  Django has one
per-relation hook for this, the one ``GenericRelation`` uses: every join
through a relation field adds ``field.get_extra_restriction(alias,
related_alias)`` to its ``ON`` clause, and a subquery made for ``exclude()``
adds it to its ``WHERE`` clause (``Query.trim_start``).

A plugin says which rows it shows (``visible_rows(model)``: softdelete's is
``{"deleted_at": None}``); the adapter's ``hide_rows`` marks the model, and
every foreign key declared on it, or pointing to it, gets an
``get_extra_restriction`` of its own, on the field *instance* and its reverse
relation instance (never on Django's classes).  The restriction is computed
each time a query is compiled, from the plugins in force then, so
``unweave``, ``registry.disable`` and context-local ``registry.disabled()`` /
``including_deleted()`` lift it.

Only joins into a *collection* are restricted, that is into the many side of
a relation:

* the reverse of a foreign key (``author -> articles``; ``Query.trim_start``'s
  pushdown of it in ``exclude()`` too): the joined rows must be visible;
* a many-to-many relation (``article -> through -> tags``): the join into the
  through table keeps only the links whose far end is visible
  (``through.tag_id IN (SELECT id FROM tag WHERE deleted_at IS NULL)``), because
  Django drops the join to the far table when the through column is enough
  (``Count("tags")``, ``tags__isnull``, ``tags=tag``).  So the many-to-many
  manager of a hidden row (``deleted_article.tags.all()``) is empty, as
  ``Tag.objects.filter(articles=deleted_article)`` is.

To-one joins (a forward foreign key or one-to-one, a reverse one-to-one) are
left alone: ``select_related`` shares them, and an ``INNER JOIN`` restricted
there would drop the row holding the key (or set the relation to ``None``),
whereas ``article.author`` reads the author through ``_base_manager`` and
returns it, deleted or not.  Parent links of multi-table inheritance are the
same row, never restricted.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Expression, ForeignObject, ForeignObjectRel, ManyToManyField
from django.db.models.fields.related import lazy_related_operation
from django.db.models.signals import class_prepared
from django.db.models.sql.where import AND, WhereNode

__all__ = ["hide_rows", "restriction"]

Visible = Callable[[type], Mapping[str, Any]]

_lock = threading.RLock()
# model -> the function giving the field values of its visible rows now.
_marked: weakref.WeakKeyDictionary[type, Visible] = weakref.WeakKeyDictionary()
_MARK = "_earnorm_restricted"  # set on a field whose joins we restrict
# Foreign keys naming a model not loaded yet, waiting for it (lazy_related_operation).
_pending: weakref.WeakSet[Any] = weakref.WeakSet()


def hide_rows(model: type, visible: Visible) -> None:
    """Restrict joins through relations into ``model`` to the rows ``visible(model)`` matches."""
    with _lock:
        _marked[model] = visible
        opts: Any = getattr(model, "_meta")  # noqa: B009
        models = [m for app in list(opts.apps.all_models.values()) for m in list(app.values())]
        if model not in models:
            models.append(model)
        for other in models:
            _consider_model(other)


def restriction(model: type, alias: str) -> WhereNode | None:
    """The condition keeping the rows of ``model`` (table ``alias``) its plugins show, if any."""
    visible = _visible_function(model)
    if visible is None:
        return None
    conditions = visible(model)
    if not conditions:
        return None
    opts: Any = getattr(model, "_meta")  # noqa: B009
    node = WhereNode(connector=AND)
    inherited: dict[Any, dict[str, Any]] = {}
    for name, value in conditions.items():
        field = opts.get_field(name)
        owner = field.model._meta.concrete_model
        if owner is opts.concrete_model:
            node.add(_lookup(field, field.get_col(alias), value), AND)
        else:  # a column of a parent's table (multi-table inheritance): ask the parent
            inherited.setdefault(owner, {})[name] = value
    for owner, values in inherited.items():
        # The child's primary key is the parent's (through the parent links).
        rows = _Rows(owner._base_manager.filter(**values).values("pk").query, opts.pk)
        node.add(opts.pk.get_lookup("in")(opts.pk.get_col(alias), rows), AND)
    return node


class _Rows(Expression):  # type: ignore[misc]
    """``(SELECT pk FROM parent WHERE ...)``: uncorrelated, never relabeled with the outer query."""

    def __init__(self, query: Any, output_field: Any) -> None:
        super().__init__(output_field=output_field)
        self.query = query

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = self.query.get_compiler(connection=connection).as_sql()
        return f"({sql})", list(params)

    def relabeled_clone(self, change_map: Any) -> _Rows:
        return self

    def get_group_by_cols(self) -> list[Any]:
        return []


def _lookup(field: Any, col: Any, value: Any) -> Any:
    if value is None:
        return field.get_lookup("isnull")(col, True)
    return field.get_lookup("exact")(col, value)


def _visible_function(model: Any) -> Visible | None:
    if not isinstance(model, type):
        return None
    for klass in model.__mro__:
        found = _marked.get(klass)
        if found is not None:
            return found
    return None


def _consider_model(model: Any) -> None:
    """Restrict the foreign keys of ``model`` if it, or a model one of them names, hides rows.

    All of them when one target hides rows: ``model`` may be the through model
    of a many-to-many relation, whose join from the *other* side must check it.
    """
    opts = getattr(model, "_meta", None)
    if opts is None or opts.abstract:
        return
    fields = [
        f
        for f in opts.local_fields
        if isinstance(f, ForeignObject)
        and f.remote_field is not None
        and not f.remote_field.parent_link
        # a relation with a restriction of its own is not ours to compose with
        and type(f.remote_field).get_extra_restriction is ForeignObjectRel.get_extra_restriction
    ]
    if _visible_function(model) is not None or any(
        _visible_function(f.remote_field.model) is not None for f in fields
    ):
        for field in fields:
            _restrict(field)
    for field in fields:
        target = field.remote_field.model
        if isinstance(target, str) and field not in _pending:
            # ``ForeignKey("Genre")`` before Genre exists: look again once it does.
            _pending.add(field)
            lazy_related_operation(_resolved, model, target)


def _resolved(model: Any, target: Any) -> None:
    with _lock:
        _consider_model(model)


def _restrict(field: Any) -> None:
    """Give ``field`` and its reverse relation, as instances, a ``get_extra_restriction``."""
    if _MARK in vars(field):
        return
    own = type(field).get_extra_restriction
    rel = field.remote_field

    def field_restriction(alias: str | None, related_alias: str | None) -> Any:
        # Called with (table of the target, table of field.model): by a forward
        # join (never restricted: a to-one join) and by Query.trim_start, whose
        # pushdown of a reverse to-many join passes (None, the table kept).
        extra = None
        if alias is None and related_alias is not None and not field.unique:
            extra = _joined(field, related_alias)
        return _and(own(field, alias, related_alias), extra)

    def rel_restriction(alias: str | None, related_alias: str | None) -> Any:
        # A reverse join: alias is the table of field.model, joined from the target.
        extra = None
        if alias is not None and not field.unique:
            extra = _joined(field, alias)
        return _and(own(field, related_alias, alias), extra)

    field.get_extra_restriction = field_restriction
    rel.get_extra_restriction = rel_restriction
    setattr(field, _MARK, True)


def _joined(field: Any, alias: str) -> Any:
    """The condition on rows of ``field.model`` (table ``alias``) joined via ``field``'s reverse.

    Its own visible rows; and, for a many-to-many through model, only the
    links whose *other* end is visible.  The latter is a condition on the
    through table, not on a join to the other end: Django drops that last join
    when the through table's column is enough (``Count("genres")``,
    ``genres__isnull``, ``genres=genre``), and its condition with it.
    """
    found = restriction(field.model, alias)
    other = _other_link(field)
    if other is not None:
        target = other.remote_field.model
        visible = _visible_function(target)
        conditions = visible(target) if visible is not None else None
        if conditions:
            target_field = other.target_field
            rows = _Rows(
                target._base_manager.filter(**conditions).values(target_field.attname).query,
                target_field,
            )
            found = _and(found, target_field.get_lookup("in")(other.get_col(alias), rows))
    return found


def _other_link(field: Any) -> Any:
    """The other foreign key of the many-to-many relation whose through model holds ``field``."""
    target = field.remote_field.model
    for item in target._meta.get_fields(include_hidden=True):
        if not item.many_to_many:
            continue
        m2m = item if isinstance(item, ManyToManyField) else getattr(item, "field", None)
        if not isinstance(m2m, ManyToManyField) or m2m.remote_field.through is not field.model:
            continue
        through = field.model._meta
        first = through.get_field(m2m.m2m_field_name())
        second = through.get_field(m2m.m2m_reverse_field_name())
        if field is first:
            return second
        if field is second:
            return first
    return None


def _and(first: Any, second: Any) -> Any:
    if second is None:
        return first
    if first is None:
        return second
    return WhereNode([first, second], connector=AND)


def _on_class_prepared(sender: type, **kwargs: Any) -> None:
    if len(_marked):
        with _lock:
            _consider_model(sender)


class_prepared.connect(_on_class_prepared, dispatch_uid="earnorm_aop.integrations.django.relations")
