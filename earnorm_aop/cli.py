"""The ``earnorm-aop`` command: inspect plugins and check woven models from a shell or CI.

Commands::

    earnorm-aop list [--json] [--import MODULE ...]
    earnorm-aop info NAME [--json] [--import MODULE ...]
    earnorm-aop explain MODULE:CLASS
    earnorm-aop check MODULE:CLASS [MODULE:CLASS ...]

``list`` and ``info`` read the default registry: plugins registered explicitly
plus the entry points of ``earnorm_aop.plugins`` (so the built-ins show);
``--import`` imports modules first so that the plugins they register show too.
``explain`` and ``check`` import ``MODULE`` (the current directory is put on
``sys.path``) and look ``CLASS`` up in it (``Outer.Inner`` for a nested
class).  Models are woven when their module is imported, so an import that
raises a :class:`~earnorm_aop.PluginError` (``WeavingError``,
``PluginConfigError``, ``DependencyError``, ...) is what ``check`` reports.
When ``DJANGO_SETTINGS_MODULE`` is set and Django is installed,
``django.setup()`` is called before anything is imported.

Exit codes:

* ``0`` -- success;
* ``1`` -- a plugin failed: ``check`` (or ``explain``) met a ``PluginError``
  while importing a model, or ``list`` / ``info`` could not load a plugin;
* ``2`` -- a usage error: bad arguments, an unknown plugin name (the message
  suggests the closest ones), or a ``MODULE:CLASS`` that cannot be imported
  or found.

Error messages go to stderr; ``check`` prints its report (``ok`` and ``FAIL``
lines) on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .errors import PluginError, PluginNotFoundError
from .explanation import explain
from .plugin_registry import PluginInfo, PluginRegistry, registry
from .weaving import weaver

__all__ = ["main"]

OK, FAILED, USAGE = 0, 1, 2


class _UsageError(Exception):
    """A mistake on the command line: reported on stderr, exit code 2."""


@dataclass
class _Loaded:
    """The outcome of importing one module: the module, or the error it raised."""

    module: Any = None
    error: BaseException | None = None


# -- importing user code ---------------------------------------------------------


def _prepare_imports() -> None:
    """Make the current directory importable and set Django up when it is configured."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        try:
            import django
        except ImportError:
            return
        try:
            django.setup()
        except PluginError:
            raise  # a model's plugins failed while Django loaded the apps
        except Exception as exc:
            raise _UsageError(
                f"django.setup() failed (DJANGO_SETTINGS_MODULE="
                f"{os.environ['DJANGO_SETTINGS_MODULE']!r}): {type(exc).__name__}: {exc}"
            ) from exc


def _import(name: str, cache: dict[str, _Loaded]) -> _Loaded:
    """Import module ``name`` once per run.

    A module whose import failed is not retried: running its body again would
    meet its own half-registered plugins (``DuplicatePluginError``) instead of
    the real error.
    """
    loaded = cache.get(name)
    if loaded is None:
        try:
            loaded = _Loaded(module=importlib.import_module(name))
        except Exception as exc:
            loaded = _Loaded(error=exc)
        cache[name] = loaded
    return loaded


def _split_target(target: str) -> tuple[str, str]:
    module, sep, qualname = target.partition(":")
    if not sep or not module or not qualname:
        raise _UsageError(f"{target!r} is not MODULE:CLASS (for example 'myapp.models:Article')")
    return module, qualname


