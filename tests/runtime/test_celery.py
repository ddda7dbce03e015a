"""The documented Celery pattern (docs/operations.md) with a real worker and a real Redis broker.

The signal handlers are the page's own block, written to a module as they
stand; the app module around them is what a user would write: a Celery app on
the Redis the test starts, a model with ``audit`` whose sink appends each
record to a file, and a task that saves one.  The worker is ``celery worker``
in a child process (the ``solo`` pool: one task at a time, in queue order), so
the context crosses a real process boundary in real message headers.

A task queued from a transaction is queued when it commits (Django's
``transaction.on_commit``, as the page says): one whose transaction rolls
back is never published, so it never runs with that request's context.  A
later task from the same worker is then the proof: when it has run, every
task queued before it has too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _builtin_backends import redis_server, redis_url  # noqa: F401
from _doc_blocks import blocks

from earnorm_aop import context
from earnorm_aop.weaving import weaver

pytest.importorskip("celery", reason="celery is in the test extra (pip install -e '.[test]')")

_APP = """
import json
import os

from celery import Celery

import celery_context  # noqa: F401  (the page's signal handlers, connected on import)
from earnorm_aop import with_plugins
from earnorm_aop.integrations.memory import MemoryModel

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BROKER"])
app.conf.update(
    task_default_queue=os.environ["SHOP_QUEUE"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


def to_file(record):
    line = {
        "title": record.changes.get("title", (None, None))[1],
        "actor": record.actor,
        "request_id": record.extra.get("request_id"),
        "pid": os.getpid(),
    }
    with open(os.environ["SHOP_AUDIT"], "a") as out:
        out.write(json.dumps(line) + "\\n")


@with_plugins(audit={"sink": to_file})
class Order(MemoryModel):
    id: int | None = None
    title: str = ""


@app.task
def place_order(title):
    Order(title=title).save()
    return os.getpid()
"""


def _signal_handlers() -> str:
    """The page's Celery block (the one that connects ``before_task_publish``)."""
    (block,) = [
        b for b in blocks("docs/operations.md") if "before_task_publish" in b.code and b.fragment
    ]
    return block.code


@pytest.fixture
def shop(
    tmp_path: Path,
    redis_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Any, Path]]:
    """The app module imported here, and a ``celery worker`` child running it; the audit file."""
    (tmp_path / "celery_context.py").write_text(_signal_handlers())
    (tmp_path / "shop_tasks.py").write_text(textwrap.dedent(_APP))
    audit = tmp_path / "audit.jsonl"
    env = {
        "SHOP_BROKER": redis_url,
        "SHOP_QUEUE": f"q-{uuid.uuid4().hex[:8]}",
        "SHOP_AUDIT": str(audit),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(weaver.woven_classes())
    import shop_tasks

    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "shop_tasks", "worker"),
            *("--pool", "solo", "--loglevel", "WARNING", "--without-heartbeat"),
            *("--without-gossip", "--without-mingle", "-n", f"shop-{os.getpid()}@%h"),
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            **env,
            "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield shop_tasks, audit
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        shop_tasks.app.close()
        for name in ("shop_tasks", "celery_context"):
            sys.modules.pop(name, None)
        for klass in set(weaver.woven_classes()) - before:
            weaver.unweave(klass)
        if os.environ.get("EARNORM_AOP_SHOW_WORKER"):
            print(output)


def _records(audit: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []


def _run(task: Any, *args: Any) -> int:
    """Queue ``task`` and wait for the worker to finish it (bounded: a stuck worker fails)."""
    pid: int = task.delay(*args).get(timeout=120)
    return pid


def test_a_task_writes_audit_records_with_the_context_of_the_request_that_queued_it(
    shop: tuple[Any, Path],
) -> None:
    tasks, audit = shop
    with context(actor="alice", request_id="req-1"):
        worker_pid = _run(tasks.place_order, "first")
    assert worker_pid != os.getpid()  # it ran in the worker process
    with context(actor="bob", request_id="req-2"):
        _run(tasks.place_order, "second")
    _run(tasks.place_order, "anonymous")  # queued outside any request
    assert _records(audit) == [
        {"title": "first", "actor": "alice", "request_id": "req-1", "pid": worker_pid},
        {"title": "second", "actor": "bob", "request_id": "req-2", "pid": worker_pid},
        # the worker does not carry the last task's context over to the next one
        {"title": "anonymous", "actor": None, "request_id": None, "pid": worker_pid},
    ]


def test_a_task_queued_in_a_transaction_that_rolls_back_never_runs(shop: tuple[Any, Path]) -> None:
    import _django_setup

    _django_setup.configure()
    from django.db import transaction

    tasks, audit = shop

    class Refused(Exception):
        pass

    with context(actor="mallory", request_id="req-rolled-back"):
        with pytest.raises(Refused), transaction.atomic():
            transaction.on_commit(lambda: tasks.place_order.delay("never"))
            raise Refused
        with transaction.atomic():
            transaction.on_commit(lambda: tasks.place_order.delay("committed"))
    with context(actor="carol", request_id="req-after"):
        _run(tasks.place_order, "after")  # the worker has run everything queued before it
    records = _records(audit)
    assert [r["title"] for r in records] == ["committed", "after"]
    assert all(r["request_id"] != "req-rolled-back" or r["title"] == "committed" for r in records)
    assert records[0]["actor"] == "mallory"  # the committed one carries its request's context
    assert records[1]["request_id"] == "req-after"
