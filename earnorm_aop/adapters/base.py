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
from collections.abc import Iterable, Mapping, Sequence

from ..weaving.advice import CALLED, Subject, Target
from ..weaving.extensions import Scheduler
from ._change_tracking import AdapterChangeTracking
from ._fields import FieldSpec
from ._transactions import AdapterTransactions
from ._validation import AdapterValidation

__all__ = [
    "OPERATIONS",
    "Adapter",
    "FieldSpec",
    "adapter_for",
    "framework_bases",
    "operations_of",
    "register_adapter",
    "scheduler_of",
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


class Adapter(AdapterChangeTracking, AdapterValidation, AdapterTransactions):
    """Base class of ORM adapters; the defaults are those of a plain Python class.

    Subclasses override what their ORM does differently.  ``operations``
    returns, for each logical operation the ORM implements somewhere other
    than a model method of the same name, the ``(owner class, attribute)``
    pairs to weave; each owner must belong to that one model (a per-model
    subclass of a shared manager, say), so weaving never leaks to other models.

    This class holds what an operation is (which methods, what advice gets as
    ``instance``); the rest comes from one private module per concern, each a
    base of this class: fields (``_fields``), what an operation's call means
    (``_calls``), persisted state (``_persisted_state``), change tracking
    (``_change_tracking``), validation (``_validation``) and transactions
    (``_transactions``).  What only one plugin needs is not here: it is that
    plugin's capability, which each integration provides
    ([`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]).
    """

    name = "plain"

    def handles(self, model: type) -> bool:
        return True

    def framework_bases(self) -> tuple[type, ...]:
        """The ORM's base classes, whose methods pointcut globs skip (as ``object``'s).

        Plain: ``pydantic.BaseModel`` once pydantic is imported (asked without
        importing it: no class derives from it before).  An ORM's adapter adds
        its own model base.
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
          called when the method is the queryset's own (an ORM's
          ``QuerySet.update``), else the first argument (the plain
          ``update_many(cls, queryset, **values)``);
        - any other method: the object called.
        """
        # Called on a record: an instance method of the model itself (or of a
        # base), even one the adapter maps an operation onto (an ORM's own
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
    """The engine's ``operations`` point: the model's adapter's
    [`Adapter.operations`][earnorm_aop.adapters.base.Adapter.operations]."""
    return adapter_for(model).operations(model)


def subject_of(model: type, operation: str, target: Target) -> Subject:
    """The engine's ``subject`` point: the model's adapter's
    [`Adapter.subject`][earnorm_aop.adapters.base.Adapter.subject]."""
    return adapter_for(model).subject(model, operation, target)


def framework_bases() -> frozenset[type]:
    """The engine's ``framework_bases`` point: every registered adapter's and the plain one's."""
    found = set(_plain.framework_bases())
    for adapter in list(_adapters):
        found.update(adapter.framework_bases())
    return frozenset(found)


def scheduler_of(model: type) -> Scheduler:
    """The engine's ``scheduler`` point: the model's adapter's ``defer``, asked at weave time."""
    return adapter_for(model).defer
