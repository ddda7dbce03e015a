"""The adapter protocol: how plugins talk to one ORM's models.

Pointcuts in plugins name *logical operations* (``save``, ``delete``, ``get``,
``get_queryset``, ``update``, ``save_many``, ``update_many``,
``delete_many``); an adapter says which methods implement each one for a
model, so one plugin serves every ORM.  It also gives plugins a small,
ORM-neutral way to read and set fields, add fields a plugin contributes,
filter a queryset and snapshot an instance's persisted state.

For a plain class every operation is simply the method of that name, so the
plain adapter maps nothing and the weaver uses method names as they are.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..weaving.advice import CALLED, Subject, Target
from ._fields import FieldSpec
from ._persisted_state import (
    AdapterPersistedState,
    _row_key,
    _rows,
    _states,
    _weakly_referenceable,
    same_row_state,
)
from ._transactions import AdapterTransactions
from ._unknown import UNKNOWN
from ._validation import AdapterValidation

__all__ = [
    "OPERATIONS",
    "Adapter",
    "FieldSpec",
    "adapter_for",
    "framework_bases",
    "operations_of",
    "register_adapter",
    "schedule",
    "subject_of",
]

PRODUCED = Subject("produced")

OPERATIONS = (
    "save",
    "delete",
    "get",
    "get_queryset",
    "update",
    "save_many",
    "update_many",
    "delete_many",
)


class Adapter(AdapterPersistedState, AdapterValidation, AdapterTransactions):
    """Base class of ORM adapters; the defaults are those of a plain Python class.

    Subclasses override what their ORM does differently.  ``operations``
    returns, for each logical operation the ORM implements somewhere other
    than a model method of the same name, the ``(owner class, attribute)``
    pairs to weave; each owner must belong to that one model (for Django, a
    per-model subclass of its manager), so weaving never leaks to other models.

    This class holds what an operation is (operations, subjects, what a call
    means, what a write changed); the rest comes from one private module per
    concern: fields (``_fields``), persisted state (``_persisted_state``),
    caching (``_caching``), validation (``_validation``) and transactions
    (``_transactions``).
    """

    name = "plain"

    # What a field absent from the persisted state was: plain objects gain
    # attributes as they go, so one not there before had none (``None``); an
    # ORM that defers fields says ``tracking.UNKNOWN`` (never guessed).
    unloaded: Any = None

    def handles(self, model: type) -> bool:
        return True

    def framework_bases(self) -> tuple[type, ...]:
        """The ORM's base classes, whose methods pointcut globs skip (as ``object``'s).

        Plain: ``pydantic.BaseModel`` once pydantic is imported (asked without
        importing it: no class derives from it before).  An ORM's adapter adds
        its own model base (Django: ``models.Model``).
        """
        pydantic = sys.modules.get("pydantic")
        return () if pydantic is None else (pydantic.BaseModel,)

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        return {}

    def subject(self, model: type, operation: str, target: Target) -> Subject:
        """What advice on ``operation`` gets as ``instance`` (asked once, at weave time).

        ``target`` is the method woven for it.  The table (docs/semantics.md):

        - ``save``, ``delete``, ``update`` called on a record: the record;
        - ``get``, ``create``, ``get_queryset`` and a ``save`` that is not
          called on a record (a classmethod, a manager's method): in
          ``after``/``chain`` advice the record (or queryset) produced; before
          it exists, the object called (``joinpoint.target`` always is);
        - ``save_many``: the objects given (its first argument);
        - ``update_many``, ``delete_many``: the queryset, which is the object
          called when the method is the queryset's own (Django's
          ``QuerySet.update``), else the first argument (the plain
          ``update_many(cls, queryset, **values)``);
        - any other method: the object called.
        """
        # Called on a record: an instance method of the model itself (or of a
        # base), even one the adapter maps an operation onto (EarnORM's
        # ``write`` for ``save``); a manager's or queryset's method is not.
        on_record = target.binding == "method" and issubclass(model, target.owner)
        if operation in ("save", "get", "create", "get_queryset"):
            return CALLED if on_record else PRODUCED
        if operation == "save_many" or (
            operation in ("update_many", "delete_many") and target.binding != "method"
        ):
            first = next(iter(target.params.values()), None)
            if first is None or first.kind is first.KEYWORD_ONLY:
                return CALLED
            return Subject("argument", 0, first.name)
        return CALLED

    # -- what an operation's call means ----------------------------------------
    #
    # The built-in plugins read and rewrite the calls of the logical operations
    # through these methods, never through one ORM's signatures.  The plain
    # convention (followed by earnorm_aop.integrations.memory) is:
    # ``save(self)``, ``delete(self)``, ``update(self, **values)`` on instances;
    # ``get(cls, pk)``, ``get_queryset(cls)``, ``save_many(cls, objs)``,
    # ``update_many(cls, queryset, **values)`` and ``delete_many(cls, queryset)``
    # as classmethods.

    def now(self) -> datetime:
        """The current time as the ORM stores it (plain: timezone-aware UTC)."""
        return datetime.now(UTC)

    def model_label(self, model: type) -> str:
        """A stable name of ``model`` for cache keys and audit records (Django: ``app.Model``)."""
        return f"{model.__module__}.{model.__qualname__}"

    def has_queryset(self, model: type) -> bool:
        """Whether ``model`` has a default queryset (plain: a ``get_queryset`` method)."""
        return callable(getattr(model, "get_queryset", None))

    def queryset(self, model: type) -> Any:
        """The default queryset, through the woven ``get_queryset`` (Django: ``objects.all()``)."""
        return getattr(model, "get_queryset")()  # noqa: B009 - plain classes only by convention

    def lookup_pk(self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The primary key a ``get`` call looks up, or ``None`` if it is not a lookup by key.

        Plain: ``get(pk)``, ``get(pk=...)`` or ``get(id=...)``; anything else
        (several conditions, another field) is not a primary-key lookup.
        """
        if len(args) == 1 and not kwargs:
            return args[0]
        if not args and len(kwargs) == 1:
            ((key, value),) = kwargs.items()
            if key in ("pk", "id", "pk__exact", "id__exact"):
                return value
        return None

    def bulk_objects(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], tuple[Any, ...], dict[str, Any]]:
        """The objects of a ``save_many`` call as a list, and the call rewritten to pass that list.

        Plain and Django (``bulk_create(objs, ...)``): the first positional
        argument or ``objs=``.  The rewritten call passes the very list returned,
        so a generator is consumed once and every plugin sees the same objects.
        """
        kw = dict(kwargs)
        if args:
            objs = list(args[0])
            return objs, (objs, *args[1:]), kw
        for key in ("objs", "objects"):
            if key in kw:
                objs = list(kw[key])
                kw[key] = objs
                return objs, tuple(args), kw
        return [], tuple(args), kw

    def bulk_queryset(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The queryset an ``update_many`` / ``delete_many`` call acts on.

        Plain: the first argument (``update_many(cls, queryset, **values)``);
        Django: the ``QuerySet`` whose ``update()`` / ``delete()`` runs (``instance``).
        """
        if args:
            return args[0]
        return kwargs.get("queryset")

    def update_values(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The field values an ``update`` / ``update_many`` call writes (keywords or a dict)."""
        values: dict[str, Any] = {}
        for arg in args:
            if isinstance(arg, Mapping):
                values.update(arg)
        values.update(kwargs)
        return values

    def is_expression(self, value: Any) -> bool:
        """Whether ``value`` (of an ``update`` / ``update_many`` call) is computed by the database.

        Plain: never.  Django: any expression (``F("views") + 1``, the
        ``Case(When(...))`` values of ``bulk_update()``), whose result only the
        database knows; plugins must not treat it as the value written.
        """
        return False

    def evaluate(self, queryset: Any, values: Mapping[str, Any]) -> dict[Any, dict[str, Any]]:
        """What ``update_many(queryset, **values)`` would write, row by row, without writing.

        Returns primary key -> field -> value for every row ``queryset``
        matches.  Plain: the values as given (a plain value is its own
        result).  Django: one ``SELECT`` of the rows with each expression
        annotated, converted by its target field.
        """
        return {self.pk(item): dict(values) for item in self.fetch(queryset)}

    def reread(
        self, queryset: Any, pks: Sequence[Any], names: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        """The stored values of ``names`` of the rows ``pks`` (after a write): pk -> field -> value.

        Rows are found by primary key, whether ``queryset`` still matches them
        or not.  Plain: the items of ``queryset``.  Django: one ``SELECT``
        through the model's (unfiltered) base manager on the queryset's database,
        keyed by attribute name (``author_id`` for ``author``).
        """
        wanted = set(pks)
        return {
            pk: {n: self.get_field(item, n) for n in names}
            for item in self.fetch(queryset)
            if (pk := self.pk(item)) in wanted
        }

    def with_update_values(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], values: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``update`` / ``update_many`` call rewritten to write ``values`` (as keywords)."""
        return tuple(a for a in args if not isinstance(a, Mapping)), dict(values)

    def with_save_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``save`` call rewritten so the fields ``names`` are written too.

        Plain: a save writes every field, so the call is unchanged.  Django: add
        ``names`` to ``update_fields`` when the call restricts it (as
        django-model-utils' ``TimeStampedModel.save`` does for ``modified``).
        """
        return tuple(args), dict(kwargs)

    def saves_nothing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Whether this ``save`` call writes no field at all (Django: ``update_fields=[]``)."""
        return False

    def finished(self, model: type, value: Any) -> Any:
        """What a model method a plugin contributes returns when it has nothing to do.

        Plain and Django: ``value``.  An async ORM (EarnORM), whose model methods
        are all awaited: an awaitable of ``value``.
        """
        return value

    def read_if_unknown(self, instance: Any) -> Any:
        """Make ``instance``'s stored values known to :meth:`get_field`; ``None`` when they are.

        A model method a plugin contributes (softdelete's ``restore()``) decides
        from the instance's values.  Plain and Django: nothing to do (an
        attribute, or Django's deferred-field load).  EarnORM: a record from
        ``browse()`` or ``search()`` has read nothing; an awaitable that reads
        its document first.
        """
        return None

    def saved_fields(
        self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> frozenset[str] | None:
        """The fields this ``save`` call writes, as snapshots name them; ``None``: every field.

        Plain: a save writes every field.  Django: ``update_fields``, by
        attribute name (``writer_id`` for ``writer``).
        """
        return None

    def attname(self, model: type, name: str) -> str:
        """The name :meth:`snapshot` gives field ``name`` (Django: ``writer`` -> ``writer_id``)."""
        return name

    def save_instance(self, instance: Any, fields: Sequence[str] | None = None) -> Any:
        """Save ``instance`` through its woven ``save`` (Django: ``save(update_fields=fields)``)."""
        return instance.save()

    def delete_instance(self, instance: Any) -> Any:
        """Delete ``instance`` through its woven ``delete``."""
        return instance.delete()

    def update_queryset(self, model: type, queryset: Any, values: Mapping[str, Any]) -> Any:
        """Run the woven ``update_many`` on ``queryset``; return its result (the row count).

        Plain: ``model.update_many(queryset, **values)``; Django: ``queryset.update(**values)``.
        """
        return getattr(model, "update_many")(queryset, **values)  # noqa: B009

    def deleted_result(self, model: type, count: int) -> Any:
        """What ``delete_many`` returns for ``count`` rows.

        Plain: ``count``; Django: ``(count, {label: count})``.
        """
        return count

    def fetch(self, queryset: Any) -> list[Any]:
        """The instances ``queryset`` matches now, leaving ``queryset`` itself untouched.

        Django: ``list(queryset.all())``, so the queryset's own result cache stays empty.
        """
        return list(queryset)

    def pks(self, queryset: Any) -> list[Any]:
        """Primary keys ``queryset`` matches (Django: ``values_list("pk", flat=True)``)."""
        return [self.pk(item) for item in self.fetch(queryset)]

    # -- change tracking -----------------------------------------------------------
    #
    # What ``changes``, hook conditions and the built-ins know of a write
    # (earnorm_aop.adapters.tracking) comes from five methods; an adapter
    # for another ORM implements these (and records loads with
    # ``remember_state``, as Django's ``from_db`` hook does):
    #
    # - ``persisted_state(instance)``: the values as loaded or last saved,
    #   without a copy (``None``: never loaded nor saved, a creation);
    #   ``persisted_values(instance)`` may give the same to read by name only;
    # - ``current_value(instance, name)``: one field's value now, or
    #   ``tracking.UNKNOWN`` when it was never loaded (never a query);
    # - ``snapshot(instance)``: every known field now (by the names above);
    # - ``saved_fields(model, args, kwargs)``: what a ``save`` call writes;
    # - ``read_rows(model, queryset, values, fields=None)``: the one read before
    #   a bulk write: each row with its values and what ``values`` store in it
    #   (``fields``: only those columns are needed, with the key and ``values``'s).

    def persisted_state(self, instance: Any) -> Mapping[str, Any] | None:
        """:meth:`loaded_state` without the copy (read it, never change it): one look-up a field.

        An adapter that keeps the state its own way (overriding
        :meth:`remember_state` / :meth:`loaded_state`) is asked through
        ``loaded_state`` until it overrides this too.
        """
        if type(self).loaded_state is not Adapter.loaded_state:
            return self.loaded_state(instance)
        if not _weakly_referenceable(instance):
            row = _row_key(instance)
            return None if row is None else _rows.get(row)
        known = _states.get(id(instance))
        if known is None or known[0]() is not instance:
            return same_row_state(instance)  # a copy of a saved instance, or None
        return known[1]

    def persisted_values(self, instance: Any) -> Mapping[str, Any] | None:
        """The persisted state to read fields from by name (``.get(name)``), never to iterate.

        What an instance write's "before" is read from, on every tracked
        write.  An adapter may hand back something cheaper to keep than
        :meth:`persisted_state` (Django: the instance's ``__dict__`` as its
        last full save left it, other keys and all).  Default:
        :meth:`persisted_state`.
        """
        return self.persisted_state(instance)

    def current_value(self, instance: Any, name: str) -> Any:
        """Field ``name`` of ``instance`` now; ``tracking.UNKNOWN`` if it has none.

        Plain: the attribute.  Django: the instance's ``__dict__`` entry by attname,
        so a deferred field is unknown rather than fetched.
        """
        return getattr(instance, name, UNKNOWN)

    def stored_value(self, model: type, name: str, value: Any) -> Any:
        """What writing ``value`` to ``name`` stores (Django: a related object's key for a FK)."""
        return value

    def read_rows(
        self,
        model: type,
        queryset: Any,
        values: Mapping[str, Any],
        fields: Collection[str] | None = None,
    ) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
        """The rows ``queryset`` matches now, read once before a bulk write.

        Each is ``(instance, values now, what values store)``, both by the names
        :meth:`snapshot` uses.  Plain: the fetched items with the values as given.
        Django: one ``SELECT`` of the rows, each expression (``F("views") + 1``,
        ``bulk_update``'s ``Case``) annotated so the database evaluates it for
        each row in that same query.  ``fields``: the plugins need only these, the
        key and the written fields (Django and SQLAlchemy then read only those
        columns); plain reads every field all the same.
        """
        written = {
            self.attname(model, n): self.stored_value(model, n, v) for n, v in values.items()
        }
        return [(row, self.snapshot(row), dict(written)) for row in self.fetch(queryset)]


_adapters: list[Adapter] = []
_lock = threading.Lock()
_plain = Adapter()


def register_adapter(adapter: Adapter) -> None:
    """Make ``adapter`` handle the models it claims (later registrations are asked first)."""
    with _lock:
        if all(a is not adapter for a in _adapters):
            _adapters.insert(0, adapter)


# Integrations imported on first sight of one of their models, by the module of
# the model's metaclass, so ``with_plugins`` on a Django model needs no import.
_AUTOLOAD = {
    "django.db.models.base": "earnorm_aop.integrations.django",
    "earnorm.base.model.meta": "earnorm_aop.integrations.earnorm",
    # DeclarativeBase, declarative_base() and MappedAsDataclass metaclasses.
    "sqlalchemy.orm.decl_api": "earnorm_aop.integrations.sqlalchemy",
}


def adapter_for(model: type) -> Adapter:
    """The adapter of ``model``: the first registered one that handles it, else the plain one."""
    for adapter in list(_adapters):
        if adapter.handles(model):
            return adapter
    for meta in inspect.getmro(type(model)):
        module = _AUTOLOAD.get(meta.__module__)
        if module is not None and module not in sys.modules:
            importlib.import_module(module)
            return adapter_for(model)
    return _plain


def operation_names(model: type) -> Iterable[str]:
    return adapter_for(model).operations(model).keys()


# The engine's extension points the adapters fill (earnorm_aop/__init__.py installs them).


def operations_of(model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
    """The engine's ``operations`` point: the model's adapter's :meth:`Adapter.operations`."""
    return adapter_for(model).operations(model)


def subject_of(model: type, operation: str, target: Target) -> Subject:
    """The engine's ``subject`` point: the model's adapter's :meth:`Adapter.subject`."""
    return adapter_for(model).subject(model, operation, target)


def framework_bases() -> frozenset[type]:
    """The engine's ``framework_bases`` point: every registered adapter's and the plain one's."""
    found = set(_plain.framework_bases())
    for adapter in list(_adapters):
        found.update(adapter.framework_bases())
    return frozenset(found)


def schedule(
    model: type,
    subject: Any,
    on_commit: Callable[[], None] | None,
    on_rollback: Callable[[], None] | None,
) -> None:
    """The engine's ``scheduler`` point: the model's adapter's ``defer``."""
    adapter_for(model).defer(model, subject, on_commit, on_rollback)
