"""Capabilities: what one plugin needs of an ORM, owned by that plugin, provided per adapter.

An adapter holds what every plugin uses: the logical operations, fields,
persisted state and transactions.  What only one plugin needs is not part of
that protocol, or it would grow with every plugin: the ``audit`` plugin's
store and the ``cache`` plugin's database aliases and entry decoding are
*capabilities*, as Django's database backend composes ``ops_class``,
``features_class``, ... rather than inheriting them all.

- The plugin owns the capability: it names it, says what the implementation
  does (its protocol) and gives the one for plain classes.
- Each integration registers its own implementation for its adapter class,
  ``provide(DjangoAdapter, "audit store", DjangoAuditStore)``, under the
  name the plugin documents, without importing the plugin (integrations sit
  above plugins in the layers and never import them).
- The plugin asks ``provided(adapter, name, plain)``: the implementation
  registered for the adapter's class or its nearest base, else ``plain`` (the
  plugin's own), made once per adapter (the factory is given the adapter).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["provide", "provided"]

# (adapter class, capability name) -> the factory an integration registered.
_factories: dict[tuple[type, str], Callable[[Any], Any]] = {}
# (adapter, capability name) -> what its factory made (adapters live as long as the process).
_made: dict[tuple[int, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


def provide(adapter_class: type, name: str, factory: Callable[[Any], Any]) -> None:
    """Register ``factory(adapter)`` as capability ``name`` of ``adapter_class``'s adapters.

    Registering again replaces the factory (what was made from the old one is
    made again on the next ask).
    """
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
        for key in [k for k, (adapter, _) in _made.items() if k[1] == name]:
            if isinstance(_made[key][0], adapter_class):
                del _made[key]


def provided(adapter: Any, name: str, plain: Callable[[Any], Any]) -> Any:
    """Capability ``name`` of ``adapter``, made once by the factory of its nearest class.

    ``plain(adapter)`` makes it when no integration provides it for the
    adapter's class (the plugin's own implementation).  After the first ask it
    is one look-up.
    """
    key = (id(adapter), name)
    found = _made.get(key)
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
        _made[key] = (adapter, made)
    return made
