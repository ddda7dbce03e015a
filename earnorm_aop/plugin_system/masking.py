"""Sensitive fields: values no plugin writes down in clear.

``mask("password", "token")`` masks fields of every model; ``mask("pin",
model=Account)`` (or ``with_plugins(..., mask=["pin"])``, ``class Meta: mask =
[...]``, a Django model's ``plugin_mask = [...]``) those of one model and its
subclasses.  Plugins that record values (the audit plugin's records, log lines
and ``after_change`` payloads) pass them through :func:`redact_changes` or
:func:`redact`, which put :data:`MASK` in place of a set value: the record
still says the field changed, never what it was.  Trace records carry no
field values at all.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "mask", "masked_fields", "redact", "redact_changes", "unmask"]

MASK = "***"
"""What a masked value is written as."""

_lock = threading.Lock()
_global: set[str] = set()
_models: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()
# masked_fields() by model, dropped whenever a mask changes (a record asks per write).
_resolved: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def _names(fields: Iterable[str]) -> set[str]:
    out = set()
    for name in fields:
        if not isinstance(name, str) or not name:
            raise TypeError(f"mask() takes field names such as 'password', not {name!r}")
        out.add(name)
    return out


def mask(*fields: str, model: type | None = None) -> None:
    """Mask ``fields`` on every model, or on ``model`` and its subclasses."""
    names = _names(fields)
    with _lock:
        if model is None:
            _global.update(names)
        else:
            _models[model] = _models.get(model, frozenset()) | names
        _resolved.clear()


def unmask(*fields: str, model: type | None = None) -> None:
    """Stop masking ``fields`` (no names: every field masked at that level)."""
    names = _names(fields)
    with _lock:
        if model is None:
            if names:
                _global.difference_update(names)
            else:
                _global.clear()
        elif model in _models:
            left = _models[model] - names if names else frozenset()
            if left:
                _models[model] = left
            else:
                del _models[model]
        _resolved.clear()


def masked_fields(model: type | None) -> frozenset[str]:
    """The fields masked on ``model``: the global ones and those of its classes."""
    if model is None:
        return frozenset(_global)
    try:
        return _resolved[model]
    except (KeyError, TypeError):
        pass
    with _lock:
        found = set(_global)
        for klass in getattr(model, "__mro__", (model,)):
            found.update(_models.get(klass, ()))
        result = frozenset(found)
        # A class that cannot be weakly referenced is just not cached.
        with contextlib.suppress(TypeError):
            _resolved[model] = result
        return result


def _hide(value: Any) -> Any:
    return None if value is None else MASK


def redact(model: type | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (field -> value) with the masked fields' values hidden."""
    hidden = masked_fields(model)
    if not hidden:
        return dict(values)
    return {k: (_hide(v) if k in hidden else v) for k, v in values.items()}


def redact_changes(
    model: type | None, changes: Mapping[str, tuple[Any, Any]]
) -> dict[str, tuple[Any, Any]]:
    """``changes`` (field -> (old, new)) with the masked fields' values hidden.

    ``None`` stays ``None`` (a field set or cleared is still told apart); any
    other value becomes :data:`MASK`.
    """
    hidden = masked_fields(model)
    if not hidden:
        return dict(changes)
    return {
        k: ((_hide(old), _hide(new)) if k in hidden else (old, new))
        for k, (old, new) in changes.items()
    }
