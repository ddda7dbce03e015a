"""What the built-in plugin tests share: the ``backend`` they run on, Redis, clocks.

A behaviour test asks the ``backend`` fixture for a model (``backend.model(
"timestamp", softdelete={...})``) and drives it only through the backend's
methods (``create``, ``get``, ``visible``, ``query``, ``bulk_update``,
``rows``, ``queries``...), never through one ORM's API, so the same test runs
on every backend.  ``backend`` is the conformance kit's ``earnorm_backend``
(:mod:`earnorm_aop.testing`, the same kit plugin authors use), plus the table
of claims that do not hold on EarnORM.  Which backends run: the
``earnorm_backends`` ini option in pyproject.toml (the EarnORM step of
scripts/test.py sets ``EARNORM_AOP_BACKENDS=earnorm``).

Also here: the ``redis_server`` fixture (a real ``redis-server`` on a free
loopback port) and dotted-path clocks for configuration tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from earnorm_aop.testing import Backend
from earnorm_aop.testing._ci import ci
from earnorm_aop.testing._earnorm import NO_BULK


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


# Behaviour tests whose claim does not hold on EarnORM, and why: they must fail
# there (strict xfail), so a change that makes one pass is noticed.
DIFFERENCES = {
    "test_with_deleted_and_including_deleted_show_hidden_rows": (
        "with_deleted() is awaitable on EarnORM and gives the MongoQuery of _where_calc, "
        "which is not a collection of records"
    ),
    "test_bulk_delete_keeps_earlier_deletion_times": NO_BULK,
    "test_a_bulk_restore_goes_through_with_deleted": NO_BULK,
    "test_deleting_an_unsaved_instance_is_left_to_the_backend": (
        "EarnORM's unlink() of a record never saved is a no-op, not an error"
    ),
    "test_native_validation_revalidates_pydantic_models": (
        "EarnORM's field validation is async: the adapter has no native rules"
    ),
    "test_after_change_is_emitted_with_the_changes": (
        "the event's instance is the EarnORM record, not the tests' Record view of it"
    ),
    "test_bulk_create_invalidates_objects_with_known_keys": (
        "EarnORM generates every id: create() cannot insert under a known key"
    ),
    "test_two_models_never_answer_each_others_get": (
        "EarnORM's ids are ObjectIds, unique across collections: two models never share one"
    ),
    "test_two_models_on_one_redis_never_answer_each_others_get": (
        "EarnORM's ids are ObjectIds, unique across collections: two models never share one"
    ),
}


@pytest.fixture
def backend(earnorm_backend: Backend, request: pytest.FixtureRequest) -> Backend:
    """The kit's ``earnorm_backend`` (one per backend), with EarnORM's known differences.

    On EarnORM, the tests in ``DIFFERENCES`` must fail (strict xfail).
    """
    name = getattr(request.node, "originalname", request.node.name)
    if earnorm_backend.name == "earnorm" and name in DIFFERENCES:
        request.applymarker(pytest.mark.xfail(reason=DIFFERENCES[name], strict=True))
    return earnorm_backend


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
        if ci():
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
