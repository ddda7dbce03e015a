"""``list`` and ``info``: the plugins a registry knows, and one plugin's options.

Both read the registry only; ``info`` turns the plugin's JSON Schema into a
table a reader can scan (name, type, default, description).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..errors import PluginError, PluginNotFoundError
from ..plugin_system.config import config_model
from ..plugin_system.registry import PluginInfo, PluginRegistry
from ._outcome import FAILED, OK, UsageError
from ._text import plain, print_table
from ._user_code import import_all


def _info_dict(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "description": plain(info.description) if info.description else None,
        "requires": dict(info.requires),
        "priority": info.priority,
        "enabled": info.enabled,
        "source": info.source,
        "class": f"{info.cls.__module__}.{info.cls.__qualname__}",
        "hooks": list(info.hooks),
        "config_schema": info.config_schema,
    }


def cmd_list(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    import_all(args.imports)
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
    print_table(table, out)
    return code


_JSON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
    "object": "dict",
}


def schema_type(prop: dict[str, Any]) -> str:
    """A short, Python-like name for the type a JSON Schema property accepts."""
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " | ".join(dict.fromkeys(schema_type(p) for p in prop[key]))
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    kind = prop.get("type")
    if kind == "array":
        return f"list[{schema_type(prop.get('items') or {})}]"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"dict[str, {schema_type(prop['additionalProperties'])}]"
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
        description = plain(str(prop.get("description", "")))
        rows.append([name, schema_type(prop), default, description])
    return rows


def cmd_info(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    import_all(args.imports)
    try:
        info = reg.get_plugin(args.name)
    except PluginNotFoundError as exc:
        raise UsageError(str(exc)) from exc
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
    print_table(rows, out, wrap_last=60)
    print("(earnorm-aop info --json prints the full JSON Schema)", file=out)
    return OK
