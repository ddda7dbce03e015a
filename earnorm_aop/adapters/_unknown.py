"""``UNKNOWN``: the value of a field an adapter did not load.

Its own module so that the adapter protocol (``base``) and change tracking
(``tracking``, which reads adapters) both use it without importing each other.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UNKNOWN"]


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
"""The value of a field the adapter did not load (deferred): never compared, never guessed."""
