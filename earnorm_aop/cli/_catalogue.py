"""``plugins`` and ``plugins check``: the installed plugin distributions and whether they fit.

pip stays the package manager: a plugin distribution is any installed
distribution advertising entry points in ``earnorm_aop.plugins``, read with
``importlib.metadata``.  For each one the catalogue tells the range of
earnorm-aop its ``Requires-Dist`` asks for and whether the installed
earnorm-aop is in it (read with ``packaging``, as pip reads it), and for each
plugin its version, dependencies, hooks and configuration schema.  Entry
points are loaded one by one, straight from their distribution, not through
a registry: a registry keeps one class per name, and ``check`` must see two
distributions claiming the same name.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..plugin_system.config import json_schema
from ..plugin_system.registry import GROUP, PluginRegistry
from ..plugin_system.spec import PluginSpec, read_spec
from ..weaving import metering
from ._outcome import FAILED, OK
from ._text import print_table

PROJECT = "earnorm-aop"


@dataclass
class CataloguedPlugin:
    """One entry point of a plugin distribution, loaded (or the error loading it raised)."""

    name: str
    target: str  # the entry point's value, "package.module:Class"
    spec: PluginSpec | None = None
    error: str | None = None


@dataclass
class CataloguedDistribution:
    """An installed distribution with plugins: what it needs of earnorm-aop and its plugins."""

    name: str
    version: str
    needs: str | None  # the specifier on earnorm-aop in its Requires-Dist ("" = any version)
    fits: bool | None  # None: packaging is not installed, or it is earnorm-aop itself
    plugins: list[CataloguedPlugin] = field(default_factory=list)


def installed_version() -> str:
    try:
        return importlib.metadata.version(PROJECT)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "0+unknown"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _needs(dist: importlib.metadata.Distribution) -> str | None:
    """The specifier on earnorm-aop in ``dist``'s requirements (outside extras), if any."""
    for text in dist.requires or ():
        try:
            from packaging.requirements import Requirement
        except ImportError:  # pragma: no cover - packaging comes with pip's own environments
            found = _needs_without_packaging(text)
        else:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            found = str(requirement.specifier) if _canonical(requirement.name) == PROJECT else None
        if found is not None:
            return found
    return None


def _needs_without_packaging(text: str) -> str | None:
    """The specifier of a ``Requires-Dist`` line on earnorm-aop, read by hand."""
    requirement, _, marker = text.partition(";")
    if "extra" in marker:
        return None
    name = requirement
    for stop in "<>=!~ ([":
        name = name.split(stop, 1)[0]
    if _canonical(name.strip()) != PROJECT:
        return None
    rest = requirement[len(name) :].strip()
    if rest.startswith("["):  # extras: earnorm-aop[django]>=0.1
        rest = rest[rest.index("]") + 1 :].strip()
    return rest.strip("()").replace(" ", "")


def _fits(needs: str | None, version: str) -> bool | None:
    if needs is None or needs == "":
        return True
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:  # pragma: no cover - packaging comes with pip's own environments
        return None
    try:
        return SpecifierSet(needs).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def _load(entry_point: importlib.metadata.EntryPoint) -> CataloguedPlugin:
    found = CataloguedPlugin(entry_point.name, entry_point.value)
    try:
        found.spec = read_spec(entry_point.load(), entry_point.name)
    except Exception as exc:  # a broken plugin must not hide the others
        found.error = f"{type(exc).__name__}: {exc}"
    return found


def read_catalogue(group: str = GROUP) -> list[CataloguedDistribution]:
    """Every installed distribution with entry points in ``group``, by name."""
    version = installed_version()
    found: dict[str, CataloguedDistribution] = {}
    for dist in importlib.metadata.distributions():
        points = [ep for ep in dist.entry_points if ep.group == group]
        name = dist.metadata["Name"] or "?"
        if not points or _canonical(name) in found:  # a second copy further down sys.path
            continue
        own = _canonical(name) == PROJECT
        needs = None if own else _needs(dist)
        entry = CataloguedDistribution(
            name, dist.version, needs, True if own else _fits(needs, version)
        )
        entry.plugins = [_load(ep) for ep in sorted(points, key=lambda ep: ep.name)]
        found[_canonical(name)] = entry
    return [found[key] for key in sorted(found)]


