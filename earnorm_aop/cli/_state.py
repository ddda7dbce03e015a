"""``switch export`` and ``switch apply FILE``: plugin state as code, in TOML.

The file says what a deployment wants: which plugins are on, their rollouts
and (through a switchboard) the options shared for a model::

    [plugins.audit]
    enabled = true

    [plugins.strict]
    enabled = true
    rollout = { percent = 10, by = "actor" }

    [[configs]]
    plugin = "cache"
    model = "shop.models.Article"
    options = { ttl = 5 }

``export`` writes the current state in that form (from the switchboard with
``--redis``, else this process's registry after ``--import``); ``apply``
compares the file with the current state, prints the differences, and
applies them unless ``--dry-run``.  A file that cannot be applied as a whole
is refused before anything is written, with the line and the plugin named.

Exit codes, for deployment pipelines: ``0`` nothing to change, ``4`` changes
applied (with ``--dry-run``: changes pending), ``1`` the file was refused,
``2`` usage error, ``3`` the switchboard cannot be reached.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import PluginConfigError
from ..plugin_system.registry import PluginRegistry
from ..plugin_system.rollout import Rollout
from ._outcome import FAILED, OK, UNREACHABLE, UsageError

__all__ = ["APPLIED", "Refused", "State", "apply_state", "export_state", "parse_state"]

APPLIED = 4  # changes applied (or pending, with --dry-run)


class Refused(Exception):
    """The file cannot be applied: what is wrong, where, and what would be right."""


@dataclass
class State:
    """Plugins (name -> enabled, rollout) and shared configurations ((plugin, model) -> options)."""

    plugins: dict[str, dict[str, Any]]
    configs: dict[tuple[str, str], dict[str, Any]]


# -- writing TOML (the standard library reads it, but does not write it) ------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise UsageError(f"{where}: {v!r} cannot be written as TOML")
        return repr(v)
    if isinstance(v, str):
        # A TOML basic string: JSON's escapes are TOML's, and JSON escapes every
        # control character but DEL, which TOML refuses raw.
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    if isinstance(v, Mapping):
        items = [f"{_key(str(k))} = {_value(x, where)}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise UsageError(f"{where}: {type(v).__name__} {v!r} cannot be written as TOML")


def export_state(state: State, *, source: str) -> str:
    """``state`` as the TOML ``apply`` reads (options that are None are left out: TOML has none)."""
    lines = [f"# plugin state of {source} (earnorm-aop switch export)"]
    for name, entry in sorted(state.plugins.items()):
        lines += ["", f"[plugins.{_key(name)}]", f"enabled = {_value(entry['enabled'], name)}"]
        if entry.get("rollout"):
            lines.append(f"rollout = {_value(entry['rollout'], name)}")
    for (plugin, model), options in sorted(state.configs.items()):
        where = f"configs of {plugin!r} on {model}"
        lines += [
            "",
            "[[configs]]",
            f"plugin = {_value(plugin, where)}",
            f"model = {_value(model, where)}",
            f"options = {_value(options, where)}",
        ]
    return "\n".join(lines) + "\n"


# -- reading and checking a file ----------------------------------------------------------


def _line_of(text: str, pattern: str, nth: int = 0) -> int:
    found = [text.count("\n", 0, m.start()) + 1 for m in re.finditer(pattern, text, re.M)]
    return found[nth] if nth < len(found) else 0


def _plugin_line(text: str, name: str) -> int:
    quoted = re.escape(name)
    return _line_of(
        text, rf"^[ \t]*\[[ \t]*plugins[ \t]*\.[ \t]*(?:{quoted}|\"{quoted}\"|'{quoted}')[ \t]*\]"
    )


def parse_state(text: str, path: str, known: set[str]) -> State:
    """Read and check a state file; [`Refused`][earnorm_aop.cli._state.Refused] names the line and
    the plugin."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{path}: not valid TOML: {exc}") from exc
    for key in doc:
        if key not in ("plugins", "configs"):
            line = _line_of(text, rf"^[ \t]*\[*[ \t]*{re.escape(key)}\b")
            raise Refused(
                f"{path}:{line}: unknown section {key!r}; a state file has [plugins.NAME] "
                "tables and [[configs]] entries"
            )
    plugins: dict[str, dict[str, Any]] = {}
    raw_plugins = doc.get("plugins", {})
    if not isinstance(raw_plugins, dict):
        raise Refused(f"{path}: 'plugins' must be tables: [plugins.NAME]")
    for name, table in raw_plugins.items():
        line = _plugin_line(text, name)
        where = f"{path}:{line}: plugin {name!r}"
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise Refused(f"{where} is not a known plugin{hint}")
        if not isinstance(table, dict):
            raise Refused(f"{where}: expected a table ([plugins.{name}]), not {table!r}")
        odd = sorted(set(table) - {"enabled", "rollout"})
        if odd:
            raise Refused(f"{where}: unknown key {odd[0]!r}; a plugin takes enabled and rollout")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise Refused(f"{where}: enabled must be true or false, not {enabled!r}")
        rollout = table.get("rollout")
        if rollout is not None:
            if not isinstance(rollout, dict):
                raise Refused(
                    f'{where}: rollout must be a table {{ percent = 10, by = "actor" }}, '
                    f"not {rollout!r}"
                )
            odd = sorted(set(rollout) - {"percent", "by", "salt"})
            if odd:
                raise Refused(f"{where}: rollout has unknown key {odd[0]!r} (percent, by, salt)")
            try:
                rollout = Rollout.from_dict(name, rollout).as_dict()
            except PluginConfigError as exc:
                raise Refused(f"{where}: {exc}") from exc
        plugins[name] = {"enabled": enabled, "rollout": rollout}
    configs: dict[tuple[str, str], dict[str, Any]] = {}
    raw_configs = doc.get("configs", [])
    if not isinstance(raw_configs, list):
        raise Refused(f"{path}: 'configs' must be [[configs]] entries")
    for n, entry in enumerate(raw_configs):
        line = _line_of(text, r"^[ \t]*\[\[[ \t]*configs[ \t]*\]\]", n)
        plugin = entry.get("plugin") if isinstance(entry, dict) else None
        where = f"{path}:{line}: configs entry for plugin {plugin!r}"
        if not isinstance(entry, dict) or set(entry) != {"plugin", "model", "options"}:
            raise Refused(f"{where}: an entry has exactly plugin, model and options")
        if plugin not in known:
            raise Refused(f"{where}: not a known plugin")
        if not isinstance(entry["model"], str) or "." not in entry["model"]:
            raise Refused(f"{where}: model must be a dotted path, module.Class")
        if not isinstance(entry["options"], dict):
            raise Refused(f"{where}: options must be a table")
        configs[(plugin, entry["model"])] = dict(entry["options"])
    return State(plugins, configs)


