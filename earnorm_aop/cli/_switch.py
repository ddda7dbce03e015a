"""``switch``: read and flip the switches processes share through Redis.

The Redis client is imported only when this command runs, so ``earnorm-aop``
works without the ``redis`` extra for every other command.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ..errors import PluginNotFoundError
from ..plugin_system.registry import PluginRegistry
from ._outcome import FAILED, OK, UsageError
from ._state import cmd_state
from ._text import print_table
from ._user_code import import_all


def _state_dict(name: str, state: Any) -> dict[str, Any]:
    if state is None:
        return {"name": name, "enabled": True, "shared": False, "version": 0}
    return {"shared": True, **state.as_dict()}


def cmd_switch(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    from ..runtime.redis_switchboard import RedisSwitchboard

    import_all(args.imports)
    if args.name in ("export", "apply"):
        return cmd_state(args, reg, out, err)
    if args.redis is None:
        raise UsageError("switch NAME needs --redis URL (the board the processes share)")
    if args.state is not None and args.state not in ("on", "off"):
        raise UsageError(f"the new state is on or off, not {args.state!r}")
    try:
        board = RedisSwitchboard(args.redis, args.namespace, timeout=args.timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        try:
            states = board.states()
            if args.name is not None and args.name not in states:
                known = set(reg.names()) | set(states)
                if args.name not in known:
                    raise UsageError(str(PluginNotFoundError(args.name, known)))
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
    print_table(table, out)
    return OK
