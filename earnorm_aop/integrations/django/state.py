"""What the database holds for an instance: recorded when Django loads it.

Plugins such as ``audit`` compare an instance with its persisted state.  Django
builds every instance it reads through ``Model.from_db`` (querysets, related
objects, ``refresh_from_db``, deferred fields), the hook Django's docs suggest
for tracking loaded values.  A model with plugins gets a small descriptor for
``from_db`` and ``refresh_from_db`` that keeps the loaded values in the
instance's ``_state`` (Django's own per-instance bookkeeping).  Keeping the
loaded tuple costs no copy; the dict is only built when a plugin asks.

The descriptors are neither functions nor classmethods, so pointcut globs
(``before:*``) never see them.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from ...adapters import loads

__all__ = [
    "aliases",
    "attnames",
    "forget",
    "install_load_hooks",
    "loaded_state",
    "loaded_values",
    "misfit",
    "persisted",
    "remember",
    "remember_saved",
    "values",
]

# At most one of these three is the state of an instance (``_STATE`` may also
# cache the dict of a ``_LOADED`` tuple):
_LOADED = "earnorm_loaded"  # (field attnames, values) as from_db received them
_STATE = "earnorm_state"  # a dict of field attname -> value
# The instance's ``__dict__`` as its last full save left it (less ``_state``):
# one C-level copy a save.  Every loaded field is there by attname; other keys
# (annotations, caches) are too, so it is read by name, and turned into a
# ``_STATE`` dict of the fields alone when something iterates the state.
_SAVED = "earnorm_saved"


def remember(instance: Any, state: Mapping[str, Any], *, copy: bool = True) -> None:
    kept = vars(instance._state)
    kept[_STATE] = dict(state) if copy else state
    kept.pop(_LOADED, None)
    kept.pop(_SAVED, None)


def remember_saved(instance: Any) -> None:
    """After a full save: what the instance holds now is what the database holds."""
    saved = vars(instance).copy()
    kept = vars(saved.pop("_state"))
    kept[_SAVED] = saved
    if _STATE in kept:
        del kept[_STATE]
    if _LOADED in kept:
        del kept[_LOADED]


def forget(instance: Any) -> None:
    kept = vars(instance._state)
    kept.pop(_STATE, None)
    kept.pop(_LOADED, None)
    kept.pop(_SAVED, None)


def misfit(meta: Any, values: Mapping[str, Any], pk: Any) -> str | None:
    """Why ``values`` (a cache entry) is no row ``pk`` of the model of ``meta``; None if it is.

    It must hold every concrete field by attname and no other (``from_db``
    takes a full row by position), and the key's primary key.
    """
    names = attnames(meta)
    if len(values) != len(names) or not all(n in values for n in names):
        missing = [n for n in names if n not in values]
        unknown = sorted(str(n) for n in values if n not in names)
        return f"fields missing: {missing}, unknown: {unknown}"
    try:
        found = meta.pk.to_python(values[meta.pk.attname])
    except (ValidationError, TypeError, ValueError):
        found = values[meta.pk.attname]
    if found != pk:
        return f"its primary key is {found!r}, not the key's {pk!r}"
    return None


def attnames(meta: Any) -> tuple[str, ...]:
    """The concrete fields' attnames, kept on ``_meta`` with the fields tuple they were read from.

    ``concrete_fields`` is Django's cached tuple, renewed when a field is added,
    so an added field is seen.
    """
    fields = meta.concrete_fields
    cached = vars(meta).get(_ATTNAMES)
    if cached is None or cached[0] is not fields:
        cached = (fields, tuple(f.attname for f in fields))
        vars(meta)[_ATTNAMES] = cached
    names: tuple[str, ...] = cached[1]
    return names


def aliases(meta: Any, name: str) -> frozenset[str]:
    """The names field ``name`` is written by: its name and attname; the key's also ``pk``."""
    from django.core.exceptions import FieldDoesNotExist

    try:
        field = meta.pk if name == "pk" else meta.get_field(name)  # attnames found too
    except FieldDoesNotExist:
        return frozenset((name,))
    names = {name, field.name, getattr(field, "attname", field.name)}
    if field is meta.pk:
        names.add("pk")
    return frozenset(names)


_ATTNAMES = "_earnorm_aop_attnames"


def loaded_state(instance: Any) -> dict[str, Any] | None:
    state = persisted(instance)
    return None if state is None else dict(state)


def values(instance: Any) -> Mapping[str, Any] | None:
    """The recorded state to read by field attname only (a save's copy as it is)."""
    store = getattr(instance, "_state", None)
    if store is None or store.adding:
        return None
    kept = vars(store)
    saved: Mapping[str, Any] | None = kept.get(_SAVED)
    if saved is not None:
        return saved
    return persisted(instance)


