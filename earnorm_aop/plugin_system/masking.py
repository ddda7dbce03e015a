"""Sensitive fields: values no plugin writes down in clear.

``mask("password", "token")`` masks fields of every model; ``mask("pin",
model=Account)`` (or ``with_plugins(..., mask=["pin"])``, ``class Meta: mask =
[...]``, a Django model's ``plugin_mask = [...]``) those of one model and its
subclasses.  Plugins that record values (the audit plugin's records, log lines
and ``after_change`` payloads) pass them through
[`redact_changes`][earnorm_aop.plugin_system.masking.redact_changes] or
[`redact`][earnorm_aop.plugin_system.masking.redact], which put
[`MASK`][earnorm_aop.plugin_system.masking.MASK] in place of a set value: the record still says the
field changed, never what it was.  Trace records carry no field values at all.

A field is masked under every name it is written by, which the model's
adapter tells (``field_aliases``): a foreign key masked as ``patient`` is
masked as ``patient_id`` too, and a masked primary key under ``pk`` and its
own name.  A record of a row whose key is masked names the row by a keyed
hash of the key ([`redact_id`][earnorm_aop.plugin_system.masking.redact_id]): the same row always
gets the same name, so its records can be followed, and without the key
([`mask_key`][earnorm_aop.plugin_system.masking.mask_key], ``EARNORM_AOP_MASK_KEY``) the name does
not give the key back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..adapters.base import adapter_for

__all__ = [
    "HIDDEN_MESSAGE",
    "ID_PREFIX",
    "KEY_VARIABLE",
    "MASK",
    "mask",
    "mask_key",
    "masked_fields",
    "masks_key",
    "redact",
    "redact_changes",
    "redact_id",
    "redact_messages",
    "unmask",
]

MASK = "***"
"""What a masked value is written as."""

KEY_VARIABLE = "EARNORM_AOP_MASK_KEY"
"""The environment variable with the key of
[`redact_id`][earnorm_aop.plugin_system.masking.redact_id] when
[`mask_key`][earnorm_aop.plugin_system.masking.mask_key] set none."""

ID_PREFIX = "hmac:"
"""How a hashed row id starts, so a reader tells it from a real key."""

HIDDEN_MESSAGE = "is invalid (the message would show a masked value)"
"""A message [`redact_messages`][earnorm_aop.plugin_system.masking.redact_messages] could not clean
by replacing the value in it."""

_MIN_KEY_BYTES = 16
log = logging.getLogger(__name__)

_lock = threading.Lock()
_global: set[str] = set()
_models: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()
# The plain dict inside ``_models`` (the same object for its whole life): whether
# any model masks a field is then one C-level truth test, with no Python frame.
_by_model: dict[Any, frozenset[str]] = _models.data  # type: ignore[attr-defined]
# (masked names under every alias, whether the key is masked) by model, dropped
# whenever a mask changes (a record asks per write).
_resolved: weakref.WeakKeyDictionary[type, tuple[frozenset[str], bool]] = (
    weakref.WeakKeyDictionary()
)
_key: bytes | None = None
_NOTHING: frozenset[str] = frozenset()


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


def _resolve(model: type) -> tuple[frozenset[str], bool]:
    try:
        return _resolved[model]
    except (KeyError, TypeError):
        pass
    with _lock:
        declared = set(_global)
        for klass in getattr(model, "__mro__", (model,)):
            declared.update(_models.get(klass, ()))
    try:
        adapter = adapter_for(model)
        found = set(declared)
        for name in declared:
            found.update(adapter.field_aliases(model, name))
        key = bool(found & adapter.field_aliases(model, "pk"))
    except Exception:  # a model its ORM cannot describe yet: its names as declared, not kept
        return frozenset(declared), bool(declared & {"pk", "id"})
    result = frozenset(found), key
    # A class that cannot be weakly referenced is just not cached.
    with contextlib.suppress(TypeError):
        _resolved[model] = result
    return result


def masked_fields(model: type | None) -> frozenset[str]:
    """The fields masked on ``model`` (the global ones and those of its classes), by every name."""
    if model is None:
        return frozenset(_global)
    if not _global and not _by_model:  # nothing masked anywhere: no look-up
        return _NOTHING
    try:  # the cache, without a call: a record asks per write
        return _resolved[model][0]
    except (KeyError, TypeError):
        return _resolve(model)[0]


def masks_key(model: type) -> bool:
    """Whether ``model``'s primary key is masked (then records name rows by
    [`redact_id`][earnorm_aop.plugin_system.masking.redact_id])."""
    if not _global and not _by_model:  # nothing masked anywhere: no look-up
        return False
    try:
        return _resolved[model][1]
    except (KeyError, TypeError):
        return _resolve(model)[1]


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
    other value becomes [`MASK`][earnorm_aop.plugin_system.masking.MASK].
    """
    hidden = masked_fields(model)
    if not hidden:
        return dict(changes)
    return {
        k: ((_hide(old), _hide(new)) if k in hidden else (old, new))
        for k, (old, new) in changes.items()
    }


