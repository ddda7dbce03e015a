"""Plugin dependencies: ``requires=["timestamp"]`` or ``{"timestamp": ">=1.0"}``.

Resolved when a model names its plugins: every requirement must be known
and of a matching version, the requirements must not form a cycle, and a
requirement the model does not list is added (with its default
configuration) before the plugin that needs it.  Version specifiers are read
with ``packaging``, the library pip itself uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..errors import DependencyError, PluginNotFoundError

__all__ = ["parse_specifier", "resolve_requirements"]


class Requiring(Protocol):
    """What resolution reads of a plugin's spec (``spec.PluginSpec`` has both)."""

    @property
    def version(self) -> str: ...
    @property
    def requires(self) -> Mapping[str, str]: ...


def parse_specifier(owner: str, dependency: str, text: str) -> Any:
    """Parse a version specifier such as ``>=1.0,<2``; raise
    [`DependencyError`][earnorm_aop.errors.DependencyError] if bad."""
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError as exc:  # pragma: no cover - packaging ships with the 'versions' extra
        raise DependencyError(
            f"{owner} pins {dependency!r} to {text!r}: version pins need the 'packaging' "
            "library (pip install 'earnorm-aop[versions]')"
        ) from exc
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise DependencyError(
            f"{owner} requires {dependency!r} with an invalid version specifier {text!r}; "
            "write something like '>=1.0' or '>=1.0,<2'"
        ) from None


def resolve_requirements(
    requested: Iterable[str], lookup: Callable[[str], Requiring], model: str
) -> list[str]:
    """The requested names plus their requirements, each requirement before its dependants.

    ``lookup(name)`` returns a plugin's spec or raises
    [`PluginNotFoundError`][earnorm_aop.errors.PluginNotFoundError].  Raises
    [`DependencyError`][earnorm_aop.errors.DependencyError] naming the chain for a missing or
    mismatched requirement or a cycle.
    """
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise DependencyError(f"plugins on {model} require each other in a cycle: {cycle}")
        spec = lookup(name)
        for dep, pin in spec.requires.items():
            chain = " -> ".join((*path, name, dep))
            try:
                dep_spec = lookup(dep)
            except PluginNotFoundError as exc:
                raise DependencyError(
                    f"plugin {name!r} on {model} requires {dep!r}, which is not registered "
                    f"(chain: {chain}). Known plugins: {', '.join(exc.known) or '(none)'}"
                ) from None
            if pin:
                wanted = parse_specifier(f"plugin {name!r}", dep, pin)
                if not wanted.contains(dep_spec.version, prereleases=True):
                    raise DependencyError(
                        f"plugin {name!r} on {model} requires {dep!r} {pin}, but version "
                        f"{dep_spec.version} is registered (chain: {chain})"
                    )
            visit(dep, (*path, name))
        done.add(name)
        order.append(name)

    for name in requested:
        visit(name, ())
    return order
