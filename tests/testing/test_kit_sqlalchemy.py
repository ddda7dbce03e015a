"""The conformance kit's ``sqlalchemy-async`` backend drives its ``AsyncSession`` to the end.

A session method called from inside another one (a plugin's ``save()`` inside
the delete's flush, as the plugin page's ``before_delete`` does) cannot run on
the backend's loop, which is running the outer one: the kit says so, and the
coroutine it made is closed, not left for the garbage collector to report as
"never awaited" in whatever test runs next.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from earnorm_aop.testing._sqlalchemy import SQLAlchemyBackend


def test_a_session_call_inside_another_is_refused_and_leaves_no_coroutine() -> None:
    backend = SQLAlchemyBackend(asynchronous=True)
    errors: list[str] = []

    async def outer() -> None:
        try:
            backend.commit()  # the loop is running outer(): this commit cannot run now
        except RuntimeError as exc:
            errors.append(str(exc))

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend.wait(outer())
            gc.collect()
        assert errors == [
            "the sqlalchemy-async backend cannot run AsyncSession.commit() inside another "
            "session operation (a write made inside a flush); write it after the flush"
        ]
        assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
        backend.commit()  # the loop is free again: a commit runs
    finally:
        backend.close()


def test_a_coroutine_the_closed_loop_refuses_is_closed_unstarted() -> None:
    backend = SQLAlchemyBackend(asynchronous=True)
    backend.close()  # closes its loop

    async def work() -> int:
        return 1

    coro = work()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="closed"):
            backend.wait(coro)
        assert coro.cr_frame is None  # closed: it will never run, and is not reported
        del coro
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_without_the_fix_a_refused_coroutine_would_be_reported() -> None:
    """The check above can fail: an unstarted coroutine dropped is reported by the collector."""
    loop = asyncio.new_event_loop()
    loop.close()

    async def work() -> int:
        return 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coro = work()
        with pytest.raises(RuntimeError, match="closed"):
            loop.run_until_complete(coro)
        del coro
        gc.collect()
    assert any("never awaited" in str(w.message) for w in caught)
