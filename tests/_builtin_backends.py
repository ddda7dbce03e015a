"""Backends the built-in plugin tests run on, behind one small interface.

A behaviour test asks the ``backend`` fixture for a model (``backend.model(
"timestamp", softdelete={...})``) and drives it only through the backend's
methods (``create``, ``get``, ``visible``, ``query``, ``bulk_update``,
``rows``, ``queries``...), never through one ORM's API, so the same test runs
on every backend.  Today: the in-memory store with plain classes and with
pydantic models.  To add Django, write a ``DjangoBackend`` with the same
methods (``queries`` from ``CaptureQueriesContext``, ``rows`` from
``Model._base_manager.values()``) and add ``"django"`` to ``BACKENDS``.

Also here: the ``redis_server`` fixture (a real ``redis-server`` on a free
loopback port) and a dotted-path clock for configuration tests.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from earnorm_aop import PluginRegistry, with_plugins
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore, NotFound
from earnorm_aop.weaving import weaver

# EarnORM (Python 3.12+) runs in scripts/test.py's second step, which names
# its backend here; the main suite runs the others.
BACKENDS = os.environ.get(
    "EARNORM_AOP_BACKENDS", "plain,pydantic,django,sqlalchemy,sqlalchemy-async"
).split(",")
_names = itertools.count(1)

# Fields every test model has besides its primary key ``id``.
FIELDS: dict[str, tuple[Any, Any]] = {"title": (str, ""), "views": (int, 0)}


def fixed_clock() -> datetime:
    """A clock for ``clock="_builtin_backends.fixed_clock"`` options."""
    return datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


class TickingClock:
    """A clock advancing one second per call, from 2024-01-01 UTC."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class MemoryBackend:
    """The in-memory store, with plain classes (``flavour="plain"``) or pydantic models."""

    NotFound: type[BaseException] = NotFound
    """What ``get`` raises for a missing (or hidden) row (Django: ``Model.DoesNotExist``)."""

    def __init__(self, flavour: str) -> None:
        self.name = flavour
        self.store = MemoryStore()
        self._models: list[type] = []

    def model(
        self,
        *plugins: str,
        fields: dict[str, tuple[Any, Any]] | None = None,
        methods: dict[str, Callable[..., Any]] | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> type:
        """A fresh model (``id``, ``title``, ``views`` + ``fields``) with ``plugins`` woven.

        The class is published in this module under a unique name, so pickle
        (the Redis cache) can find it as it would a model defined in a module.
        """
        spec = {"id": (int | None, None), **FIELDS, **(fields or {})}
        name = f"{self.name.capitalize()}Article{next(_names)}"
        body: dict[str, Any] = {"__store__": self.store, **(methods or {})}
        if self.name == "pydantic":
            model: type = pydantic.create_model(  # type: ignore[call-overload]
                name,
                __base__=(MemoryModel, pydantic.BaseModel),
                __module__=__name__,
                **spec,
            )
            for key, value in body.items():
                setattr(model, key, value)
        else:
            body["__annotations__"] = {k: t for k, (t, _) in spec.items()}
            body.update({k: default for k, (_, default) in spec.items()})
            body["__module__"] = __name__
            model = type(name, (MemoryModel,), body)
        model.__qualname__ = name
        setattr(sys.modules[__name__], name, model)
        self._models.append(model)
        return with_plugins(*plugins, registry=registry, **configured)(model)

    # -- instances -----------------------------------------------------------------

    def new(self, model: type, **values: Any) -> Any:
        return model(**values)

    def create(self, model: type, **values: Any) -> Any:
        obj = model(**values)
        obj.save()
        return obj

    def get(self, model: type, pk: Any) -> Any:
        """The logical ``get`` by primary key (Django: ``Model.objects.get(pk=pk)``)."""
        return model.get(pk)  # type: ignore[attr-defined]

    def update(self, obj: Any, **values: Any) -> Any:
        """The instance-level ``update`` operation.

        A backend without one (Django maps no method to it) calls
        ``pytest.skip`` here, so only those tests are skipped.
        """
        return obj.update(**values)

    # -- querysets -------------------------------------------------------------------

    def queryset(self, model: type) -> Any:
        """The default queryset (Django: ``Model.objects.all()``)."""
        return model.get_queryset()  # type: ignore[attr-defined]

    def query(self, model: type, **conditions: Any) -> Any:
        return self.queryset(model).filter(**conditions)

    def visible(self, model: type) -> list[Any]:
        """Primary keys the default queryset returns, in order."""
        return sorted(o.id for o in self.queryset(model))

    def bulk_create(self, model: type, objs: Any) -> Any:
        return model.save_many(objs)  # type: ignore[attr-defined]

    def bulk_update(self, queryset: Any, **values: Any) -> Any:
        return queryset.update(**values)

    def bulk_delete(self, queryset: Any) -> Any:
        return queryset.delete()

    # -- the database underneath -------------------------------------------------------

    def close(self) -> None:
        """Unweave and unpublish the test's models, so later tests (and rebuilds) never see them."""
        for model in self._models:
            weaver.unweave(model)
            vars(sys.modules[__name__]).pop(model.__qualname__, None)
        self._models.clear()

    def rows(self, model: type) -> dict[Any, dict[str, Any]]:
        """Every stored row by primary key, hidden ones included, read without plugins."""
        return {row["id"]: row for row in self.store.rows(model)}

    def raw_delete(self, model: type, pk: Any) -> None:
        """Remove a row without any plugin seeing it (as raw SQL would)."""
        del self.store.table(model)[pk]

    def raw_update(self, model: type, pk: Any, **values: Any) -> None:
        """Change a stored row without any plugin seeing it (as raw SQL would)."""
        self.store.table(model)[pk].update(values)

    def queries(self) -> AbstractContextManager[list[str]]:
        """``with backend.queries() as q:`` collects the statements run inside."""
        return self.store.capture()

    def audit_rows(self, model: type) -> list[dict[str, Any]]:
        """Records of the audit plugin's ``table`` sink for ``model``."""
        return list(self.store.audit)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Each backend the built-ins are tested on (see the module docstring to add one)."""
    if request.param == "django":  # a real SQLite database (tests/_django_backend.py)
        from _django_backend import django_backend

        yield from django_backend()
        return
    if request.param.startswith("sqlalchemy"):  # tests/_sqlalchemy_backend.py
        from _sqlalchemy_backend import sqlalchemy_backend

        yield from sqlalchemy_backend(asynchronous=request.param == "sqlalchemy-async")
        return
    if request.param == "earnorm":  # EarnORM on mongomock-motor (tests/_earnorm_backend.py)
        from _earnorm_backend import earnorm_backend

        yield from earnorm_backend(request)
        return
    memory = MemoryBackend(request.param)
    try:
        yield memory
    finally:
        memory.close()


# -- Redis ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` child process on a loopback port; ``url`` to connect.

    ``port`` restarts a server where a stopped one was (its clients reconnect).
    """

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        self.client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.client.close()


def redis_binary() -> str:
    """The redis-server binary; skip (or, when ``CI`` is set, fail) if it is absent."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the Redis tests must run")
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session, flushed by ``redis_url`` per test."""
    server = RedisServer(redis_binary())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.client.flushall()
    return redis_server.url
