"""The cache across processes on PostgreSQL and Redis: no stale row after the writers commit.

Writer processes increment rows under contention (each in a transaction
holding the row's lock) while reader processes read them through the cache
(``Session.get``), all on the private PostgreSQL cluster and one
redis-server (``tests/_cache_worker.py``).  Once every writer has committed,
no cached read may differ from the row, and no entry left in Redis may: a read
that began before a commit must never store its old row after that commit's
invalidation (the invalidation stamp, compared and stored in one Lua script).
The work is bounded by counts: writes per writer, checked reads per reader.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from _builtin_backends import RedisServer, redis_binary
from _cache_worker import CHECKED, DONE, ERRORS, READS, ROWS, STALE, WIDTH, model
from _cache_worker import read as run_reader
from _cache_worker import write as run_writer

from earnorm_aop.plugins import cache_codec
from earnorm_aop.weaving import weaver

pytest.importorskip("psycopg")

WRITERS, READERS = 2, 3


def eventually(check: Any, attempts: int = 6000, pause: float = 0.02) -> bool:
    import time

    for _ in range(attempts):
        if check():
            return True
        time.sleep(pause)
    return bool(check())


def test_no_stale_entry_or_read_after_the_writers_commit() -> None:
    import _postgres
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    server = _postgres.shared()
    db_url = f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/{server.database}"
    redis = RedisServer(redis_binary())
    engine, StaleRow = model(db_url, redis.url)
    try:
        StaleRow.metadata.drop_all(engine)
        StaleRow.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([StaleRow(id=pk, value=0) for pk in range(1, ROWS + 1)])
            session.commit()
        ctx = multiprocessing.get_context("spawn")
        writers: Any = ctx.Array("i", WRITERS * WIDTH, lock=False)
        readers: Any = ctx.Array("i", READERS * WIDTH, lock=False)
        done = ctx.Event()
        processes = [
            ctx.Process(target=run_writer, args=(db_url, redis.url, i, writers, 150, i))
            for i in range(WRITERS)
        ] + [
            ctx.Process(target=run_reader, args=(db_url, redis.url, i, readers, done, 20_000, 150))
            for i in range(READERS)
        ]
        for p in processes:
            p.start()
        try:
            assert eventually(lambda: all(writers[i * WIDTH + DONE] for i in range(WRITERS)))
            done.set()
            assert eventually(lambda: all(readers[i * WIDTH + DONE] for i in range(READERS)))
        finally:
            for p in processes:
                p.join(60)
                if p.is_alive():
                    p.kill()
                    p.join()
        column = lambda array, count, col: [array[i * WIDTH + col] for i in range(count)]  # noqa: E731
        with Session(engine) as session:
            rows = dict(session.execute(select(StaleRow.id, StaleRow.value)).tuples().all())
        assert sum(rows.values()) == WRITERS * 150  # every write committed
        entries = {}
        for key in redis.client.keys("stale:[^\x1f]*"):
            entry = cache_codec.loads(redis.client.get(key))
            entries[entry["values"]["id"]] = entry["values"]["value"]
        stale_entries = {pk: (v, rows[pk]) for pk, v in entries.items() if v != rows[pk]}
        assert stale_entries == {}
        assert column(readers, READERS, STALE) == [0] * READERS
        assert all(n >= 150 for n in column(readers, READERS, CHECKED))
        assert all(n > 0 for n in column(readers, READERS, READS))
        assert column(writers, WRITERS, ERRORS) + column(readers, READERS, ERRORS) == [0] * 5
    finally:
        weaver.unweave(StaleRow)
        engine.dispose()
        redis.stop()