def redact_messages(
    model: type | None, values: Mapping[str, Any], messages: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """``messages`` (key -> texts) with the masked fields' values among ``values`` hidden.

    For messages an ORM writes about a value (Django's ``"Value 'x' is not
    a valid choice."``): each masked field's value, as text and as its repr,
    is replaced by [`MASK`][earnorm_aop.plugin_system.masking.MASK] in every message, whichever key
    it is under (a message that would still show one is
    [`HIDDEN_MESSAGE`][earnorm_aop.plugin_system.masking.HIDDEN_MESSAGE]).
    """
    hidden = masked_fields(model)
    secrets: set[str] = set()
    for name, value in values.items():
        if name in hidden and value is not None:
            secrets.update(t for t in (repr(value), str(value)) if t)
    if not secrets:
        return {k: list(v) for k, v in messages.items()}
    ordered = sorted(secrets, key=len, reverse=True)  # a repr before the text it contains

    def clean(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, MASK)
        if any(secret in text for secret in ordered):
            # A value with "*" in it can be remade by the replacement itself.
            return HIDDEN_MESSAGE
        return text

    return {k: [clean(str(m)) for m in v] for k, v in messages.items()}


def mask_key(key: str | bytes | None) -> None:
    """Set the secret [`redact_id`][earnorm_aop.plugin_system.masking.redact_id] hashes keys with
    (``None``: back to the default).

    The default is ``EARNORM_AOP_MASK_KEY`` from the environment, else a
    random key made once per process (its records cannot be matched with
    another process's: a warning says so once).  Give every process the same
    key to follow a row across them; keep it out of the audit's readers' hands.
    """
    global _key
    if key is not None:
        data = key.encode() if isinstance(key, str) else key
        if not isinstance(data, bytes) or len(data) < _MIN_KEY_BYTES:
            raise ValueError(
                f"mask_key() takes a secret of at least {_MIN_KEY_BYTES} bytes "
                f"(text or bytes), such as secrets.token_hex(32), not {key!r}"
            )
        key = data
    with _lock:
        _key = key


def _secret() -> bytes:
    global _key
    key = _key
    if key is not None:
        return key
    with _lock:
        if _key is None:
            configured = os.environ.get(KEY_VARIABLE, "")
            if len(configured.encode()) >= _MIN_KEY_BYTES:
                _key = configured.encode()
            else:
                if configured:
                    log.warning(
                        "%s holds fewer than %d bytes: ignored", KEY_VARIABLE, _MIN_KEY_BYTES
                    )
                log.warning(
                    "masked keys are hashed with a random key of this process: set %s "
                    "(or call earnorm_aop.mask_key) to follow a row's records across processes",
                    KEY_VARIABLE,
                )
                _key = os.urandom(32)
        return _key


def redact_id(model: type, pk: Any) -> Any:
    """``pk``, or, when ``model``'s primary key is masked, ``"hmac:"`` and its keyed hash.

    HMAC-SHA256 of ``str(pk)``, its first 32 hex digits (128 bits): the same
    key always gives the same name, which fits a 64-character id column.
    """
    try:  # masks_key(model), without a call: asked for every record
        masked = _resolved[model][1]
    except (KeyError, TypeError):
        masked = _resolve(model)[1]
    if pk is None or not masked:
        return pk
    digest = hmac.new(_secret(), str(pk).encode(), hashlib.sha256).hexdigest()
    return ID_PREFIX + digest[:32]