def diff(current: State, wanted: State) -> list[str]:
    """The changes that take ``current`` to ``wanted``, one line each (``+``/``-``/``~``)."""
    out = []
    for name, want in sorted(wanted.plugins.items()):
        have = current.plugins.get(name, {"enabled": True, "rollout": None})
        if have["enabled"] != want["enabled"]:
            out.append(
                f"~ {name}: {'on' if want['enabled'] else 'off'} (was "
                f"{'on' if have['enabled'] else 'off'})"
            )
        if (have.get("rollout") or None) != (want["rollout"] or None):
            out.append(f"~ {name}: rollout {want['rollout']} (was {have.get('rollout')})")
    for key, options in sorted(wanted.configs.items()):
        old = current.configs.get(key)
        if old != options:
            sign = "+" if old is None else "~"
            out.append(f"{sign} {key[0]} on {key[1]}: options {options} (was {old})")
    return out


# -- the command --------------------------------------------------------------------------


def _local_state(reg: PluginRegistry) -> State:
    rollouts = reg.rollouts()
    plugins = {}
    for name, metrics in reg.health()["plugins"].items():
        rollout = rollouts.get(name)
        plugins[name] = {
            "enabled": metrics["enabled"],
            "rollout": None if rollout is None else rollout.as_dict(),
        }
    return State(plugins, {})


