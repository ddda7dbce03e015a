"""``RedisSwitchboard``: plugin switch states shared through Redis (the ``redis`` extra).

Layout, per namespace ``NS``:

* the hash ``earnorm_aop:NS:switches``: one field per plugin holding its
  :class:`~earnorm_aop.runtime.switchboard.SwitchState` as JSON, and the field
  ``__version__``, the namespace's counter (each write takes the next value);
* the channel ``earnorm_aop:NS:switches:changes``, on which every write is
  announced with the state it wrote.

Each process that shares a registry runs one background thread, the
*listener*.  It subscribes, then reads the whole hash (so nothing written in
between is missed), applies what is newer than what it knows, and from then
on applies each announcement within ``interval`` seconds; every ``resync``
seconds it reads the hash again, in case an announcement was lost.  Local
changes are written by the same thread, each in one ``WATCH``/``MULTI``
transaction with its announcement.

When Redis cannot be reached the process keeps its last known states, logs
one warning per outage and retries every ``retry`` seconds; model operations
never wait for Redis.  On reconnect it reads the hash first.  A local change
made during the outage is written then, unless that plugin's shared state
changed meanwhile (the shared one wins).  A Redis that comes back *empty*
(restarted without persistence) is filled again from the states the
processes know, with their versions, so no final state is lost.

A process forked after ``share()`` (a pre-forking server that imports the
application first) starts its own listener in the child: the parent's
thread does not survive a fork.

Importing this module does not import ``redis``; creating a board does.
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

_VERSION = "__version__"


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
        raise ImportError(
            "RedisSwitchboard needs the redis client: pip install 'earnorm-aop[redis]'"
        ) from exc
    return redis


class RedisSwitchboard(Switchboard):
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
        # Local changes waiting to be written, by hash field: (what, origin, base
        # version), ``what`` being the new enabled flag or the new options.
        self._pending: dict[str, tuple[Any, str, int]] = {}
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self._outage_logged = False

    # -- reading and writing, usable without a registry (the CLI) -----------------------

    def states(self) -> dict[str, SwitchState]:
        """Every shared state of the namespace, by plugin name (raises if unreachable)."""
        raw: dict[str, str] = self.client.hgetall(self.key)
        return {
            name: SwitchState.from_dict(json.loads(v))
            for name, v in sorted(raw.items())
            if name != _VERSION and not is_config_field(name)
        }

    def configs(self) -> list[SharedConfig]:
        """Every shared configuration of the namespace (raises if unreachable)."""
        raw: dict[str, str] = self.client.hgetall(self.key)
        return [
            SharedConfig.from_dict(json.loads(v))
            for name, v in sorted(raw.items())
            if is_config_field(name)
        ]

    def version(self) -> int:
        """The namespace's counter: the version of the last write."""
        return int(self.client.hget(self.key, _VERSION) or 0)

    def set(
        self, name: str, enabled: bool, *, origin: str = "cli", expect: int | None = None
    ) -> SwitchState | None:
        """Write ``name``'s state and announce it; return what was written.

        With ``expect``, only if the plugin's shared version is still
        ``expect`` (0: never written); otherwise nothing is written and the
        result is ``None``.  Raises when Redis cannot be reached.
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
        """One transaction: check ``field``'s version, bump the counter, write, announce."""
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    raw = pipe.hget(self.key, field)
                    current = 0 if raw is None else int(json.loads(raw)["version"])
                    if expect is not None and current != expect:
                        pipe.unwatch()
                        return None
                    entry = make(int(pipe.hget(self.key, _VERSION) or 0) + 1)
                    text = json.dumps(entry.as_dict())
                    pipe.multi()
                    pipe.hset(self.key, mapping={field: text, _VERSION: entry.version})
                    pipe.publish(self.channel, text)
                    pipe.execute()
                    return entry
                except self._watch_error:
                    continue

    # -- sharing a registry -------------------------------------------------------------

    def attach(self, registry: PluginRegistry) -> None:
        """Read the shared states (if Redis answers), apply them, start the listener."""
        super().attach(registry)
        try:
            self._catch_up()
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
        self._pending_lock = threading.Lock()
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
        self._queue(name, enabled, origin)

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        """Queue a local reconfiguration for the listener to write (returns at once)."""
        self._queue(config_field(name, model), (name, model, config), "reconfigure")

    def _queue(self, field: str, what: Any, origin: str) -> None:
        # A field changed twice before being written is written once, with the
        # last value, against the version the first change was made on.
        with self._pending_lock:
            queued = self._pending.get(field)
            base = queued[2] if queued is not None else self.known_version(field)
            self._pending[field] = (what, origin, base)

    def pending(self) -> dict[str, Any]:
        """Local changes not written yet: plugin name -> enabled, config field -> options."""
        with self._pending_lock:
            return {
                field: item[0][2] if is_config_field(field) else item[0]
                for field, item in self._pending.items()
            }

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
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=self.interval)
                if message is not None and message.get("type") == "message":
                    self._take(json.loads(message["data"]))
                self._flush()
                if time.monotonic() - last_sync >= self.resync:
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
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=self.interval)
            if message is not None and message.get("type") == "subscribe":
                return pubsub
        pubsub.close()
        raise TimeoutError(f"no subscription confirmation on {self.channel!r}")

    def _catch_up(self) -> None:
        """Read every shared state and apply the newer ones; refill a Redis that lost them."""
        for _ in range(2):  # a refill makes the second read find the states again
            raw: dict[str, str] = self.client.hgetall(self.key)
            remote = int(raw.pop(_VERSION, 0) or 0)
            known: dict[str, SwitchState | SharedConfig] = {
                **self.known(),
                **self.known_configs(),
            }
            if known and remote < max(s.version for s in known.values()):
                self._refill(known)
                continue
            for text in raw.values():
                self._take(json.loads(text))
            return

    def _take(self, data: dict[str, Any]) -> None:
        """Apply one entry read from the hash or an announcement."""
        if data.get("kind") == "config":
            self.apply_config(SharedConfig.from_dict(data))
        else:
            self.apply(SwitchState.from_dict(data))

    def _refill(self, known: dict[str, SwitchState | SharedConfig]) -> None:
        """Write back the states Redis lost (each where it is missing or older), versions kept."""
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    raw = pipe.hgetall(self.key)
                    remote = int(raw.pop(_VERSION, 0) or 0)
                    fields: dict[str, Any] = {}
                    for name, state in known.items():
                        there = raw.get(name)
                        if there is None or int(json.loads(there)["version"]) < state.version:
                            fields[name] = json.dumps(state.as_dict())
                    fields[_VERSION] = max([remote, *(s.version for s in known.values())])
                    pipe.multi()
                    pipe.hset(self.key, mapping=fields)
                    pipe.execute()
                    break
                except self._watch_error:
                    continue
        log.warning(
            "switchboard %s: Redis had lost the shared states (restarted empty?); "
            "wrote back the %d this process knew",
            self.namespace,
            len(fields) - 1,
        )

    def _flush(self) -> None:
        """Write the queued local changes (each only over the version it was made against)."""
        while True:
            with self._pending_lock:
                if not self._pending:
                    return
                field = next(iter(self._pending))
                item = self._pending[field]
            what, origin, base = item
            written: SwitchState | SharedConfig | None
            if is_config_field(field):
                name, model, config = what
                written = self.set_config(name, model, config, origin=origin, expect=base)
            else:
                written = self.set(field, what, origin=origin, expect=base)
            with self._pending_lock:
                if self._pending.get(field) == item:
                    del self._pending[field]
            if written is not None:
                self.remember(written)
                continue
            log.info(
                "switchboard %s: the local change of %r was not written: its shared "
                "state changed meanwhile; applying the shared one",
                self.namespace,
                field,
            )
            raw = self.client.hget(self.key, field)
            if raw is not None:
                self._take(json.loads(raw))

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
