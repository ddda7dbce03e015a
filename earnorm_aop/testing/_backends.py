"""Backends by name: which exist, which can run here (and why not), and opening one.

A backend is named on the command line (``--earnorm-backends``), so each name
maps to a factory importing its ORM only when opened: listing or selecting
backends imports no ORM, and a missing ORM is a reason to skip, found with
``importlib.util.find_spec`` before anything is imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ._base import Backend

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "open_backend",
    "parse_backends",
    "unavailable_reason",
]

BACKENDS = ("memory", "pydantic", "django", "sqlalchemy", "sqlalchemy-async", "earnorm")
"""Every backend the kit knows, in the order checks run on them."""

_ALIASES = {"plain": "memory"}

# What each backend imports, and how to install it.
_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "memory": (),
    "pydantic": (),
    "django": (("django", "pip install 'earnorm-aop[django]'"),),
    "sqlalchemy": (("sqlalchemy", "pip install 'earnorm-aop[sqlalchemy]'"),),
    "sqlalchemy-async": (
        ("sqlalchemy", "pip install 'earnorm-aop[sqlalchemy]'"),
        ("greenlet", "pip install 'earnorm-aop[sqlalchemy]'"),
        ("aiosqlite", "pip install aiosqlite"),
    ),
    "earnorm": (
        ("earnorm", "pip install 'earnorm-aop[earnorm]' on Python 3.12+"),
        ("mongomock_motor", "pip install 'earnorm-aop[earnorm]' on Python 3.12+"),
    ),
}


class BackendUnavailable(Exception):
    """A backend cannot run here; the message says why and what to install."""


def parse_backends(spec: str | Sequence[str] | None) -> list[str]:
    """Backend names from ``"all"`` or ``"memory,django"`` (or a list); a bad name is an error."""
    if spec is None:
        return list(BACKENDS)
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        if part == "all":
            names += [n for n in BACKENDS if n not in names]
            continue
        name = _ALIASES.get(part, part)
        if name not in BACKENDS:
            raise ValueError(
                f"unknown earnorm-aop backend {part!r}; known backends: "
                f"{', '.join(BACKENDS)} (or all)"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"no backend named in {spec!r}; known backends: {', '.join(BACKENDS)}")
    return names


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or ``None`` when it can."""
    if name == "earnorm" and sys.version_info < (3, 12):
        return (
            f"backend 'earnorm': EarnORM needs Python 3.12+, this is "
            f"{sys.version_info.major}.{sys.version_info.minor}"
        )
    needs = list(_NEEDS[name])
    if name == "sqlalchemy-async" and _database() == "postgres":
        needs = [n for n in needs if n[0] != "aiosqlite"]
    for module, install in needs:
        if importlib.util.find_spec(module) is None:
            return f"backend {name!r}: {module} is not installed ({install})"
    return None


def _database() -> str:
    return os.environ.get("EARNORM_AOP_TEST_DB", "sqlite").strip().lower() or "sqlite"


def _memory() -> Backend:
    from ._memory import MemoryBackend

    return MemoryBackend("memory")


def _pydantic() -> Backend:
    from ._memory import MemoryBackend

    return MemoryBackend("pydantic")


def _django() -> Backend:
    from ._django import DjangoBackend

    return DjangoBackend()


def _sqlalchemy() -> Backend:
    from ._sqlalchemy import SQLAlchemyBackend

    return SQLAlchemyBackend(asynchronous=False)


def _sqlalchemy_async() -> Backend:
    from ._sqlalchemy import SQLAlchemyBackend

    return SQLAlchemyBackend(asynchronous=True)


def _earnorm() -> Backend:
    from ._earnorm import EarnORMBackend

    return EarnORMBackend()


_FACTORIES: dict[str, Callable[[], Backend]] = {
    "memory": _memory,
    "pydantic": _pydantic,
    "django": _django,
    "sqlalchemy": _sqlalchemy,
    "sqlalchemy-async": _sqlalchemy_async,
    "earnorm": _earnorm,
}


def make_backend(name: str) -> Backend:
    """A new backend ``name`` (close it when done);
    [`BackendUnavailable`][earnorm_aop.testing._backends.BackendUnavailable] if it cannot run."""
    (name,) = parse_backends([name])
    reason = unavailable_reason(name)
    if reason is not None:
        raise BackendUnavailable(reason)
    return _FACTORIES[name]()


@contextmanager
def open_backend(name: str) -> Iterator[Backend]:
    """``with open_backend("django") as backend:`` a backend, closed at the end of the block."""
    backend = make_backend(name)
    try:
        yield backend
    finally:
        backend.close()
