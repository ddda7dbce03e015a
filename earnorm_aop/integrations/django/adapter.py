"""The Django adapter: logical operations, fields and persisted state of Django models.

=================  ==================================================
operation          woven on
=================  ==================================================
``save``           ``Model.save`` (the model's own method)
``delete``         ``Model.delete``
``get``            ``Model.objects.get`` (private manager class)
``get_queryset``   ``Model.objects.get_queryset`` (private manager;
                   related managers inherit it)
``save_many``      ``QuerySet.bulk_create`` (private QuerySet class;
                   ``Model.objects.bulk_create`` goes through it)
``update_many``    ``QuerySet.update`` (private QuerySet; also what
                   Django's ``bulk_update`` runs, once per batch)
``delete_many``    ``QuerySet.delete`` (private QuerySet)
=================  ==================================================

``update`` has no Django counterpart on an instance (``save`` is the
update), so a model's own ``update`` method, if any, is woven as it is.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models

from ...adapters import loads
from ...adapters._bulk_read import BulkValues
from ...adapters._operation_cache import OperationCache, Operations
from ...adapters.base import Adapter, FieldSpec
from ...adapters.tracking import UNKNOWN
from . import relations, transactions
from . import state as loading
from .fields import django_field
from .managers import private_classes

__all__ = ["APP", "DjangoAdapter", "adapter"]

APP = "earnorm_aop.integrations.django"

# Before Django has prepared a class (during ``__init_subclass__``) or on an
# abstract model, the operations exist but there is nothing to weave yet.
_UNPREPARED: Mapping[str, Sequence[tuple[type, str]]] = {
    "get": (),
    "get_queryset": (),
    "save_many": (),
    "update_many": (),
    "delete_many": (),
}


class DjangoAdapter(Adapter):
    """Maps the logical operations onto a Django model's private manager and QuerySet."""

    name = "django"

    def framework_bases(self) -> tuple[type, ...]:
        """Globs (``before:*``) range over a model's own methods and the operations.

        Not over the dozens of public methods of ``models.Model``.
        """
        return (*super().framework_bases(), models.Model)

    unloaded = UNKNOWN  # a deferred field's value is not known until Django loads it

    def __init__(self) -> None:
        self._operations = OperationCache()

    def watch_loads(self, model: type, watcher: Callable[[Any], None]) -> bool:
        """Each instance ``from_db`` builds (querysets, ``get``'s: quiet), not refreshes."""
        loading.install_load_hooks(model)
        setattr(model, loads.ATTRIBUTE, staticmethod(watcher))
        return True

    def handles(self, model: type) -> bool:
        return isinstance(model, type) and issubclass(model, models.Model)

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        classes = private_classes(model)
        if classes is None:
            return _UNPREPARED
        manager, queryset = classes.manager, classes.queryset

        def make() -> Operations:
            loading.install_load_hooks(model)
            return {
                "get": ((manager, "get"),) if hasattr(manager, "get") else (),
                "get_queryset": ((manager, "get_queryset"),),
                "save_many": ((queryset, "bulk_create"),),
                "update_many": ((queryset, "update"),),
                "delete_many": ((queryset, "delete"),),
            }

        # made again for new private classes (the model woven again)
        return self._operations.get(model, make, stamp=classes)

    # -- fields ------------------------------------------------------------------

    def field_names(self, model: type) -> list[str]:
        """Concrete fields by attribute name (``author_id`` for a foreign key: no query to read)."""
        return [f.attname for f in _meta(model).concrete_fields]

    def has_field(self, model: type, name: str) -> bool:
        try:
            _meta(model).get_field(name)
        except FieldDoesNotExist:
            return hasattr(model, name)
        return True

    def field_aliases(self, model: type, name: str) -> frozenset[str]:
        return loading.aliases(_meta(model), name)

    def add_field(self, model: type, spec: FieldSpec) -> None:
        """Add a real Django field (``contribute_to_class``), seen by migrations made afterwards."""
        if self.has_field(model, spec.name):
            return
        model.add_to_class(spec.name, django_field(spec, _meta(model).label))  # type: ignore[attr-defined]

    def remove_field(self, model: type, spec: FieldSpec) -> None:
        """Undo [`add_field`][earnorm_aop.integrations.django.adapter.DjangoAdapter.add_field] on a
        model whose weave failed (no migration saw it yet)."""
        opts = _meta(model)
        try:
            field = opts.get_field(spec.name)
        except FieldDoesNotExist:
            return
        if field in opts.local_fields:
            opts.local_fields.remove(field)
            opts._expire_cache()
        for attr in {field.name, getattr(field, "attname", field.name)}:
            if attr in vars(model):
                delattr(model, attr)

    def hide_rows(self, model: type, visible: Callable[[type], Mapping[str, Any]]) -> None:
        """Joins into the many side of ``model``'s relations keep ``visible(model)`` rows."""
        relations.hide_rows(model, visible)

    def pk(self, instance: Any) -> Any:
        return instance.pk

    def pk_reader(self, model: type) -> Callable[[Any], Any]:
        """The key's attribute, read directly (what ``Model.pk`` reads, without its frame)."""
        key = getattr(_meta(model), "pk", None)
        if key is None:  # an abstract model has no key of its own
            return self.pk
        return operator.attrgetter(key.attname)

    def snapshot(self, instance: Any) -> dict[str, Any]:
        """The loaded field values, by attname; deferred fields are left out (never queried)."""
        values = vars(instance)
        names = loading.attnames(instance._meta)
        try:  # every field loaded: the common case, one look-up a field
            return {n: values[n] for n in names}
        except KeyError:
            return {n: values[n] for n in names if n in values}

    def changes_since(
        self, instance: Any, old: Mapping[str, Any], written: frozenset[str] | None = None
    ) -> dict[str, tuple[Any, Any]]:
        """The instance's ``__dict__`` compared with ``old`` in one pass (no snapshot built).

        A deferred field (not in ``__dict__``) is never a change, as in ``snapshot``.
        """
        values = vars(instance)
        out = {}
        for n in loading.attnames(instance._meta):
            if written is not None and n not in written:
                continue
            v = values.get(n, UNKNOWN)
            was = old.get(n, UNKNOWN)
            if v is not UNKNOWN and was is not UNKNOWN and was != v:
                out[n] = (was, v)
        return out

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        if hasattr(queryset, "filter") and not isinstance(queryset, list | tuple):
            return queryset.filter(**conditions)
        return super().filter(queryset, **conditions)

    # -- what an operation's call means -------------------------------------------

    def now(self) -> Any:
        """``django.utils.timezone.now()``: aware UTC with ``USE_TZ``, naive local time without.

        (SQLite and MySQL refuse aware datetimes when ``USE_TZ`` is off.)
        """
        from django.utils import timezone

        return timezone.now()

    def model_label(self, model: type) -> str:
        label: str = _meta(model).label
        return label

    def has_queryset(self, model: type) -> bool:
        return True

    def queryset(self, model: type) -> Any:
        return model._default_manager.all()  # type: ignore[attr-defined]

    def lookup_pk(self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """``objects.get(pk=1)`` / ``get(id=1)`` / ``get(id__exact=1)``; Q objects are not."""
        if args or len(kwargs) != 1:
            return None
        ((key, value),) = kwargs.items()
        pk = _meta(model).pk
        names = {"pk", pk.name, pk.attname}
        if key.removesuffix("__exact") not in names or value is None:
            return None
        try:
            return pk.to_python(value)
        except (ValidationError, TypeError, ValueError):
            return None

    def bulk_queryset(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        return instance

    def with_save_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Add ``names`` to a non-empty ``update_fields`` (an empty one saves nothing in Django)."""
        kw = dict(kwargs)
        positional = list(args)
        # save(force_insert, force_update, using, update_fields) positionally (deprecated).
        if "update_fields" in kw:
            kw["update_fields"] = _with(kw["update_fields"], names)
        elif len(positional) >= 4:
            positional[3] = _with(positional[3], names)
        return tuple(positional), kw

    def saves_nothing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """``save(update_fields=[])``: Django returns without writing (or sending signals)."""
        fields = kwargs["update_fields"] if "update_fields" in kwargs else _nth(args, 3)
        return fields is not None and len(fields) == 0

    def saved_fields(
        self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> frozenset[str] | None:
        """``update_fields`` by attname; ``None`` when the save writes every concrete field."""
        if "update_fields" in kwargs:
            fields = kwargs["update_fields"]
        elif len(args) > 3:
            fields = args[3]
        else:
            return None  # save() as a save mostly is called: every field
        if fields is None:
            return None
        return frozenset(self.attname(model, n) for n in fields)

    def attname(self, model: type, name: str) -> str:
        try:
            found: str = _meta(model).get_field(name).attname
        except (FieldDoesNotExist, AttributeError):
            return name
        return found

    def save_instance(self, instance: Any, fields: Sequence[str] | None = None) -> Any:
        if fields is None:
            return instance.save()
        return instance.save(update_fields=list(fields))

    def update_queryset(self, model: type, queryset: Any, values: Mapping[str, Any]) -> Any:
        return queryset.update(**values)

    def is_expression(self, value: Any) -> bool:
        """``F()``, ``Case(When(...))`` (``bulk_update``), ``Value()``, subqueries: resolvable."""
        return hasattr(value, "resolve_expression")

    def evaluate(self, queryset: Any, values: Mapping[str, Any]) -> dict[Any, dict[str, Any]]:
        """One ``SELECT`` of ``queryset`` annotated with each value, typed as its target field."""
        from django.db.models import ExpressionWrapper, Value

        meta = _meta(queryset.model)
        aliases = {f"earnorm_aop_value_{i}": name for i, name in enumerate(values)}
        annotations = {}
        for alias, name in aliases.items():
            field = meta.get_field(name)
            value = values[name]
            if not self.is_expression(value):
                value = Value(value, output_field=field)
            annotations[alias] = ExpressionWrapper(value, output_field=field)
        rows = queryset.annotate(**annotations).values_list("pk", *aliases)
        return {
            pk: {aliases[alias]: v for alias, v in zip(aliases, rest, strict=True)}
            for pk, *rest in rows
        }

    def reread(
        self, queryset: Any, pks: Sequence[Any], names: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        """The rows by pk through ``_base_manager`` (never filtered) on the queryset's database."""
        model = queryset.model
        attnames = [_meta(model).get_field(n).attname for n in names]
        found: dict[Any, dict[str, Any]] = {}
        keys = list(pks)
        rows = model._base_manager.using(queryset.db)
        for start in range(0, len(keys) if attnames else 0, _REREAD_BATCH):
            batch = keys[start : start + _REREAD_BATCH]
            for pk, *rest in rows.filter(pk__in=batch).values_list("pk", *attnames):
                found[pk] = dict(zip(attnames, rest, strict=True))
        return found

    def deleted_result(self, model: type, count: int) -> Any:
        return count, ({_meta(model).label: count} if count else {})

    def fetch(self, queryset: Any) -> list[Any]:
        if hasattr(queryset, "all"):
            return list(queryset.all())
        return list(queryset)

    def pks(self, queryset: Any) -> list[Any]:
        if hasattr(queryset, "values_list"):
            return list(queryset.values_list("pk", flat=True))
        return super().pks(queryset)

    # -- transactions -----------------------------------------------------------------

    def in_transaction(self, model: type, subject: Any) -> bool:
        """Inside an ``atomic`` block on the database ``subject`` writes to."""
        from django.db import connections

        return bool(connections[transactions.alias_of(model, subject)].in_atomic_block)

    def defer(
        self,
        model: type,
        subject: Any,
        on_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
        *,
        robust: bool = False,
    ) -> None:
        """``transaction.on_commit`` on ``subject``'s database, and the rollback side."""
        alias = transactions.alias_of(model, subject)
        transactions.defer(alias, on_commit, on_rollback, robust=robust)

    # -- persisted state --------------------------------------------------------------

    def remember_state(self, instance: Any, state: Mapping[str, Any] | None = None) -> None:
        """Kept in the instance's ``_state``; loads are recorded by ``from_db`` (see state.py)."""
        if state is not None:
            loading.remember(instance, state)
            return
        loading.remember_saved(instance)  # after every full save of a tracked model

    def loaded_state(self, instance: Any) -> dict[str, Any] | None:
        return loading.loaded_state(instance)

    # Functions of the instance alone (state.py), asked on every tracked save:
    # no method of the adapter's own in between.
    persisted_state = staticmethod(loading.persisted)
    persisted_values = staticmethod(loading.values)
    remember_written = staticmethod(loading.remember_saved)

    def current_value(self, instance: Any, name: str) -> Any:
        """The instance's ``__dict__`` entry: a deferred field is unknown, never fetched."""
        return vars(instance).get(name, UNKNOWN)

    def stored_value(self, model: type, name: str, value: Any) -> Any:
        """A related object written to a foreign key stores its key (``author`` -> its pk)."""
        if isinstance(value, models.Model):
            try:
                field = _meta(model).get_field(name)
            except FieldDoesNotExist:
                return value
            if field.is_relation and field.concrete:
                return getattr(value, field.target_field.attname)
        return value

    def read_rows(
        self,
        model: type,
        queryset: Any,
        values: Mapping[str, Any],
        fields: Collection[str] | None = None,
    ) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
        """One ``SELECT`` of the rows, expressions annotated (evaluated per row by the database).

        ``fields``: only those, the key and the written fields are loaded (``only()``;
        the others deferred, so ``snapshot`` leaves them out).
        """
        from django.db.models import ExpressionWrapper

        meta = _meta(model)
        split = BulkValues(self, model, values)
        rows = queryset.all()
        if fields is not None:
            known = {f.name for f in meta.concrete_fields}
            wanted = [meta.pk.name, *(n for n in (*fields, *values) if n in known)]
            # Joins would load what is not asked for (and only() refuses to defer them).
            rows = rows.select_related(None).prefetch_related(None).only(*wanted)
        if split.computed:
            rows = rows.annotate(
                **{
                    label: ExpressionWrapper(value, output_field=meta.get_field(name))
                    for label, name, value in split.computed
                }
            )
        labels = [label for label, _, _ in split.computed]
        read = []
        for row in rows:
            if labels:
                attributes = vars(row)
                written = split.written([attributes.pop(label) for label in labels])
            else:
                written = dict(split.plain)
            # What from_db loaded (our hook keeps it): the row's values, as one C-level
            # dict; a row that came another way is read from the instance.
            loaded = loading.loaded_values(row)
            read.append((row, self.snapshot(row) if loaded is None else loaded, written))
        return read

    def forget_state(self, instance: Any) -> None:
        loading.forget(instance)

    # -- validation ------------------------------------------------------

    def validate(self, instance: Any) -> dict[str, list[str]]:
        """``full_clean()``'s errors, as Django's forms report them (``__all__`` for the model)."""
        try:
            instance.full_clean()
        except ValidationError as exc:
            return {
                field: [str(m) for m in messages] for field, messages in exc.message_dict.items()
            }
        return {}

    def clean(
        self,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        proceed: Callable[[], Any],
        errors: Callable[[], Mapping[str, Sequence[str]]],
    ) -> Any:
        """``clean_fields(exclude)``: Django's errors and the plugin's, in one ``ValidationError``.

        Checked after Django's own pass, on the values it converted.  Like Django,
        a field in ``exclude`` (ModelForms exclude the fields they do not show) is
        left alone, and a field Django already rejected keeps Django's message
        only.  An error on a field by attname (``author_id``) goes to the field
        (``author``); an error that is not about one field (``is_valid()``
        returning False, a nested schema location) is a non-field error.
        """
        exclude = kwargs.get("exclude", args[0] if args else None) or ()
        found: dict[str, list[Any]] = {}
        try:
            result = proceed()
        except ValidationError as exc:
            found = exc.update_error_dict({})
            result = None
        by_name = {}
        for f in _meta(type(instance)).concrete_fields:
            by_name[f.name] = by_name[f.attname] = f.name
        for key, messages in errors().items():
            field = by_name.get(key)
            if field is None:
                prefix = "" if key == NON_FIELD_ERRORS else f"{key}: "
                found.setdefault(NON_FIELD_ERRORS, []).extend(prefix + m for m in messages)
            elif field not in exclude and field not in found:
                found[field] = list(messages)
        if found:
            raise ValidationError(found)
        return result


# Primary keys per query of ``reread`` (SQLite allows 999 parameters before 3.32).
_REREAD_BATCH = 900


def _meta(model: type) -> Any:
    return model._meta  # type: ignore[attr-defined]


def _with(fields: Any, names: Sequence[str]) -> Any:
    if not fields:  # None: every field is saved; empty: Django saves nothing
        return fields
    out = list(fields)
    out += [n for n in names if n not in out]
    return out


adapter = DjangoAdapter()


def _nth(args: tuple[Any, ...], index: int) -> Any:
    return args[index] if len(args) > index else None
