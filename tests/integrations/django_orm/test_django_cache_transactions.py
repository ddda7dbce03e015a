"""The cache built-in under transactions, several connections and several databases (Django).

Transactions commit for real (the tests run in autocommit); a second reader is
a thread with its own connection, as another request would be.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from djangoapp.models import Story

from earnorm_aop import registry
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.weaving import weaver


def cache_of(model: type) -> CachePlugin:
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == "cache"]
    assert isinstance(aspect.plugin, CachePlugin)
    return aspect.plugin


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache_of(Story).backend.clear()
    yield
    cache_of(Story).backend.clear()


def in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` in another thread, on that thread's own database connection."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the other connection's work never finished"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def queries(work: Callable[[], Any]) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as captured:
        value = work()
    return value, len(captured.captured_queries)


def title_of(pk: int) -> str:
    return str(Story.objects.get(pk=pk).title)


def test_a_reader_between_the_write_and_the_commit_does_not_keep_the_old_row() -> None:
    story = Story.objects.create(title="v1")
    assert title_of(story.pk) == "v1"  # cached
    with transaction.atomic():
        story.title = "v2"
        story.save()
        # another connection reads the committed row meanwhile, and caches it again
        assert in_thread(lambda: title_of(story.pk)) == "v1"
    assert title_of(story.pk) == "v2"
    assert in_thread(lambda: title_of(story.pk)) == "v2"


def test_a_row_written_in_an_open_transaction_is_read_from_the_database_only() -> None:
    story = Story.objects.create(title="v1")
    with pytest.raises(RuntimeError), transaction.atomic():
        story.title = "uncommitted"
        story.save()
        for _ in range(2):
            title, count = queries(lambda: title_of(story.pk))
            assert (title, count) == ("uncommitted", 1)  # never served from the cache
        raise RuntimeError("roll back")
    assert in_thread(lambda: title_of(story.pk)) == "v1"
    assert title_of(story.pk) == "v1"


def test_what_a_rolled_back_transaction_cached_is_dropped() -> None:
    story = Story.objects.create(title="v1")
    with pytest.raises(RuntimeError), transaction.atomic():
        title_of(story.pk)
        assert queries(lambda: title_of(story.pk)) == ("v1", 0)  # cached inside
        raise RuntimeError("roll back")
    assert queries(lambda: title_of(story.pk)) == ("v1", 1)


def test_a_committed_transactions_reads_stay_cached() -> None:
    story = Story.objects.create(title="v1")
    with transaction.atomic():
        title_of(story.pk)
    assert queries(lambda: title_of(story.pk)) == ("v1", 0)


def test_each_database_has_its_own_entries() -> None:
    # One primary key on both databases, far from what the sequences hand out.
    Story.objects.using("other").create(pk=987_654, title="on other")
    story = Story.objects.create(pk=987_654, title="on default")
    assert title_of(story.pk) == "on default"
    assert Story.objects.db_manager("other").get(pk=story.pk).title == "on other"
    again, count = queries(lambda: Story.objects.db_manager("other").get(pk=story.pk))
    assert again.title == "on other" and again._state.db == "other"
    assert count == 0  # its own entry: served from the cache
    # a write on one database forgets the entries of every database (replicas)
    Story.objects.using("other").filter(pk=story.pk).update(title="other v2")
    assert Story.objects.db_manager("other").get(pk=story.pk).title == "other v2"


def test_a_read_with_softdelete_switched_off_never_fills_the_shared_key() -> None:
    story = Story.objects.create(title="gone")
    story.delete()
    with registry.disabled("softdelete"):
        assert Story.objects.get(pk=story.pk).deleted_at is not None
        Story.objects.get(pk=story.pk)
    with pytest.raises(Story.DoesNotExist):
        Story.objects.get(pk=story.pk)
    assert len(cache_of(Story).backend) == 0  # type: ignore[arg-type]


# -- stampedes: concurrent misses of one key, on real threads and connections ------------

READERS = 6


def concurrent_gets(pk: int, release: Callable[[int, list[str]], bool]) -> tuple[int, list[str]]:
    """``READERS`` threads get ``pk`` at once; each SELECT waits until ``release`` says go.

    Returns the number of SELECTs of the story table and the titles the readers got.
    ``release(started, titles)`` is polled (bounded: never more than a few seconds
    of polling in all) with the SELECTs started so far and the titles returned.
    """
    lock = threading.Lock()
    started = [0]
    titles: list[str] = []
    errors: list[BaseException] = []
    table = Story._meta.db_table
    barrier = threading.Barrier(READERS)

    def hold(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("SELECT") and table in sql:
            with lock:
                started[0] += 1
            for _ in range(1000):
                with lock:
                    if release(started[0], list(titles)):
                        break
                threading.Event().wait(0.005)
        return execute(sql, params, many, context)

    def read() -> None:
        try:
            with connection.execute_wrapper(hold):
                barrier.wait(30)
                title = str(Story.objects.get(pk=pk).title)
            with lock:
                titles.append(title)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return started[0], titles


@pytest.mark.parametrize(("mode", "selects"), [("wait", 1), ("off", READERS)])
def test_one_reader_loads_a_missing_key_while_the_others_wait(mode: str, selects: int) -> None:
    story = Story.objects.create(title="v1")
    cache = cache_of(Story)
    key = cache._key(cache_adapter(), Story, "default", story.pk)
    previous = cache.config.stampede
    cache.config.stampede = mode  # type: ignore[assignment]
    try:
        count, titles = concurrent_gets(
            story.pk,
            # the SELECT goes on once every other reader waits for it, or is in a SELECT too
            lambda started, _: started == READERS or cache.loads.waiting(key) == READERS - 1,
        )
    finally:
        cache.config.stampede = previous
    assert titles == ["v1"] * READERS
    assert count == selects


def test_with_stale_one_reader_reloads_an_expired_entry_and_the_others_get_it_as_it_was() -> None:
    story = Story.objects.create(title="v1")
    cache = cache_of(Story)
    key = cache._key(cache_adapter(), Story, "default", story.pk)
    title_of(story.pk)
    entry = cache.backend.get(key)
    cache.backend.set(key, {**entry, "fresh": 0.0})  # expired, still kept
    Story._base_manager.filter(pk=story.pk).update(title="v2")  # behind the plugins
    previous = cache.config.stampede
    cache.config.stampede = "stale"
    try:
        count, titles = concurrent_gets(
            story.pk, lambda started, done: started == READERS or len(done) == READERS - 1
        )
    finally:
        cache.config.stampede = previous
    assert count == 1
    assert sorted(titles) == ["v1"] * (READERS - 1) + ["v2"]
    assert title_of(story.pk) == "v2"  # reloaded and fresh again


def cache_adapter() -> Any:
    from earnorm_aop.integrations import adapter_for

    return adapter_for(Story)
