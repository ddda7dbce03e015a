"""``docs PLUGIN``: a plugin's reference, rendered from what the plugin declares.

Everything comes from the plugin class as the registry reads it (its
[`PluginSpec`][earnorm_aop.plugin_system.spec.PluginSpec]): version, description,
requirements, hooks with their conditions, the configuration's pydantic
schema (types, defaults, descriptions), and the fields and model methods it
contributes with its default configuration.  So a reference cannot drift
from the code; the built-ins' sections of ``docs/plugins-reference.md`` are
this output, and a test regenerates them.
"""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any, TextIO

from ..errors import PluginError, PluginNotFoundError
from ..plugin_system.conditions import ANY, Condition
from ..plugin_system.config import json_schema, validate_config
from ..plugin_system.contributions import contributed_fields, contributed_methods
from ..plugin_system.registry import PluginRegistry
from ..plugin_system.spec import HookDecl, PluginSpec
from ._outcome import OK, UsageError
from ._plugins import schema_type
from ._text import plain
from ._user_code import import_all

__all__ = ["cmd_docs", "reference", "render_markdown"]


def _condition(condition: Condition | None) -> str | None:
    """A hook's condition as the keywords that state it (``when='status', was='draft'``)."""
    if condition is None:
        return None
    parts = []
    if condition.when is not None:
        parts.append(f"when={condition.when!r}")
    if condition.when_any:
        parts.append(f"when_any={list(condition.when_any)!r}")
    for name in ("was", "is_now", "changes_to"):
        value = getattr(condition, name)
        if value is not ANY:
            parts.append(f"{name}={value!r}")
    if condition.has_changed is not None:
        parts.append(f"has_changed={condition.has_changed!r}")
    if condition.condition is not None:
        func = condition.condition
        parts.append(f"condition={getattr(func, '__qualname__', repr(func))}")
    return ", ".join(parts)


def _hook(spec: PluginSpec, hook: HookDecl) -> dict[str, Any]:
    target = hook.target()
    func = getattr(spec.cls, hook.attr, None)
    doc = inspect.getdoc(func) if func is not None else None
    return {
        "method": hook.attr,
        "binds": str(hook),
        "kind": "event" if isinstance(target, str) else "pointcut",
        "optional": hook.optional,
        "condition": _condition(hook.condition),
        "doc": plain(doc.split("\n\n", 1)[0]) if doc else None,
    }


def _options(spec: PluginSpec) -> list[dict[str, Any]]:
    schema = json_schema(spec.config)
    required = set(schema.get("required", ()))
    fields = spec.config.model_fields
    rows = []
    for name, prop in schema.get("properties", {}).items():
        row: dict[str, Any] = {
            "name": name,
            "type": schema_type(prop),
            "required": name in required,
            "description": plain(str(prop.get("description", ""))) or None,
        }
        if "default" in prop:
            row["default"] = prop["default"]
        elif name in fields and name not in required:
            row["default"] = fields[name].get_default(call_default_factory=True)
        rows.append(row)
    return rows


def _contributions(name: str, spec: PluginSpec) -> dict[str, Any]:
    """The fields and methods the plugin adds, with its default configuration."""
    from ..plugin_system.instances import instantiate

    try:
        config = validate_config(name, "(reference)", spec.config, {})
        obj = instantiate(spec, config)
        fields = contributed_fields(name, obj)
        methods = contributed_methods(name, obj)
    except (PluginError, TypeError, ValueError) as exc:
        return {"fields": [], "methods": [], "note": f"depends on its configuration ({exc})"}
    return {
        "fields": [
            {"name": f.name, "type": _type_name(f.annotation), "default": repr(f.default)}
            for f in fields
        ],
        "methods": [
            {
                "name": method,
                "kind": "classmethod" if isinstance(func, classmethod) else "method",
                "doc": _first_line(func),
            }
            for method, func in sorted(methods.items())
        ],
    }


def _first_line(func: Any) -> str | None:
    inner = func.__func__ if isinstance(func, classmethod | staticmethod) else func
    doc = inspect.getdoc(inner)
    return plain(doc.split("\n\n", 1)[0].replace("\n", " ")) if doc else None


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("datetime.datetime", "datetime")


def reference(reg: PluginRegistry, name: str) -> dict[str, Any]:
    """Everything the reference of plugin ``name`` shows, as JSON-ready data."""
    try:
        spec = reg.spec(name)
    except PluginNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    description = plain(spec.description) if spec.description else None
    return {
        "name": name,
        "version": spec.version,
        "class": f"{spec.cls.__module__}.{spec.cls.__qualname__}",
        "description": description,
        "requires": dict(spec.requires),
        "priority": spec.priority,
        "on_error": spec.on_error,
        "hooks": [_hook(spec, h) for h in spec.hooks],
        "config_version": spec.config_version,
        "config_upgrades_from": sorted(spec.config_upgrades),
        "options": _options(spec),
        **_contributions(name, spec),
    }


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: pipes would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    """The reference as a Markdown section (``## `name` version``)."""
    out = [f"## `{data['name']}` {data['version']}", ""]
    if data["description"]:
        out += [data["description"].split("\n\n", 1)[0].replace("\n", " "), ""]
    requires = ", ".join(f"`{n}{pin}`" for n, pin in data["requires"].items()) or "nothing"
    out += [
        f"Class `{data['class']}`; requires {requires}; priority {data['priority']}; "
        f"on error: `{data['on_error']}`.",
        "",
        "### Hooks",
        "",
    ]
    for hook in data["hooks"]:
        line = f"- `{hook['method']}`: {hook['kind']} `{hook['binds']}`"
        if hook["optional"]:
            line += " (optional)"
        if hook["condition"]:
            line += f", when `{hook['condition']}`"
        if hook["doc"]:
            line += f". {hook['doc'].rstrip('.')}."
        out.append(line)
    out += ["", "### Configuration", ""]
    if data["config_version"] > 1:
        oldest = min(data["config_upgrades_from"], default=data["config_version"])
        out += [
            f"Configuration version {data['config_version']} (`config_version`); "
            f"older ones from version {oldest} are upgraded.",
            "",
        ]
    if data["options"]:
        out += ["| option | type | default | description |", "|---|---|---|---|"]
        for option in data["options"]:
            default = (
                "(required)"
                if option["required"]
                else f"`{option['default']!r}`"
                if "default" in option
                else "-"
            )
            out.append(
                f"| `{option['name']}` | {_cell(option['type'])} | {_cell(default)} | "
                f"{_cell(option['description'] or '')} |"
            )
    else:
        out.append("No options.")
    out += ["", "### Contributes", ""]
    if data.get("note"):
        out.append(f"Fields and methods {data['note']}.")
    elif not data["fields"] and not data["methods"]:
        out.append("Nothing: no fields, no model methods.")
    for f in data["fields"]:
        out.append(f"- field `{f['name']}`: {f['type']}, default `{f['default']}`")
    for m in data["methods"]:
        call = f"Model.{m['name']}()" if m["kind"] == "classmethod" else f"{m['name']}()"
        out.append(f"- method `{call}`" + (f": {m['doc']}" if m["doc"] else ""))
    return "\n".join(out) + "\n"


def cmd_docs(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    import_all(args.imports)
    data = reference(reg, args.name)
    if args.format == "json":
        print(json.dumps(data, indent=2, default=str), file=out)
    else:
        print(render_markdown(data), end="", file=out)
    return OK