def loaded_values(instance: Any) -> dict[str, Any] | None:
    """What ``from_db`` loaded into ``instance`` (field attname -> value), a new dict; or None.

    The instance's persisted state is left as it is (the loaded tuple).
    """
    loaded = vars(instance._state).get(_LOADED)
    if loaded is None:
        return None
    return dict(zip(*loaded, strict=False))


def persisted(instance: Any) -> Mapping[str, Any] | None:
    """The recorded state without a copy; a load's tuple or a save's copy becomes a dict once.

    None while Django is adding the instance (``_state.adding``): a copy
    made a new row as Django documents it (``pk = None``, ``adding = True``)
    still holds its original's state, but its save is an ``INSERT``.
    """
    store = getattr(instance, "_state", None)
    if store is None or store.adding:
        return None
    kept = vars(store)
    recorded: Mapping[str, Any] | None = kept.get(_STATE)
    if recorded is not None:
        return recorded
    saved = kept.get(_SAVED)
    if saved is not None:
        state = {n: saved[n] for n in attnames(instance._meta) if n in saved}
        kept[_STATE] = state
        del kept[_SAVED]
        return state
    loaded = kept.get(_LOADED)
    if loaded is None:
        return None
    names, values = loaded
    state = kept[_STATE] = dict(zip(names, values, strict=False))
    return state


class _FromDB:
    """``Model.from_db`` that also records the values it loaded.

    Read from a class it gives a bound method of that class, as the
    ``classmethod`` it replaces does: Django 6.1 compares
    ``Model.from_db.__func__`` with its own and inspects the signature for
    ``fetch_mode``, which it passes as a keyword (and older versions do not).
    Keywords go through to the original, unless the model's own ``from_db``
    takes none (written for Django < 6.1): Django would call that one without.
    """

    def __init__(self, model: type, own: Any) -> None:
        self.model = model
        self.own = own  # the model's own from_db (a classmethod) or None
        self.function = functools.partial(_from_db, self)
        self.keywords = own is None or _takes_keywords(getattr(own, "__func__", own))

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return types.MethodType(self.function, owner if owner is not None else type(instance))

    def original(self, cls: type) -> Any:
        if self.own is not None:
            return self.own.__get__(None, cls)
        return getattr(super(self.model, cls), "from_db")  # noqa: B009


def _from_db(
    hook: _FromDB, cls: type, db: Any, field_names: Any, values: Any, **kwargs: Any
) -> Any:
    original = hook.original(cls)
    new = original(db, field_names, values, **kwargs if hook.keywords else {})
    vars(new._state)[_LOADED] = (field_names, values)
    loads.notify(cls, new)
    return new


def _takes_keywords(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: pass keywords, as Django would
        return True
    return any(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters)


class _RefreshFromDB:
    """``Model.refresh_from_db`` that also records the values it reloaded."""

    def __init__(self, model: type, own: Any) -> None:
        self.model = model
        self.own = own

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:  # Model.refresh_from_db(obj, ...)
            return functools.partial(_unbound, self, owner)
        if self.own is not None:
            original = self.own.__get__(instance, owner)
        else:
            original = getattr(super(self.model, instance), "refresh_from_db")  # noqa: B009
        return functools.partial(_refresh, instance, original)


def _unbound(hook: _RefreshFromDB, owner: Any, instance: Any, *args: Any, **kwargs: Any) -> Any:
    return hook.__get__(instance, owner)(*args, **kwargs)


def _refresh(instance: Any, original: Any, *args: Any, **kwargs: Any) -> Any:
    with loads.quiet():  # a refresh is not a query's load (its instance is the same)
        result = original(*args, **kwargs)
    # refresh_from_db(using=None, fields=None, from_queryset=None)
    fields = kwargs.get("fields", args[1] if len(args) > 1 else None)
    state = loaded_state(instance) or {}
    loaded = vars(instance)
    for field in instance._meta.concrete_fields:
        if field.attname in loaded and (
            fields is None or field.attname in fields or field.name in fields
        ):
            state[field.attname] = loaded[field.attname]
    remember(instance, state)
    return result


def install_load_hooks(model: Any) -> None:
    """Give ``model`` (and so its subclasses) the recording ``from_db`` / ``refresh_from_db``."""
    for name, hook in (("from_db", _FromDB), ("refresh_from_db", _RefreshFromDB)):
        if any(isinstance(vars(k).get(name), hook) for k in model.__mro__):
            continue
        setattr(model, name, hook(model, vars(model).get(name)))
