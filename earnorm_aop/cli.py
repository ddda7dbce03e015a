"""The ``earnorm-aop`` command: inspect plugins and check woven models from a shell or CI.

Commands (each takes ``--json``; ``earnorm-aop --version`` prints the version)::

    earnorm-aop list [--json] [--import MODULE ...]
    earnorm-aop info NAME [--json] [--import MODULE ...]
    earnorm-aop explain MODULE:CLASS [--json]
    earnorm-aop check [MODULE:CLASS ...] [--json]
    earnorm-aop switch [NAME [on|off]] --redis URL [--namespace NS] [--json]

``list`` and ``info`` read the default registry: plugins registered explicitly
plus the entry points of ``earnorm_aop.plugins`` (so the built-ins show);
``--import`` imports modules first so that the plugins they register show too.
``info`` prints the options as a table (name, type, default, description);
with ``--json`` it prints the full JSON Schema.

``explain`` and ``check`` import ``MODULE`` (the current directory is put on
``sys.path``) and look ``CLASS`` up in it (``Outer.Inner`` for a nested
class).  Models are woven when their module is imported, so an import that
raises a :class:`~earnorm_aop.PluginError` (``WeavingError``,
``PluginConfigError``, ``DependencyError``, ...) is what ``check`` reports.
When ``DJANGO_SETTINGS_MODULE`` is set and Django is installed,
``django.setup()`` is called before anything is imported, and ``check`` also
checks every model of the project that declares ``plugins = [...]``: it
fails for one that is not woven, or whose project lacks
``earnorm_aop.integrations.django`` in ``INSTALLED_APPS`` (the system check
``earnorm_aop.E001``), even when nothing in the project imports earnorm_aop.

``switch`` reads and flips the switches processes share through a
:class:`~earnorm_aop.RedisSwitchboard` (``registry.share(...)``): without a
name it lists every shared state of the namespace; with a name, that one;
with ``on`` or ``off`` it writes the new state, which every sharing process
applies within its board's ``interval``.  The name must be a known plugin
(``--import`` modules that register yours) or one already shared.

Exit codes:

* ``0`` -- success;
* ``1`` -- a plugin failed: ``check`` (or ``explain``) met a ``PluginError``
  while importing a model, or a Django model's plugins are not woven, or
  ``list`` / ``info`` could not load a plugin, or ``switch`` could not
  reach Redis;
* ``2`` -- a usage error: bad arguments, an unknown plugin name (the message
  suggests the closest ones), or a ``MODULE:CLASS`` that cannot be imported
  or found.

Error messages go to stderr; ``check`` prints its report (``ok`` and ``FAIL``
lines, or JSON) on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .config import config_model
from .errors import PluginError, PluginNotFoundError
from .explanation import explain
from .plugin_registry import PluginInfo, PluginRegistry, registry
from .weaving import weaver
from .weaving.pointcut import split_event

__all__ = ["main"]

OK, FAILED, USAGE = 0, 1, 2


class _UsageError(Exception):
    """A mistake on the command line: reported on stderr, exit code 2."""


@dataclass
class _Loaded:
    """The outcome of importing one module: the module, or the error it raised."""

    module: Any = None
    error: BaseException | None = None


# -- text ---------------------------------------------------------------------------

_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")
_DEFAULT_ROLE = re.compile(r"`([^`]*)`")


def _role_text(match: re.Match[str]) -> str:
    text = match.group(1)
    explicit = re.fullmatch(r"(.*?)\s*<[^>]*>", text, re.S)
    if explicit:  # :ref:`the title <target>` -> the title
        return explicit.group(1)
    if text.startswith("~"):  # :class:`~pkg.mod.Name` -> Name
        return text[1:].rsplit(".", 1)[-1]
    return text


def _plain(text: str) -> str:
    """``text`` (a docstring) without reST markup: ``x`` -> x, :class:`~a.B` -> B."""
    text = _ROLE.sub(_role_text, text)
    text = _LITERAL.sub(r"\1", text)
    return _DEFAULT_ROLE.sub(r"\1", text)


# -- importing user code ---------------------------------------------------------


def _django_configured() -> bool:
    return bool(os.environ.get("DJANGO_SETTINGS_MODULE"))


def _prepare_imports() -> None:
    """Make the current directory importable and set Django up when it is configured."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if _django_configured():
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
        "description": _plain(info.description) if info.description else None,
        "requires": dict(info.requires),
        "priority": info.priority,
        "enabled": info.enabled,
        "source": info.source,
        "class": f"{info.cls.__module__}.{info.cls.__qualname__}",
        "hooks": list(info.hooks),
        "config_schema": info.config_schema,
    }


