"""Reading a shared switch hash: every entry type-checked, a malformed one logged once.

The hash of a [`RedisSwitchboard`][earnorm_aop.runtime.redis_switchboard.RedisSwitchboard]
is written by every process of a deployment, and by anyone else with access
to the Redis server: what is read from it is data to check, never state to
trust.  [`parse_hash`][earnorm_aop.runtime._switch_hash.parse_hash] keeps the entries that are well
formed and logs each other one once per process (as a warning on ``earnorm_aop.switchboard``),
so a bad field neither raises in ``share()``, the CLI or the listener, nor is
applied, nor is copied anywhere.  [`update_hash`][earnorm_aop.runtime._switch_hash.update_hash] is
the one way a board writes it: read, decide, write, in one ``WATCH``/``MULTI`` transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .switchboard import SharedConfig, SwitchState, is_config_field

__all__ = ["VERSION_FIELD", "parse_hash", "update_hash"]

log = logging.getLogger("earnorm_aop.switchboard")

VERSION_FIELD = "__version__"
"""The hash field holding the namespace's counter."""

# Malformed entries this process already logged, as (hash key, field, content).
_refused: set[tuple[str, str, str]] = set()


def parse_hash(key: str, raw: dict[str, str]) -> tuple[int, dict[str, SwitchState | SharedConfig]]:
    """The counter and the well-formed entries of the hash ``key`` read as ``raw``.

    An entry is well formed when its JSON has every field with its type, its
    name matches the hash field it is under, and its version is not ahead of
    the counter (every write moves both in one transaction, so an entry ahead
    of it was not written by a board).  A counter that is no whole number is
    logged and taken as the highest version of the entries.
    """
    raw = dict(raw)
    text = raw.pop(VERSION_FIELD, None)
    counter: int | None = 0 if text is None else _counter(text)
    if counter is None:
        _refuse(key, VERSION_FIELD, str(text), "the counter is not a whole number")
    entries: dict[str, SwitchState | SharedConfig] = {}
    for field, value in raw.items():
        try:
            data = json.loads(value)
            entry: SwitchState | SharedConfig
            if is_config_field(field):
                entry = SharedConfig.from_dict(data)
                where = entry.field
            else:
                entry = SwitchState.from_dict(data)
                where = entry.name
            if where != field:
                raise ValueError(f"it names {where!r}")
            if counter is not None and entry.version > counter:
                raise ValueError(f"its version {entry.version} is ahead of the counter {counter}")
        except ValueError as exc:  # JSONDecodeError is one
            _refuse(key, field, value, str(exc))
            continue
        entries[field] = entry
    if counter is None:
        counter = max((e.version for e in entries.values()), default=0)
    return counter, entries


# What a write decides from the hash it read: the fields to set and the message
# to publish, or None to write nothing.
Decision = Callable[
    [int, dict[str, SwitchState | SharedConfig]], tuple[Mapping[str, Any], str] | None
]


def update_hash(
    client: Any, key: str, channel: str, watch_error: type[BaseException], decide: Decision
) -> bool:
    """Write what ``decide(counter, entries)`` says in one transaction; whether it wrote.

    The hash is read under ``WATCH``; the fields ``decide`` gives are set and
    its message published on ``channel`` in one ``MULTI``.  When another
    process wrote the hash in between (``watch_error``), the whole of it runs
    again on what that process left, so ``decide`` may run more than once and
    decides from the hash as it is when the write lands.
    """
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                counter, entries = parse_hash(key, pipe.hgetall(key))
                decided = decide(counter, entries)
                if decided is None:
                    pipe.unwatch()
                    return False
                fields, message = decided
                pipe.multi()
                pipe.hset(key, mapping=fields)
                pipe.publish(channel, message)
                pipe.execute()
                return True
            except watch_error:
                continue


def _counter(text: str) -> int | None:
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _refuse(key: str, field: str, value: str, reason: str) -> None:
    """Log a malformed entry once per process; it is skipped, never copied anywhere."""
    seen = (key, field, value)
    if seen in _refused:
        return
    if len(_refused) >= 1024:
        _refused.clear()
    _refused.add(seen)
    log.warning(
        "switchboard %s: ignoring the malformed shared entry %r (%s): %.200r",
        key,
        field,
        reason,
        value,
    )
