"""``health``: per plugin runs, failures, auto-disabled state and rollout, for monitoring checks.

Two sources, merged by plugin name:

- this process's registry (``registry.health()``): what the ``--import``-ed
  modules registered and wove, with the counts this process made.  A process
  that serves requests reports its own counts through
  [`health_report`][earnorm_aop.cli._health.health_report] (the same dict the command prints with
  ``--json``), for example from a health-check view;
- the switchboard (``--redis URL``): the state every process shares, among it
  an auto-disable that happened in any of them (``origin`` ``max_failures``).

The exit code is what a monitoring check reads: ``0`` when no plugin is
auto-disabled, ``1`` when one is (here or on the board), ``3`` when the board
cannot be read (the check's "unknown"), ``2`` for a usage error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any, TextIO

from ..plugin_system.registry import PluginRegistry
from ._outcome import FAILED, OK, UNREACHABLE, UsageError
from ._text import print_table
from ._user_code import import_all

__all__ = ["cmd_health", "health_report"]


def _from_process(name: str, m: Mapping[str, Any]) -> dict[str, Any]:
    runs: dict[str, int] = dict(m["runs"])
    return {
        "name": name,
        "enabled": m["enabled"],
        "auto_disabled": m["auto_disabled"],
        "runs": sum(runs.values()),
        "runs_by_outcome": runs,
        "failures": m["failures"],
        "consecutive_failures": m["consecutive_failures"],
        "last_error": m["last_error"],
        "models": list(m["models"]),
        "metering": m["metering"],
        "rollout": m.get("rollout"),
        "sources": ["process"],
    }


def _blank(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": True,
        "auto_disabled": False,
        "runs": 0,
        "runs_by_outcome": {},
        "failures": 0,
        "consecutive_failures": 0,
        "last_error": None,
        "models": [],
        "metering": False,
        "rollout": None,
        "sources": [],
    }


def health_report(
    registry: PluginRegistry,
    shared: Mapping[str, Any] | None = None,
    rollouts: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The health of every plugin in use: ``{"status", "auto_disabled", "plugins"}``.

    ``shared`` is a switchboard's states (``RedisSwitchboard.states()``):
    where given, its ``enabled``/``auto_disabled`` are what every process
    shares, and they win over this process's view, which may be behind it.
    ``status`` is ``"ok"``, ``"degraded"`` (a plugin's last run failed) or
    ``"auto-disabled"``; ``auto_disabled`` lists the plugins switched off by
    their error policy.  ``rollouts`` (``RedisSwitchboard.rollouts()``) are
    the shared rollouts, shown for plugins this process has none of.
    """
    base = registry.health()
    plugins = {n: _from_process(n, m) for n, m in base["plugins"].items()}
    for name, state in (shared or {}).items():
        row = plugins.setdefault(name, _blank(name))
        row["enabled"] = bool(state.enabled)
        row["auto_disabled"] = bool(state.auto_disabled)
        row["shared"] = {"version": state.version, "by": state.by, "origin": state.origin}
        row["sources"].append("switchboard")

    for name, rollout in (rollouts or {}).items():
        row = plugins.setdefault(name, _blank(name))
        if row["rollout"] is None:
            row["rollout"] = dict(rollout)
    down = sorted(n for n, r in plugins.items() if r["auto_disabled"])
    if down:
        status = "auto-disabled"
    elif base["status"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "auto_disabled": down, "plugins": dict(sorted(plugins.items()))}


def _shared_states(
    args: argparse.Namespace, err: TextIO
) -> tuple[dict[str, Any], dict[str, Any]] | int:
    from ..runtime.redis_switchboard import RedisSwitchboard

    try:
        board = RedisSwitchboard(args.redis, args.namespace, timeout=args.timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        return dict(board.states()), board.rollouts()
    except board.errors as exc:
        print(
            f"earnorm-aop: cannot reach Redis at {args.redis}: {type(exc).__name__}: {exc}",
            file=err,
        )
        return UNREACHABLE
    finally:
        board.client.close()


def _rollout_text(rollout: Any) -> str:
    if not rollout:
        return "-"
    if isinstance(rollout, Mapping):
        return f"{rollout.get('percent'):g}% by {rollout.get('by')}"
    return str(rollout)


def cmd_health(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    import_all(args.imports)
    shared: dict[str, Any] | None = None
    rollouts: dict[str, Any] | None = None
    if args.redis is not None:
        got = _shared_states(args, err)
        if isinstance(got, int):
            return got
        shared, rollouts = got
    report = health_report(reg, shared, rollouts)
    code = FAILED if report["auto_disabled"] else OK
    if args.json:
        print(json.dumps(report, indent=2), file=out)
        return code
    rows = report["plugins"]
    if not rows:
        print("no plugins in use (--import the modules that define your models)", file=out)
        return code
    table = [["PLUGIN", "STATE", "RUNS", "FAILURES", "ROLLOUT", "MODELS"]]
    for r in rows.values():
        state = "on" if r["enabled"] else "off"
        if r["auto_disabled"]:
            state = "AUTO-DISABLED"
        runs = str(r["runs"]) if r["metering"] or r["runs"] else "-"
        table.append(
            [
                r["name"],
                state,
                runs,
                str(r["failures"]),
                _rollout_text(r["rollout"]),
                ", ".join(r["models"]) or "-",
            ]
        )
    print_table(table, out)
    print(f"status: {report['status']}", file=out)
    return code