def _table(rows: Sequence[Sequence[str]], out: TextIO, *, wrap_last: int = 0) -> None:
    """Rows in columns; the last column is wrapped to ``wrap_last`` characters if given."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    indent = sum(widths) + 2 * len(widths)
    for row in rows:
        cells = [f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)]
        last = row[-1]
        lines = textwrap.wrap(last, wrap_last) if wrap_last and last else [last]
        print("  ".join([*cells, lines[0]]).rstrip(), file=out)
        for more in lines[1:]:
            print(" " * indent + more, file=out)


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
    table = [["NAME", "VERSION", "ENABLED", "HOOKS", "SOURCE"]] + [
        [r["name"], r["version"], "yes" if r["enabled"] else "no", str(r["hooks"]), r["source"]]
        for r in rows
    ]
    _table(table, out)
    return code


_JSON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
    "object": "dict",
}


def _schema_type(prop: dict[str, Any]) -> str:
    """A short, Python-like name for the type a JSON Schema property accepts."""
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " | ".join(dict.fromkeys(_schema_type(p) for p in prop[key]))
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    kind = prop.get("type")
    if kind == "array":
        return f"list[{_schema_type(prop.get('items') or {})}]"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"dict[str, {_schema_type(prop['additionalProperties'])}]"
    described = str(prop.get("description", ""))
    if kind == "string" and "dotted import path" in described:  # a callable or class option
        return f"{'class' if 'package.Class' in described else 'callable'} | dotted path"
    if isinstance(kind, str):
        return _JSON_TYPES.get(kind, kind)
    return "any"


def _options(info: PluginInfo) -> list[list[str]]:
    """One row per option: name, type, default, description (without reST)."""
    schema = info.config_schema
    required = set(schema.get("required", ()))
    try:
        fields = config_model(info.cls).model_fields
    except Exception:  # the schema alone still gives name, type and description
        fields = {}
    rows = []
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop:
            default = repr(prop["default"])
        elif name in required:
            default = "(required)"
        elif name in fields:  # a default_factory: JSON Schema leaves it out
            default = repr(fields[name].get_default(call_default_factory=True))
        else:
            default = "-"
        description = _plain(str(prop.get("description", "")))
        rows.append([name, _schema_type(prop), default, description])
    return rows


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
        ("description", data["description"] or "(none)"),
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
    options = _options(info)
    if not options:
        print("options: (none)", file=out)
        return OK
    print("options:", file=out)
    rows = [["  OPTION", "TYPE", "DEFAULT", "DESCRIPTION"]]
    rows += [[f"  {name}", *rest] for name, *rest in options]
    _table(rows, out, wrap_last=60)
    print("(earnorm-aop info --json prints the full JSON Schema)", file=out)
    return OK


def _explain_dict(model: type) -> dict[str, Any]:
    """What :func:`~earnorm_aop.explain` prints, as data: plugins, chains, events."""
    aspects = weaver.effective_aspects(model)
    chains = weaver.describe(model) if aspects else []
    names = {c.method for c in chains}
    events: dict[str, list[str]] = {}
    for aspect in aspects:
        for spec in aspect.advices:
            target = spec.target
            if not isinstance(target, str):
                continue
            split = split_event(target)
            if split is not None and split[1] in names:
                continue
            if not any(a.spec is spec for c in chains for a in c.advice):
                events.setdefault(target, []).append(f"{aspect.name}.{spec.name}")
    return {
        "model": f"{model.__module__}.{model.__qualname__}",
        "plugins": [{"name": a.name, "enabled": a.switch.enabled} for a in aspects],
        "methods": [
            {
                "method": chain.method,
                "installed": chain.installed,
                "advice": [
                    {
                        "kind": advice.kind.value,
                        "advice": advice.label,
                        "enabled": advice.aspect.switch.enabled,
                    }
                    for advice in chain.advice
                ],
            }
            for chain in chains
        ],
        "events": events,
    }


def _cmd_explain(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    _split_target(args.target)  # a malformed target is reported before importing anything
    _prepare_imports()
    try:
        model = _resolve(args.target, {})
    except PluginError as exc:
        print(f"{args.target}: {type(exc).__name__}: {exc}", file=err)
        return FAILED
    if args.json:
        print(json.dumps(_explain_dict(model), indent=2), file=out)
    else:
        print(explain(model), file=out)
    return OK


def _woven(model: type) -> list[str]:
    return [
        a.name + ("" if a.switch.enabled else " (disabled)")
        for a in weaver.effective_aspects(model)
    ]


def _check_targets(targets: Sequence[str], results: list[dict[str, Any]], err: TextIO) -> int:
    cache: dict[str, _Loaded] = {}
    code = OK
    for target in targets:
        try:
            model = _resolve(target, cache)
        except PluginError as exc:
            results.append(_failure(target, type(exc).__name__, str(exc)))
            code = max(code, FAILED)
            continue
        except _UsageError as exc:
            print(f"error: {exc}", file=err)
            code = USAGE
            continue
        results.append({"target": target, "ok": True, "plugins": _woven(model)})
    return code


def _check_django(results: list[dict[str, Any]]) -> int:
    """Every Django model that declares ``plugins``: woven, with the app installed (E001/E002)."""
    if not _django_configured() or "django" not in sys.modules:
        return OK
    from django.apps import apps

    if not apps.ready:
        return OK
    from .integrations.django import checks

    code = OK
    for found in checks.declarations():
        problem = checks.problem(found)
        if problem is None:
            results.append({"target": found.label, "ok": True, "plugins": _woven(found.model)})
            continue
        results.append(_failure(found.label, str(problem.id), problem.msg, problem.hint))
        code = FAILED
    return code


def _failure(target: str, kind: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"target": target, "ok": False, "error": kind, "message": message, "hint": hint}


def _cmd_check(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    if not args.targets and not _django_configured():
        raise _UsageError(
            "check needs MODULE:CLASS targets, or DJANGO_SETTINGS_MODULE to check the "
            "models of a Django project"
        )
    for target in args.targets:
        _split_target(target)
    results: list[dict[str, Any]] = []
    try:
        _prepare_imports()
    except PluginError as exc:
        results.append(_failure("django.setup()", type(exc).__name__, str(exc)))
        code = FAILED
    else:
        code = _check_targets(args.targets, results, err)
        code = max(code, _check_django(results)) if code != USAGE else code
    if args.json:
        print(json.dumps(results, indent=2), file=out)
        return code
    for r in results:
        if r["ok"]:
            print(f"ok    {r['target']}: {', '.join(r['plugins']) or '(no plugins)'}", file=out)
        else:
            hint = f" Hint: {r['hint']}" if r["hint"] else ""
            print(f"FAIL  {r['target']}: {r['error']}: {r['message']}{hint}", file=out)
    return code


# -- entry point -------------------------------------------------------------------

_TARGETS_HELP = """\
MODULE:CLASS names a model: MODULE is imported (the current directory is on
sys.path) and CLASS is looked up in it, "Outer.Inner" for a nested class.
Example: earnorm-aop check blog.models:Article