def _board_state(board: Any) -> State:
    rollouts = board.rollouts()
    plugins = {
        name: {"enabled": s.enabled, "rollout": rollouts.get(name)}
        for name, s in board.states().items()
    }
    for name, r in rollouts.items():
        plugins.setdefault(name, {"enabled": True, "rollout": r})
    configs = {(c.name, c.model): dict(c.config) for c in board.configs()}
    return State(plugins, configs)


def apply_state(reg: PluginRegistry, current: State, wanted: State, board: Any = None) -> None:
    """Make ``wanted`` so: through ``board`` (a RedisSwitchboard) or in ``reg`` locally."""
    for name, want in sorted(wanted.plugins.items()):
        have = current.plugins.get(name, {"enabled": True, "rollout": None})
        rollout_changed = (have.get("rollout") or None) != (want["rollout"] or None)
        if board is not None:
            if rollout_changed:
                board.publish_rollout(name, want["rollout"])
            if have["enabled"] != want["enabled"] or rollout_changed:
                board.set(name, want["enabled"], origin="apply")
            continue
        if rollout_changed:
            r = want["rollout"]
            if r is None:
                reg.rollout(name, None)
            else:
                rollout = Rollout.from_dict(name, r)
                reg.rollout(name, rollout.percent, by=rollout.by, salt=rollout.salt)
        if have["enabled"] != want["enabled"]:
            (reg.enable if want["enabled"] else reg.disable)(name)
    for (plugin, model), options in sorted(wanted.configs.items()):
        if current.configs.get((plugin, model)) != options:
            board.set_config(plugin, model, options, origin="apply")


def cmd_state(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    """``switch export`` / ``switch apply FILE`` (``cmd_switch`` hands them over)."""
    board: Any = None
    if args.redis is not None:
        from ..runtime.redis_switchboard import RedisSwitchboard

        try:
            board = RedisSwitchboard(args.redis, args.namespace, timeout=args.timeout)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    try:
        try:
            current = _board_state(board) if board is not None else _local_state(reg)
            source = f"namespace {args.namespace!r}" if board is not None else "this process"
            if args.name == "export":
                text = export_state(current, source=source)
                if args.output:
                    Path(args.output).write_text(text)
                else:
                    print(text, file=out, end="")
                return OK
            if not args.state:
                raise UsageError("switch apply needs the FILE to apply: switch apply state.toml")
            path = Path(args.state)
            try:
                text = path.read_text()
            except OSError as exc:
                raise UsageError(f"cannot read {args.state}: {exc}") from exc
            known = set(reg.names()) | set(current.plugins)
            try:
                wanted = parse_state(text, args.state, known)
            except Refused as exc:
                print(f"earnorm-aop: refused: {exc}", file=err)
                return FAILED
            if wanted.configs and board is None:
                print(
                    f"earnorm-aop: refused: {args.state}: [[configs]] are shared options; "
                    "apply them through a switchboard (--redis URL)",
                    file=err,
                )
                return FAILED
            changes = diff(current, wanted)
            if not changes:
                print(f"no change: {source} is as {args.state} says", file=out)
                return OK
            for line in changes:
                print(line, file=out)
            if args.dry_run:
                print(f"{len(changes)} change(s) pending (--dry-run: nothing applied)", file=out)
                return APPLIED
            apply_state(reg, current, wanted, board)
            print(f"{len(changes)} change(s) applied to {source}", file=out)
            return APPLIED
        except Exception as exc:
            if board is not None and isinstance(exc, board.errors):
                print(
                    f"earnorm-aop: cannot reach Redis at {args.redis}: {type(exc).__name__}: {exc}",
                    file=err,
                )
                return UNREACHABLE
            raise
    finally:
        if board is not None:
            board.client.close()
