"""A worker process of the cache's cross-process test (importable, so ``spawn`` can start it).

Each worker maps its own ``StaleRow`` on the private PostgreSQL cluster, with
the ``cache`` plugin on a shared redis-server.  A *writer* increments random
rows, each in a transaction holding the row's lock (``SELECT ... FOR
UPDATE``, never served from a cache) and commits; a *reader* reads random rows
with ``Session.get`` (the cache) in fresh sessions.  Once the parent says the
writers are done, a reader checks each cached read against the row read
without the cache and counts the ones that differ (stale).
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Mapped, mapped_column

# Columns of a worker's row in the status array.
DONE, READS, CHECKED, STALE, ERRORS, WIDTH = 0, 1, 2, 3, 4, 5
ROWS = 4


def model(db_url: str, redis_url: str) -> tuple[Any, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase

    from earnorm_aop import with_plugins

    class Base(DeclarativeBase):
        pass

    class StaleRow(Base):
        __tablename__ = "stale_row"
        id: Mapped[int] = mapped_column(primary_key=True)
        value: Mapped[int] = mapped_column(default=0)

    cache = {"backend": "redis", "url": redis_url, "prefix": "stale:", "ttl": 60, "timeout": 2}
    with_plugins("cache", cache=cache)(StaleRow)
    return create_engine(db_url, pool_size=2), StaleRow


def write(db_url: str, redis_url: str, index: int, status: Any, rounds: int, seed: int) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    engine, StaleRow = model(db_url, redis_url)
    rng = random.Random(seed)
    row = index * WIDTH
    for _ in range(rounds):
        pk = rng.randrange(1, ROWS + 1)
        try:
            with Session(engine) as session:
                statement = select(StaleRow).where(StaleRow.id == pk).with_for_update()
                found = session.execute(statement).scalar_one()
                found.value += 1
                session.commit()
        except Exception:
            status[row + ERRORS] += 1
    status[row + DONE] = 1
    engine.dispose()


def read(
    db_url: str, redis_url: str, index: int, status: Any, done: Any, rounds: int, checks: int
) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    engine, StaleRow = model(db_url, redis_url)
    rng = random.Random(index)
    row = index * WIDTH
    for _ in range(rounds):
        checking = done.is_set()  # every writer had committed before this read began
        pk = rng.randrange(1, ROWS + 1)
        try:
            with Session(engine) as session:
                cached = session.get(StaleRow, pk).value
            if checking:
                with Session(engine) as session:
                    actual = session.scalar(select(StaleRow.value).where(StaleRow.id == pk))
                status[row + CHECKED] += 1
                if cached != actual:
                    status[row + STALE] += 1
                if status[row + CHECKED] >= checks:
                    break
        except Exception:
            status[row + ERRORS] += 1
        status[row + READS] += 1
    status[row + DONE] = 1
    engine.dispose()