def _plugin_dict(plugin: CataloguedPlugin, reg: PluginRegistry) -> dict[str, Any]:
    out: dict[str, Any] = {"name": plugin.name, "entry_point": plugin.target}
    spec = plugin.spec
    if spec is None:
        out["error"] = plugin.error
        return out
    out.update(
        version=spec.version,
        requires=dict(spec.requires),
        hooks=list(spec.hook_names),
        config_schema=json_schema(spec.config),
        config_version=spec.config_version,
    )
    if metering.active() and plugin.name in reg:
        out["metrics"] = reg.metrics(plugin.name)
    return out


def catalogue_dicts(
    catalogue: Iterable[CataloguedDistribution], reg: PluginRegistry
) -> list[dict[str, Any]]:
    return [
        {
            "distribution": d.name,
            "version": d.version,
            "requires_earnorm_aop": d.needs,
            "fits": d.fits,
            "plugins": [_plugin_dict(p, reg) for p in d.plugins],
        }
        for d in catalogue
    ]


# -- check ---------------------------------------------------------------------------------


def problems(catalogue: list[CataloguedDistribution], reg: PluginRegistry) -> list[str]:
    """What makes the installed plugins unusable together, one sentence each."""
    version = installed_version()
    found: list[str] = []
    claims: dict[str, list[str]] = {}
    specs: dict[str, PluginSpec] = {}
    for dist in catalogue:
        where = f"{dist.name} {dist.version}"
        if dist.fits is False:
            found.append(
                f"{where} needs {PROJECT}{dist.needs}, but {PROJECT} {version} is installed; "
                f"upgrade one of them (pip install '{dist.name}' '{PROJECT}{dist.needs}')"
            )
        for plugin in dist.plugins:
            claims.setdefault(plugin.name, []).append(where)
            if plugin.spec is None:
                found.append(f"plugin {plugin.name!r} of {where} does not load: {plugin.error}")
            else:
                specs.setdefault(plugin.name, plugin.spec)
    for name, owners in sorted(claims.items()):
        if len(owners) > 1:
            found.append(
                f"plugin name {name!r} is claimed by {len(owners)} distributions: "
                f"{', '.join(owners)}; uninstall one (only one is used)"
            )
    known = set(specs) | set(reg.names())
    for name, spec in sorted(specs.items()):
        for dependency, pin in spec.requires.items():
            if dependency not in known:
                found.append(
                    f"plugin {name!r} requires {dependency!r}, which is not installed"
                    + _closest(dependency, known)
                )
                continue
            other = specs.get(dependency)
            if pin and other is not None and _fits(pin, other.version) is False:
                found.append(
                    f"plugin {name!r} requires {dependency}{pin}, but {dependency} "
                    f"{other.version} is installed"
                )
    found += _cycles({n: [d for d in s.requires if d in specs] for n, s in specs.items()})
    return found


def _closest(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=3)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def _cycles(graph: dict[str, list[str]]) -> list[str]:
    """One sentence per dependency cycle among the installed plugins."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    return [f"plugins require each other in a cycle: {' -> '.join(c)}" for c in cycles]


# -- the commands ---------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    catalogue = read_catalogue()
    if args.action == "check":
        found = problems(catalogue, reg)
        if args.json:
            print(json.dumps({"ok": not found, "problems": found}, indent=2), file=out)
        else:
            for line in found:
                print(f"FAIL {line}", file=out)
            plugins = sum(len(d.plugins) for d in catalogue)
            print(
                f"{'ok' if not found else 'FAILED'}: {len(catalogue)} distribution(s), "
                f"{plugins} plugin(s), {len(found)} problem(s)",
                file=out,
            )
        return FAILED if found else OK
    if args.json:
        print(json.dumps(catalogue_dicts(catalogue, reg), indent=2, default=str), file=out)
        return OK
    rows = [
        ["DISTRIBUTION", "VERSION", "EARNORM-AOP", "FITS", "PLUGIN", "PLUGIN-VERSION", "REQUIRES"]
    ]
    for dist in catalogue:
        fits = {True: "yes", False: "NO", None: "?"}[dist.fits]
        needs = "(this)" if _canonical(dist.name) == PROJECT else (dist.needs or "any")
        for plugin in dist.plugins:
            spec = plugin.spec
            requires = (
                ", ".join(f"{n}{p}" for n, p in spec.requires.items()) if spec else ""
            ) or "-"
            rows.append(
                [
                    dist.name,
                    dist.version,
                    needs,
                    fits,
                    plugin.name,
                    spec.version if spec else f"error: {plugin.error}",
                    requires,
                ]
            )
    print_table(rows, out)
    print(
        f"(earnorm-aop {installed_version()}; --json adds hooks and configuration schemas; "
        "earnorm-aop plugins check exits 1 on a problem)",
        file=out,
    )
    return OK
