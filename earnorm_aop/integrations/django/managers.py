"""Per-model manager and QuerySet classes: where Django's operations are woven.

Django shares ``Manager`` and ``QuerySet`` between every model, so the weaver
must never install advice on them.  A model that uses plugins gets its own
subclass of its default manager's class and of that manager's QuerySet class;
the default manager instance is switched to the private class, whose
``_queryset_class`` is the private QuerySet.  ``get_queryset``/``get`` are
woven on the private manager, ``update``/``delete``/``bulk_create`` on the
private QuerySet, so another model, a bare ``Manager()`` or the model's
``_base_manager`` never run the advice.

Related managers (``author.articles``) are classes Django derives from the
default manager's class, so they inherit the woven ``get_queryset``: a
relation's rows are filtered as ``Article.objects`` rows are.  Their writes
(``remove()``, ``clear()``, ``set()``) run ``QuerySet.update()`` on the
relation's queryset, the woven one; ``add()`` alone updates through
``_base_manager``, which is never woven, so the reverse foreign key manager's
``add()`` runs the same update on the model's private QuerySet (unfiltered, as
``_base_manager`` is) and plugins see it as any bulk update.
"""

from __future__ import annotations

import copy
import functools
import threading
import weakref
from typing import Any

from django.db.models import QuerySet

__all__ = ["PrivateClasses", "base_class", "name_as_declared", "private", "private_classes"]

_lock = threading.RLock()


class PrivateClasses:
    """The private manager and QuerySet classes of one model."""

    __slots__ = ("manager", "queryset")

    def __init__(self, manager: type, queryset: type) -> None:
        self.manager = manager
        self.queryset = queryset


_per_model: weakref.WeakKeyDictionary[type, PrivateClasses] = weakref.WeakKeyDictionary()
_published: weakref.WeakValueDictionary[str, type] = weakref.WeakValueDictionary()
_stem_owners: weakref.WeakValueDictionary[str, type] = weakref.WeakValueDictionary()


class _Published:
    """Where pickle finds the private classes by name (``managers.private.<app>__<model>__...``).

    A pickled QuerySet names its class; without this, ``pickle.dumps(qs)`` of a
    woven model would fail, as Django's documented QuerySet pickling does not.
    """

    def __getattr__(self, name: str) -> type:
        try:
            return _published[name]
        except KeyError:
            raise AttributeError(name) from None


private = _Published()


_AS_DECLARED = False


def name_as_declared() -> None:
    """Name the private manager classes made from now on as their user class.

    django-stubs' mypy plugin loads the project and resolves each model's
    managers by their class's module and name, which it cannot find for a
    private class; [`earnorm_aop.integrations.django.mypy`][earnorm_aop.integrations.django.mypy]
    calls this before the plugin loads the models, so ``Article.objects`` is typed as
    the user's manager.  Only for type checking: ``explain()`` and tracebacks
    then show the user's name.
    """
    global _AS_DECLARED
    _AS_DECLARED = True


def base_class(cls: type) -> type:
    """The user's class behind a private one (``cls`` itself otherwise)."""
    found: type = cls.__dict__.get("_earnorm_base", cls)
    return found


def private_classes(model: Any) -> PrivateClasses | None:
    """The private classes of prepared, concrete ``model``, installed on first use.

    Returns ``None`` when the model has no default manager to weave (abstract,
    swapped, or not prepared by Django yet).
    """
    opts = model.__dict__.get("_meta")
    if opts is None or opts.abstract or opts.swapped:
        return None
    manager = opts.default_manager
    if manager is None:
        return None
    with _lock:
        known = _per_model.get(model)
        if known is not None and type(manager) is known.manager:
            return known
        classes = _make_classes(model, type(manager))
        _install(model, manager, classes.manager)
        _per_model[model] = classes
        _forget_related_manager_classes(model)
        return classes


def _make_classes(model: Any, current: type) -> PrivateClasses:
    base = base_class(current)  # the manager may be another model's private class
    qs_base = base_class(getattr(base, "_queryset_class", QuerySet))
    stem = _free_stem(f"{model._meta.app_label}__{model.__name__}", model)
    queryset = type(
        qs_base.__name__,
        (qs_base,),
        {
            "__module__": __name__,
            "__qualname__": f"private.{stem}__{qs_base.__name__}",
            "__doc__": qs_base.__doc__,
            "_earnorm_base": qs_base,
        },
    )
    # Named as the user's class for a type checker that resolves managers by name.
    shown = (
        (base.__module__, base.__qualname__)
        if _AS_DECLARED
        else (__name__, f"private.{stem}__{base.__name__}")
    )
    namespace: dict[str, Any] = {
        "__module__": shown[0],
        "__qualname__": shown[1],
        "__doc__": base.__doc__,
        "_earnorm_base": base,
        "_queryset_class": queryset,
        "deconstruct": _deconstruct,
        "__eq__": _eq,
        "__hash__": base.__hash__,
        "__init_subclass__": classmethod(_related_manager_created),
    }
    manager = type(base.__name__, (base,), namespace)
    _published[f"{stem}__{qs_base.__name__}"] = queryset
    _published[f"{stem}__{base.__name__}"] = manager
    return PrivateClasses(manager, queryset)


