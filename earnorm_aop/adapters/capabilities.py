"""Capabilities: what one plugin needs of an ORM, owned by that plugin, provided per adapter.

An adapter holds what every plugin uses: the logical operations, fields,
persisted state and transactions.  What only one plugin needs is not part of
that protocol, or it would grow with every plugin: the ``audit`` plugin's
store and the ``cache`` plugin's database aliases and entry decoding are
*capabilities*, as Django's database backend composes ``ops_class``,
``features_class``, ... rather than inheriting them all.

- The plugin owns the capability: it says what the implementation does (its
  protocol) and gives the one for plain classes.  Its key, a
  [`Capability`][earnorm_aop.adapters.capabilities.Capability] carrying the name and the
  protocol's type, is declared below the plugins
  ([`earnorm_aop.adapters.capability_keys`][earnorm_aop.adapters.capability_keys]), so an
  integration names it without importing the plugin (integrations sit above plugins in the
  layers and never import them) and mypy checks the integration's class against the protocol.
- Each integration registers its own implementation for its adapter class,
  ``provide(DjangoAdapter, AUDIT_STORE, DjangoAuditStore)``.
- The plugin asks ``provided(adapter, AUDIT_STORE, plain)``: the implementation
  registered for the adapter's class or its nearest base, else ``plain`` (the
  plugin's own), made once per adapter (the factory is given the adapter).

A plain string names a capability too (``provide(MyAdapter, "audit store", ...)``, as before
the keys): the same capability, unchecked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["Capability", "provide", "provided"]

T = TypeVar("T")


class Capability(Generic[T]):
    """The key of a capability: its name, and the protocol ``T`` its implementations follow.

    ``AUDIT_STORE: Capability[AuditStore] = Capability("audit store", AuditStore)``: given to
    [`provide`][earnorm_aop.adapters.capabilities.provide], mypy checks the factory makes a
    ``T``; [`provided`][earnorm_aop.adapters.capabilities.provided] returns a ``T``.
    """

    __slots__ = ("name", "protocol")

    def __init__(self, name: str, protocol: object = None) -> None:
        self.name = name
        self.protocol = protocol

    def __repr__(self) -> str:
        return f"Capability({self.name!r})"


# (adapter class, capability name) -> the factory an integration registered.
_factories: dict[tuple[type, str], Callable[[Any], Any]] = {}
# (adapter, capability name) -> what its factory made (adapters live as long as the process).
_made: dict[tuple[int, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


@overload
def provide(adapter_class: type, key: Capability[T], factory: Callable[[Any], T]) -> None: ...
@overload
def provide(adapter_class: type, key: str, factory: Callable[[Any], Any]) -> None: ...
def provide(adapter_class: type, key: Capability[Any] | str, factory: Callable[[Any], Any]) -> None:
    """Register ``factory(adapter)`` as capability ``key`` of ``adapter_class``'s adapters.

    Registering again replaces the factory (what was made from the old one is
    made again on the next ask).
    """
    name = key.name if isinstance(key, Capability) else key
    if not isinstance(adapter_class, type):
        raise TypeError(
            f"provide() registers a capability for an adapter class, not {adapter_class!r}"
        )
    if not callable(factory):
        raise TypeError(
            f"capability {name!r} of {adapter_class.__qualname__}: the factory must be a "
            f"callable taking the adapter (a class whose __init__ takes it), not {factory!r}"
        )
    with _lock:
        _factories[adapter_class, name] = factory
        for stale in [k for k, (adapter, _) in _made.items() if k[1] == name]:
            if isinstance(_made[stale][0], adapter_class):
                del _made[stale]


@overload
def provided(adapter: Any, key: Capability[T], plain: Callable[[Any], T]) -> T: ...
@overload
def provided(adapter: Any, key: str, plain: Callable[[Any], Any]) -> Any: ...
def provided(adapter: Any, key: Capability[Any] | str, plain: Callable[[Any], Any]) -> Any:
    """Capability ``key`` of ``adapter``, made once by the factory of its nearest class.

    ``plain(adapter)`` makes it when no integration provides it for the
    adapter's class (the plugin's own implementation).  After the first ask it
    is one look-up.
    """
    name = key.name if isinstance(key, Capability) else key
    made_key = (id(adapter), name)
    found = _made.get(made_key)
    if found is not None and found[0] is adapter:
        return found[1]
    for klass in type(adapter).__mro__:
        factory = _factories.get((klass, name))
        if factory is not None:
            made = factory(adapter)
            break
    else:
        made = plain(adapter)
    with _lock:
        _made[made_key] = (adapter, made)
    return made