DJANGO_SETTINGS_MODULE: when set (as for manage.py), django.setup() runs
before anything is imported, so Django models can be named; check then also
checks every model of the project that declares plugins = [...], and fails
when its plugins are not woven or when 'earnorm_aop.integrations.django' is
missing from INSTALLED_APPS. Example:
  DJANGO_SETTINGS_MODULE=mysite.settings earnorm-aop check
"""


# -- shared switches -------------------------------------------------------------------


def _state_dict(name: str, state: Any) -> dict[str, Any]:
    if state is None:
        return {"name": name, "enabled": True, "shared": False, "version": 0}
    return {"shared": True, **state.as_dict()}


def _cmd_switch(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    from .redis_switchboard import RedisSwitchboard

    _import_all(args.imports)
    try:
        board = RedisSwitchboard(args.redis, args.namespace, timeout=args.timeout)
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    try:
        try:
            states = board.states()
            if args.name is not None and args.name not in states:
                known = set(reg.names()) | set(states)
                if args.name not in known:
                    raise _UsageError(str(PluginNotFoundError(args.name, known)))
            if args.state is not None:
                written = board.set(args.name, args.state == "on", origin="cli")
                assert written is not None
                states[args.name] = written
        except board.errors as exc:
            print(
                f"earnorm-aop: cannot reach Redis at {args.redis}: {type(exc).__name__}: {exc}",
                file=err,
            )
            return FAILED
    finally:
        board.client.close()
    names = [args.name] if args.name is not None else sorted(states)
    rows = [_state_dict(n, states.get(n)) for n in names]
    if args.json:
        print(json.dumps(rows[0] if args.name is not None else rows, indent=2), file=out)
        return OK
    if not rows:
        print(f"no shared switches in namespace {args.namespace!r}", file=out)
        return OK
    table = [["NAME", "STATE", "VERSION", "CHANGED BY", "ORIGIN"]]
    for r in rows:
        state = (
            "on" if r["enabled"] else ("off (max_failures)" if r.get("auto_disabled") else "off")
        )
        if not r["shared"]:
            state += " (not shared yet: default)"
        table.append([r["name"], state, str(r["version"]), r.get("by", "-"), r.get("origin", "-")])
    _table(table, out)
    return OK


def _version() -> str:
    try:
        return importlib.metadata.version("earnorm-aop")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="earnorm-aop",
        description="Inspect earnorm_aop plugins and the models they are woven onto.",
        epilog=_TARGETS_HELP
        + "\nExit codes: 0 ok, 1 a plugin failed, 2 usage error (bad name or path).",
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

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

    p = sub.add_parser("list", parents=[common, imports], help="every known plugin")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser(
        "info",
        parents=[common, imports],
        help="one plugin: hooks, requires, options",
        description="One plugin: version, hooks, requires and its options as a table "
        "(name, type, default, description); --json prints the full JSON Schema.",
    )
    p.add_argument("name", help="the plugin's name, e.g. 'cache'")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser(
        "explain",
        parents=[common],
        help="what runs when a model's methods are called",
        description="Import MODULE:CLASS and print each woven method with its advice "
        "in execution order.",
        epilog=_TARGETS_HELP,
        formatter_class=raw,
    )
    p.add_argument("target", metavar="MODULE:CLASS", help="the model, e.g. blog.models:Article")
    p.set_defaults(run=_cmd_explain)

    p = sub.add_parser(
        "check",
        parents=[common],
        help="import models and report their plugins (exit 1 on failure)",
        description="Import each MODULE:CLASS and report the plugins woven on it, or the "
        "PluginError its import raised; with DJANGO_SETTINGS_MODULE, also every Django "
        "model that declares plugins.",
        epilog=_TARGETS_HELP,
        formatter_class=raw,
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="MODULE:CLASS",
        help="models to check (optional with DJANGO_SETTINGS_MODULE)",
    )
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser(
        "switch",
        parents=[common, imports],
        help="read or flip the switches processes share through Redis",
        description="Without NAME: every shared switch of the namespace.  With NAME: that "
        "one.  With NAME on|off: write it; every process sharing the namespace applies it.",
    )
    p.add_argument("name", nargs="?", help="the plugin, e.g. 'audit'")
    p.add_argument("state", nargs="?", choices=["on", "off"], help="the new state")
    p.add_argument("--redis", required=True, metavar="URL", help="redis://host:6379/0")
    p.add_argument(
        "--namespace", default="default", help="the board's namespace (default: default)"
    )
    p.add_argument(
        "--timeout", type=float, default=2.0, help="seconds to wait for Redis (default: 2)"
    )
    p.set_defaults(run=_cmd_switch)
    return parser


def main(argv: Sequence[str] | None = None, *, reg: PluginRegistry | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``reg`` is the registry ``list`` and ``info`` read (the default one unless given).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help / --version (0) and on bad arguments (2)
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