def _resolve(target: str, cache: dict[str, _Loaded]) -> type:
    """The class named by ``MODULE:CLASS``; a ``PluginError`` raised by the import propagates."""
    module_name, qualname = _split_target(target)
    loaded = _import(module_name, cache)
    if loaded.error is not None:
        if isinstance(loaded.error, PluginError):
            raise loaded.error
        err = loaded.error
        raise _UsageError(
            f"could not import module {module_name!r} (for {target!r}): {type(err).__name__}: {err}"
        )
    obj: Any = loaded.module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise _UsageError(f"module {module_name!r} has no attribute {qualname!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise _UsageError(f"{target!r} is not a class but {type(obj).__name__}")
    return obj


def _import_all(modules: Sequence[str]) -> None:
    """Import the modules given with ``--import`` (to register the plugins they define)."""
    if not modules:
        return
    _prepare_imports()
    cache: dict[str, _Loaded] = {}
    for name in modules:
        loaded = _import(name, cache)
        if isinstance(loaded.error, PluginError):
            raise loaded.error
        if loaded.error is not None:
            err = loaded.error
            raise _UsageError(f"could not import module {name!r}: {type(err).__name__}: {err}")


# -- commands ----------------------------------------------------------------------


def _info_dict(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "requires": dict(info.requires),
        "priority": info.priority,
        "enabled": info.enabled,
        "source": info.source,
        "class": f"{info.cls.__module__}.{info.cls.__qualname__}",
        "hooks": list(info.hooks),
        "config_schema": info.config_schema,
    }


def _cmd_list(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    _import_all(args.imports)
    rows: list[dict[str, Any]] = []
    code = OK
    for name in reg.names():
        try:
            info = reg.get_plugin(name)
        except PluginError as exc:  # a broken entry point must not hide the others
            print(f"error: {exc}", file=err)
            code = FAILED
            continue
        rows.append(
            {
                "name": info.name,
                "version": info.version,
                "source": info.source,
                "enabled": info.enabled,
                "hooks": len(info.hooks),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return code
    header = {"name": "NAME", "version": "VERSION", "enabled": "ENABLED", "hooks": "HOOKS"}
    table = [header] + [
        {
            "name": r["name"],
            "version": r["version"],
            "enabled": "yes" if r["enabled"] else "no",
            "hooks": str(r["hooks"]),
        }
        for r in rows
    ]
    widths = {k: max(len(t[k]) for t in table) for k in header}
    sources = ["SOURCE"] + [r["source"] for r in rows]
    for line, source in zip(table, sources, strict=True):
        cells = [f"{line[k]:<{widths[k]}}" for k in header]
        print("  ".join([*cells, source]), file=out)
    return code


def _cmd_info(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    _import_all(args.imports)
    try:
        info = reg.get_plugin(args.name)
    except PluginNotFoundError as exc:
        raise _UsageError(str(exc)) from exc
    data = _info_dict(info)
    if args.json:
        print(json.dumps(data, indent=2), file=out)
        return OK
    requires = ", ".join(f"{n}{spec}" for n, spec in info.requires.items()) or "(none)"
    for label, value in [
        ("name", info.name),
        ("version", info.version),
        ("description", info.description or "(none)"),
        ("requires", requires),
        ("priority", info.priority),
        ("enabled", "yes" if info.enabled else "no"),
        ("source", info.source),
        ("class", data["class"]),
    ]:
        print(f"{label + ':':<13}{value}", file=out)
    print("hooks:", file=out)
    for h in info.hooks:
        print(f"  {h}", file=out)
    print("config schema:", file=out)
    print(json.dumps(info.config_schema, indent=2), file=out)
    return OK


def _cmd_explain(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    _split_target(args.target)  # a malformed target is reported before importing anything
    _prepare_imports()
    try:
        model = _resolve(args.target, {})
    except PluginError as exc:
        print(f"{args.target}: {type(exc).__name__}: {exc}", file=err)
        return FAILED
    print(explain(model), file=out)
    return OK


def _cmd_check(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    for target in args.targets:
        _split_target(target)
    try:
        _prepare_imports()
    except PluginError as exc:
        print(f"FAIL  django.setup(): {type(exc).__name__}: {exc}", file=out)
        return FAILED
    cache: dict[str, _Loaded] = {}
    code = OK
    for target in args.targets:
        try:
            model = _resolve(target, cache)
        except PluginError as exc:
            print(f"FAIL  {target}: {type(exc).__name__}: {exc}", file=out)
            code = max(code, FAILED)
            continue
        except _UsageError as exc:
            print(f"error: {exc}", file=err)
            code = USAGE
            continue
        aspects = weaver.effective_aspects(model)
        woven = ", ".join(a.name + ("" if a.switch.enabled else " (disabled)") for a in aspects)
        print(f"ok    {target}: {woven or '(no plugins)'}", file=out)
    return code


# -- entry point -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="earnorm-aop",
        description="Inspect earnorm_aop plugins and the models they are woven onto.",
        epilog="Exit codes: 0 ok, 1 a plugin failed, 2 usage error (bad name or path).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imports = argparse.ArgumentParser(add_help=False)
    imports.add_argument(
        "-i",
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so that the plugins it registers are known (repeatable)",
    )

    p = sub.add_parser("list", parents=[imports], help="every known plugin")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("info", parents=[imports], help="one plugin: hooks, requires, config")
    p.add_argument("name", help="the plugin's name, e.g. 'cache'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("explain", help="what runs when a model's methods are called")
    p.add_argument("target", metavar="MODULE:CLASS")
    p.set_defaults(run=_cmd_explain)

    p = sub.add_parser("check", help="import models and report their plugins (exit 1 on failure)")
    p.add_argument("targets", nargs="+", metavar="MODULE:CLASS")
    p.set_defaults(run=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None, *, reg: PluginRegistry | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``reg`` is the registry ``list`` and ``info`` read (the default one unless given).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad arguments (2)
        return exc.code if isinstance(exc.code, int) else USAGE
    run: Any = args.run
    try:
        code: int = run(args, reg if reg is not None else registry, sys.stdout, sys.stderr)
    except _UsageError as exc:
        print(f"earnorm-aop: error: {exc}", file=sys.stderr)
        return USAGE
    except PluginError as exc:
        print(f"earnorm-aop: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