def _free_stem(stem: str, model: Any) -> str:
    """``stem``, or ``stem__2``, ... when another live model already publishes under it.

    Two models can share an app label and a name (a test's ``isolate_apps``
    model beside the app's own); the first keeps the plain name, so a later
    one dying cannot take the name from under the first one's pickled querysets.
    """
    candidate, n = stem, 1
    while (owner := _stem_owners.get(candidate)) is not None and owner is not model:
        n += 1
        candidate = f"{stem}__{n}"
    _stem_owners[candidate] = model
    return candidate


def _install(model: Any, manager: Any, cls: type) -> None:
    """Make ``model``'s own default manager an instance of ``cls``.

    A manager declared on the model itself simply changes class.  One
    inherited from a parent (abstract or concrete) is shared with the parent's
    other children, so the model gets its own copy instead, added as Django
    adds any manager (``add_to_class``); as the model's own manager it comes
    first, as Django's inheritance rules put it.
    """
    name = manager.name
    local = next((m for m in model._meta.local_managers if m.name == name), None)
    if local is not None:
        local.__class__ = cls
    else:
        local = copy.copy(manager)
        local.__class__ = cls
        model.add_to_class(name, local)
    # Options caches copies of the managers: let it copy the switched one again.
    for attr in ("managers", "managers_map", "default_manager", "base_manager"):
        model._meta.__dict__.pop(attr, None)


def _forget_related_manager_classes(model: Any) -> None:
    """Drop Django's cached related-manager classes, built from the old manager class.

    Django builds them on first use of a relation; while the registry is still
    loading models (plugins declared at class creation) none exists yet.
    """
    if not model._meta.apps.models_ready:
        return
    for models in list(model._meta.apps.all_models.values()):
        for other in list(models.values()):
            for value in list(vars(other).values()):
                cached = getattr(value, "__dict__", None)
                if isinstance(cached, dict) and "related_manager_cls" in cached:
                    del cached["related_manager_cls"]


def _deconstruct(self: Any) -> Any:
    """Migrations record the user's manager class, never the private one."""
    clone = copy.copy(self)
    clone.__class__ = base_class(type(self))
    return clone.deconstruct()


def _eq(self: Any, other: object) -> bool:
    """Equal as the user's managers are, so the migration autodetector sees no change."""
    base = base_class(type(self))
    return isinstance(other, base) and self._constructor_args == getattr(
        other, "_constructor_args", None
    )


def _related_manager_created(cls: type, /, **kwargs: Any) -> None:
    """Django derives related managers from the default manager's class.

    They keep the woven ``get_queryset`` (a relation hides what the model
    hides), but their ``get`` is scoped by the relation, so it is not the
    model's ``get`` operation: it is the plain method again.  Otherwise a cached
    ``Article.objects.get(pk=1)`` would answer ``author.articles.get(pk=1)`` for
    any author.
    """
    owner: Any = _owner_private(cls)
    super(owner, cls).__init_subclass__(**kwargs)
    if "_check_fk_val" in vars(cls) and "add" in vars(cls):  # reverse foreign key manager
        cls.add = _woven_add(vars(cls)["add"])  # type: ignore[attr-defined]
    if "get" in vars(cls):
        return
    for klass in base_class(owner).__mro__:
        if "get" in vars(klass):
            cls.get = vars(klass)["get"]  # type: ignore[attr-defined]
            return


def _woven_add(original: Any) -> Any:
    """``RelatedManager.add`` whose bulk update is the model's woven ``QuerySet.update``.

    Django's own checks and messages, then the one ``UPDATE`` Django runs,
    through the private QuerySet class instead of ``_base_manager``.
    """

    @functools.wraps(original)
    def add(self: Any, *objs: Any, bulk: bool = True) -> Any:
        model = self.model
        classes = _per_model.get(model)
        if not bulk or classes is None:
            return original(self, *objs, bulk=bulk)
        from django.db import router

        self._check_fk_val()
        self._remove_prefetched_objects()
        db = router.db_for_write(model, instance=self.instance)
        pks = []
        for obj in objs:
            if not isinstance(obj, model):
                raise TypeError(f"'{model._meta.object_name}' instance expected, got {obj!r}")
            setattr(obj, self.field.name, self.instance)
            if obj._state.adding or obj._state.db != db:
                raise ValueError(
                    f"{obj!r} instance isn't saved. Use bulk=False or save the object first."
                )
            pks.append(obj.pk)
        rows = classes.queryset(model=model, using=db)
        rows.filter(pk__in=pks).update(**{self.field.name: self.instance})

    add.alters_data = True  # type: ignore[attr-defined]
    return add


def _owner_private(cls: type) -> type:
    for klass in cls.__mro__:
        if "_earnorm_base" in vars(klass) and "_queryset_class" in vars(klass):
            return klass
    raise TypeError(f"{cls!r} is not derived from a private manager class")  # pragma: no cover
