"""``RedisSwitchboard``: plugin switch states shared through Redis (the ``redis`` extra).

Layout, per namespace ``NS``:

* the hash ``earnorm_aop:NS:switches``: one field per plugin holding its
  [`SwitchState`][earnorm_aop.runtime.switchboard.SwitchState] as JSON, and the field
  ``__version__``, the namespace's counter (each write takes a version above
  it, above what the writer knows, and at least the time in milliseconds);
* the channel ``earnorm_aop:NS:switches:changes``, announcing every write.

The hash is the one source of state: an announcement only makes each
listener read it (what it carries, forged or garbage, is never applied), and
what is read is type-checked (``_switch_hash``).  Each process that shares a
registry runs one background thread, the *listener*: it subscribes, reads the
whole hash, applies what is newer than what it knows, and from then on reads
it again within ``interval`` seconds of each announcement and every
``resync`` seconds; each read also puts back a switch that differs from its
shared state with no local change pending.  Local changes are written by the
same thread, each in one ``WATCH``/``MULTI`` transaction with its
announcement, on the terms ``_switch_changes`` describes.

When Redis cannot be reached the process keeps its last known states, logs
one warning per outage and retries every ``retry`` seconds; model operations
never wait for Redis.  A Redis that comes back *empty* is filled again from
the states the processes know, with their versions, where it lacks them or
holds older ones, and only for the plugins each process has.

A process forked after ``share()`` starts a listener of its own (threads do
not survive a fork).  Importing this module does not import ``redis``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._switch_changes import LocalChanges
from ._switch_hash import VERSION_FIELD as _VERSION
from ._switch_hash import parse_hash, update_hash
from .rollout import SharedRollouts
from .switchboard import (
    SharedConfig,
    Switchboard,
    SwitchState,
    config_field,
    is_config_field,
    now,
    origin_label,
)

if TYPE_CHECKING:
    from ..plugin_system.registry import PluginRegistry

__all__ = ["RedisSwitchboard"]

log = logging.getLogger("earnorm_aop.switchboard")

# Most announcements taken at once before the hash is read (they only say "read it").
_DRAIN = 1000


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
        raise ImportError(
            "RedisSwitchboard needs the redis client: pip install 'earnorm-aop[redis]'"
        ) from exc
    return redis


class RedisSwitchboard(SharedRollouts, Switchboard):
    """Switch states in a Redis hash, changes announced on a channel (see the module doc).

    ``url`` is a Redis URL (``redis://host:6379/0``); ``namespace`` separates
    deployments sharing one server.  ``interval`` bounds how long an
    announced change takes to be applied here (plus the re-weave);
    ``timeout`` bounds each Redis command; ``retry`` is the pause between
    reconnection attempts; ``resync`` the period of full re-reads.
    """

    def __init__(
        self,
        url: str,
        namespace: str = "default",
        *,
        interval: float = 0.05,
        timeout: float = 1.0,
        retry: float = 0.5,
        resync: float = 5.0,
    ) -> None:
        super().__init__()
        if not namespace or ":" in namespace:
            raise ValueError(f"a namespace is a non-empty name without ':', not {namespace!r}")
        for option, seconds in (
            ("interval", interval),
            ("timeout", timeout),
            ("retry", retry),
            ("resync", resync),
        ):
            if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
                raise ValueError(
                    f"{option} must be a positive, finite number of seconds, not {seconds!r}"
                )
        redis = _redis()
        self.url = url
        self.namespace = namespace
        self.key = f"earnorm_aop:{namespace}:switches"
        self.channel = f"{self.key}:changes"
        self.interval = interval
        self.retry = retry
        self.resync = resync
        # What a lost or refused connection raises.
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._watch_error: type[BaseException] = redis.WatchError
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=max(1.0, resync),
            decode_responses=True,
        )
        # Local changes waiting to be written, by hash field.
        self._changes = LocalChanges(self.remember)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self._outage_logged = False

    # -- reading and writing, usable without a registry (the CLI) -----------------------

    def states(self) -> dict[str, SwitchState]:
        """Every shared state of the namespace, by plugin name (raises if unreachable)."""
        _, entries = parse_hash(self.key, self.client.hgetall(self.key))
        return {f: e for f, e in sorted(entries.items()) if isinstance(e, SwitchState)}

    def configs(self) -> list[SharedConfig]:
        """Every shared configuration of the namespace (raises if unreachable)."""
        _, entries = parse_hash(self.key, self.client.hgetall(self.key))
        return [entry for _, entry in sorted(entries.items()) if isinstance(entry, SharedConfig)]

    def version(self) -> int:
        """The namespace's counter: the version of the last write."""
        counter, _ = parse_hash(self.key, self.client.hgetall(self.key))
        return counter

    def set(
        self, name: str, enabled: bool, *, origin: str = "cli", expect: int | None = None
    ) -> SwitchState | None:
        """Write ``name``'s state and announce it; return what was written.

        With ``expect``, only if the plugin's shared version is not newer than
        ``expect`` (the version the change was made against); otherwise nothing
        is written and the result is ``None``.  Raises when Redis cannot be
        reached.
        """

        def make(version: int) -> SwitchState:
            return SwitchState(
                name,
                enabled,
                version,
                auto_disabled=origin == "max_failures",
                origin=origin,
                by=origin_label(),
                time=now(),
            )

        written = self._write(name, make, expect)
        assert written is None or isinstance(written, SwitchState)
        return written

    def set_config(
        self,
        name: str,
        model: str,
        config: dict[str, Any],
        *,
        origin: str = "reconfigure",
        expect: int | None = None,
    ) -> SharedConfig | None:
        """Write the options of ``name`` on ``model`` (a model path) and announce them."""

        def make(version: int) -> SharedConfig:
            return SharedConfig(name, model, config, version, origin, origin_label(), now())

        written = self._write(config_field(name, model), make, expect)
        assert written is None or isinstance(written, SharedConfig)
        return written

    def _write(
        self,
        field: str,
        make: Callable[[int], SwitchState | SharedConfig],
        expect: int | None,
    ) -> SwitchState | SharedConfig | None:
        """One transaction: check ``field``'s version, bump the counter, write, announce.

        The new version is above the counter, above every version this
        process knows, and at least the current time in milliseconds: a Redis
        that restarted empty starts its counter again, and a state written
        after that must still be newer than any written before it, which
        other processes may still hold and write back.
        """
        entry: SwitchState | SharedConfig | None = None

        def decide(
            counter: int, entries: dict[str, SwitchState | SharedConfig]
        ) -> tuple[dict[str, Any], str] | None:
            nonlocal entry
            current = entries.get(field)
            if expect is not None and current is not None and current.version > expect:
                return None
            version = max(counter + 1, self._newest_known() + 1, int(now() * 1000))
            entry = make(version)
            text = json.dumps(entry.as_dict())
            return {field: text, _VERSION: version}, text

        written = update_hash(self.client, self.key, self.channel, self._watch_error, decide)
        return entry if written else None

    def _newest_known(self) -> int:
        versions = [s.version for s in self.known().values()]
        versions += [c.version for c in self.known_configs().values()]
        return max(versions, default=0)

    # -- sharing a registry -------------------------------------------------------------

    def attach(self, registry: PluginRegistry) -> None:
        """Read the shared states (if Redis answers), apply them, start the listener."""
        super().attach(registry)
        try:
            self._catch_up()
            self._catch_up_rollouts()
            self._connected()
        except self.errors as exc:
            self._lost(exc)
        self._start()

    def _start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name=f"earnorm_aop switchboard {self.namespace}", daemon=True
        )
        self._thread.start()
        _listening.add(self)

    def _after_fork(self) -> None:
        """In a forked child: fresh locks and a listener of its own (the parent's is gone)."""
        self._lock = threading.Lock()
        self._switching = threading.RLock()
        self._changes = LocalChanges(self.remember)
        self.connected = False
        self._start()

    def close(self) -> None:
        """Stop the listener; states stay as they are (pending local changes are dropped)."""
        _listening.discard(self)
        super().close()
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 4 * self.retry))
        self._thread = None
        self.client.close()

    def publish(self, name: str, enabled: bool, *, origin: str) -> None:
        """Queue a local change for the listener to write (returns at once)."""
        self._as_one(name, enabled, lambda: self._queue(name, enabled, origin))

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        """Queue a local reconfiguration for the listener to write (returns at once)."""
        self._queue(config_field(name, model), (name, model, config), "reconfigure")

    def _queue(self, field: str, what: Any, origin: str) -> None:
        # Terms: written whatever (connected), or over the known version (an outage).
        def expect() -> int | None:
            return None if self.connected else self.known_version(field)

        self._changes.add(field, what, origin, expect)

    def pending(self) -> dict[str, Any]:
        """Local changes not written yet: plugin name -> enabled, config field -> options."""
        return self._changes.view()

    # -- the listener thread ------------------------------------------------------------

    def _listen(self) -> None:
        pubsub: Any = None
        last_sync = time.monotonic()
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._subscribe()
                    self._catch_up()
                    self._connected()
                    last_sync = time.monotonic()
                # An announcement only says that the hash changed: what it carries
                # is never applied (anyone who can PUBLISH could have sent it).
                # Whatever arrived, the hash is read once.
                notified = False
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=self.interval)
                for _ in range(_DRAIN):
                    if message is None:
                        break
                    notified = True
                    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                self._flush()
                if notified or time.monotonic() - last_sync >= self.resync:
                    self._catch_up()
                    last_sync = time.monotonic()
            except self.errors as exc:
                if self._stop.is_set():
                    break
                self._lost(exc)
                pubsub = _closed(pubsub)
                self._stop.wait(self.retry)
            except Exception:  # a bug must not kill the listener silently
                log.exception("switchboard %s: listener error; retrying", self.namespace)
                pubsub = _closed(pubsub)
                self._stop.wait(self.retry)
        _closed(pubsub)

    def _subscribe(self) -> Any:
        pubsub = self.client.pubsub()
        pubsub.subscribe(self.channel)
        # Wait for the confirmation, so what is written after the read below is announced to us.
        for _ in range(max(1, int(5 / self.interval))):
            message = pubsub.get_message(timeout=self.interval)
            if message is not None and message.get("type") == "subscribe":
                return pubsub
        pubsub.close()
        raise TimeoutError(f"no subscription confirmation on {self.channel!r}")

    def _catch_up(self) -> None:
        """Read the hash: apply what is newer, repair what differs, write back what it lost.

        A field with a local change still to write is left alone (the change
        will be written, or refused and this read again).  A state this
        process knows that is newer than the hash's, or absent from it (Redis
        restarted empty), is written back, for the plugins this registry has
        only: a name it does not know is never written by it.
        """
        _, entries = parse_hash(self.key, self.client.hgetall(self.key))
        registry = self.registry
        waiting = self._changes.fields()
        for field, entry in entries.items():
            with self._switching:
                if field in self._changes:
                    continue
                if isinstance(entry, SharedConfig):
                    self.apply_config(entry)
                else:
                    self.apply(entry)
        lost: dict[str, SwitchState | SharedConfig] = {}
        known: dict[str, SwitchState | SharedConfig] = {**self.known(), **self.known_configs()}
        for field, mine in known.items():
            if field in waiting or registry is None or mine.name not in registry:
                continue
            there = entries.get(field)
            if there is None or there.order() < mine.order():
                lost[field] = mine
            elif isinstance(mine, SwitchState) and self.settle(field):
                log.warning(
                    "switchboard %s: the switch of %r differed from its shared state; "
                    "put back to %s",
                    self.namespace,
                    field,
                    "on" if mine.enabled else "off",
                )
        if lost:
            self._refill(lost)

    def _refill(self, known: dict[str, SwitchState | SharedConfig]) -> None:
        """Write back the states Redis lost (each where it is missing or older), versions kept."""
        fields: dict[str, Any] = {}

        def decide(
            counter: int, entries: dict[str, SwitchState | SharedConfig]
        ) -> tuple[dict[str, Any], str] | None:
            fields.clear()
            for field, state in known.items():
                there = entries.get(field)
                if there is None or there.order() < state.order():
                    fields[field] = json.dumps(state.as_dict())
            if not fields:
                return None
            fields[_VERSION] = max([counter, *(s.version for s in known.values())])
            return fields, "refill"

        if not update_hash(self.client, self.key, self.channel, self._watch_error, decide):
            return
        log.warning(
            "switchboard %s: Redis had lost shared states (restarted empty?); "
            "wrote back the %d this process knew: %s",
            self.namespace,
            len(fields) - 1,
            ", ".join(sorted(f for f in fields if f != _VERSION)),
        )

    def _flush(self) -> None:
        """Write the queued local changes (see ``_switch_changes`` for the terms of each)."""
        refused = False
        while (queued := self._changes.first()) is not None:
            field, change = queued
            written: SwitchState | SharedConfig | None
            if is_config_field(field):
                name, model, config = change.what
                written = self.set_config(
                    name, model, config, origin=change.origin, expect=change.expect
                )
            else:
                written = self.set(field, change.what, origin=change.origin, expect=change.expect)
            self._changes.written(field, change, written)
            if written is None:
                refused = True
                log.info(
                    "switchboard %s: the local change of %r, made during an outage, was not "
                    "written: its shared state changed meanwhile; applying the shared one",
                    self.namespace,
                    field,
                )
        if refused:
            self._catch_up()

    def _connected(self) -> None:
        if not self.connected and self._outage_logged:
            log.warning("switchboard %s: Redis reachable again; caught up", self.namespace)
        self.connected = True
        self._outage_logged = False

    def _lost(self, exc: BaseException) -> None:
        self.connected = False
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "switchboard %s: Redis at %s unreachable (%s: %s); keeping the last known "
                "switch states and retrying every %.1fs",
                self.namespace,
                _safe_url(self.url),
                type(exc).__name__,
                exc,
                self.retry,
            )

    def wait_for(self, check: Callable[[], bool], attempts: int = 200) -> bool:
        """Poll ``check`` up to ``attempts`` times, ``interval`` apart (tests, the CLI)."""
        for _ in range(attempts):
            if check():
                return True
            time.sleep(self.interval)
        return check()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<RedisSwitchboard {_safe_url(self.url)} namespace={self.namespace!r} {state}>"


# Boards whose listener runs, restarted in a forked child.
_listening: weakref.WeakSet[RedisSwitchboard] = weakref.WeakSet()


def _restart_in_child() -> None:
    for board in list(_listening):
        board._after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_restart_in_child)


def _closed(pubsub: Any) -> Any:
    """Close ``pubsub`` (a broken connection may fail to close: it is gone anyway); None."""
    if pubsub is not None:
        with contextlib.suppress(Exception):
            pubsub.close()
    return None


def _safe_url(url: str) -> str:
    """``url`` without its password."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url
