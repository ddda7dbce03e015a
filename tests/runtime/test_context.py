"""``earnorm_aop.context``: one call context for every plugin, local to a thread or task.

Blocks nest and merge, advice receives the context by asking for ``context``
(both dispatchers, sync and async), the audit plugin records its actor, and
work handed to a thread pool or another process keeps it through
``capture()`` / ``restore()`` (the captured token pickles and turns into JSON).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import Context, PluginRegistry, WeavingError, context, with_plugins
from earnorm_aop.plugins import audit
from earnorm_aop.plugins.audit import AuditRecord

HERE = Path(__file__).parent


def _recorder(reg: PluginRegistry) -> list[Any]:
    """A plugin ``seen`` whose advice of every kind records the context it was given."""
    seen: list[Any] = []

    class Seen:
        def before_save(self, context: Context) -> None:
            seen.append(("before", context))

        def around_save(self, proceed: Any, context: Context) -> Any:
            seen.append(("around", context))
            return proceed()

        def after_save(self, context: Context, result: Any) -> None:
            seen.append(("after", context))

    reg.register("seen", Seen)
    return seen


def test_a_block_sets_values_and_nested_blocks_keep_what_they_do_not_name() -> None:
    assert context.current() == Context()
    with context(actor="alice", tenant="acme") as outer:
        assert outer is context.current()
        assert (context.actor, context.current().tenant) == ("alice", "acme")
        with context(reason="cleanup", request_id="r1"):
            now = context.current()
            assert (now.actor, now.reason, now.request_id) == ("alice", "cleanup", "r1")
            assert now.extra == {"tenant": "acme"}
            with context(actor=None):  # None is a value: it clears the actor
                assert context.actor is None and context.reason == "cleanup"
        assert context.current() is outer
    assert context.current() == Context() and not context.current()


def test_an_unknown_extra_names_what_the_context_has() -> None:
    with (
        context(actor="a", tenant="acme"),
        pytest.raises(AttributeError, match=r"'shop'.*actor, reason, request_id.*tenant"),
    ):
        _ = context.current().shop


def test_set_and_reset_for_middleware() -> None:
    token = context.set(actor="mw", request_id="r9")
    try:
        assert (context.actor, context.request_id) == ("mw", "r9")
    finally:
        context.reset(token)
    assert context.actor is None


def test_adopt_a_captured_context_without_a_block() -> None:
    with context(actor="queued", request_id="r3"):
        data = context.capture().as_dict()
    with context(actor="worker"):
        token = context.adopt(data)  # a task queue's "task starts" signal
        assert (context.actor, context.request_id) == ("queued", "r3")
        context.reset(token)  # its "task ends" signal
        assert context.actor == "worker"


def test_as_a_decorator() -> None:
    @context(reason="nightly")
    def job() -> str | None:
        return context.reason

    assert job() == "nightly"
    assert context.reason is None


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["actor", "reason", "request_id", "tenant", "shard"]),
            st.none() | st.text(max_size=3),
            max_size=3,
        ),
        max_size=5,
    )
)
def test_nested_blocks_see_every_name_from_the_innermost_block_that_set_it(
    blocks: list[dict[str, str | None]],
) -> None:
    expected: dict[str, Any] = {}
    stack = []
    for values in blocks:
        manager = context(**values)
        manager.__enter__()
        stack.append(manager)
        expected.update(values)
        now = context.current()
        for name, value in expected.items():
            assert getattr(now, name) == value
    for manager in reversed(stack):
        manager.__exit__(None, None, None)
    assert context.current() == Context()


def test_advice_of_every_kind_receives_the_context(dispatch: str) -> None:
    reg = PluginRegistry(group=None)
    seen = _recorder(reg)

    @with_plugins("seen", registry=reg)
    class Note:
        def save(self) -> str:
            return "saved"

    with context(actor="alice", reason="r"):
        assert Note().save() == "saved"
    Note().save()
    assert [(kind, c.actor) for kind, c in seen] == [
        ("before", "alice"),
        ("around", "alice"),
        ("after", "alice"),
        ("before", None),
        ("around", None),
        ("after", None),
    ]


def test_async_advice_receives_the_context_of_its_task(dispatch: str) -> None:
    reg = PluginRegistry(group=None)
    seen: list[tuple[str, Any]] = []

    class Seen:
        async def before_save(self, context: Context, instance: Any) -> None:
            await asyncio.sleep(0)  # let the other task run in between
            seen.append((instance.name, context.actor))

    reg.register("seen", Seen)

    @with_plugins("seen", registry=reg)
    class Note:
        def __init__(self, name: str) -> None:
            self.name = name

        async def save(self) -> None:
            await asyncio.sleep(0)

    async def write(name: str, who: str) -> None:
        with context(actor=who):
            await Note(name).save()

    async def main() -> None:
        await asyncio.gather(*(write(f"n{i}", f"user{i}") for i in range(4)))

    asyncio.run(main())
    assert sorted(seen) == [(f"n{i}", f"user{i}") for i in range(4)]


def test_context_wins_over_a_target_parameter_of_that_name() -> None:
    reg = PluginRegistry(group=None)
    seen: list[Any] = []

    class Seen:
        def before_save(self, context: Any, joinpoint: Any) -> None:
            seen.append((context, joinpoint.arguments["context"]))

    reg.register("seen", Seen)

    @with_plugins("seen", registry=reg)
    class Note:
        def save(self, context: str = "target's") -> None:
            pass

    with context(actor="a"):
        Note().save()
    assert seen == [(Context(actor="a"), "target's")]


def test_an_unresolvable_parameter_lists_context_among_the_names() -> None:
    reg = PluginRegistry(group=None)

    class Bad:
        def before_save(self, contxt: Any) -> None:
            pass

    reg.register("bad", Bad)

    class Note:
        def save(self) -> None:
            pass

    with pytest.raises(WeavingError, match=r"'contxt'.*context"):
        with_plugins("bad", registry=reg)(Note)


def test_threads_do_not_share_it() -> None:
    seen: list[Any] = []
    with context(actor="alice"):
        t = threading.Thread(target=lambda: seen.append(context.actor))
        t.start()
        t.join()
    assert seen == [None]


def test_a_thread_pool_worker_keeps_it_with_capture_and_restore() -> None:
    def work(token: Context | None, n: int) -> tuple[Any, Any, int]:
        before = context.actor
        with context.restore(token):
            return before, context.actor, n

    with context(actor="alice", request_id="r1"):
        token = context.capture()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(work, [token] * 4, range(4)))
        plain = pool.submit(lambda: context.actor).result()
        with context(actor="bob"):
            bound = pool.submit(context.bind(lambda: context.actor)).result()
    assert results == [(None, "alice", n) for n in range(4)]
    assert plain is None  # without capture, a worker has its own, empty context
    assert bound == "bob"


def test_audit_records_the_restored_actor_in_a_worker_thread() -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append})
    class Note:
        id: int | None = None
        title = ""

        def save(self) -> None:
            self.id = 1

    with context(actor="alice", reason="import", request_id="r7"):
        token = context.capture()

    def work() -> None:
        with context.restore(token):
            note = Note()
            note.title = "x"
            note.save()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result()
    (record,) = records
    assert record.actor == "alice"
    assert record.extra == {"reason": "import", "request_id": "r7"}


def test_audit_writes_a_non_text_actor_as_text_and_the_old_helpers_still_work() -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append})
    class Note:
        id: int | None = None

        def save(self) -> None:
            self.id = 1

    class User:
        def __str__(self) -> str:
            return "user:7"

    with context(actor=User()):
        Note().save()
    with audit.actor("carol"):
        assert context.actor == "carol" and audit.current_actor() == "carol"
        Note().save()
    assert [r.actor for r in records] == ["user:7", "carol"]


def test_the_captured_token_pickles_and_is_json_ready() -> None:
    with context(actor="alice", reason="r", request_id="q", tenant="acme"):
        token = context.capture()
    assert pickle.loads(pickle.dumps(token)) == token
    assert Context.from_dict(json.loads(json.dumps(token.as_dict()))) == token
    with context.restore(token.as_dict()):
        assert context.current() == token
    with pytest.raises(ValueError, match="unknown keys bogus"):
        Context.from_dict({"bogus": 1})
    with pytest.raises(TypeError, match=r"what context\.capture"):
        context.restore(42).__enter__()  # type: ignore[arg-type]


WORKER = """
import pickle, sys, json
from earnorm_aop import context, with_plugins

records = []

@with_plugins(audit={"sink": records.append})
class Note:
    id = None
    def save(self):
        self.id = 1

token = pickle.loads(sys.stdin.buffer.read())
before = context.actor
with context.restore(token):
    Note().save()
print(json.dumps({"before": before, "actor": records[0].actor, "extra": records[0].extra,
                  "tenant": token.tenant}))
"""


def test_a_subprocess_keeps_it_through_a_pickled_token() -> None:
    with context(actor="alice", request_id="r5", tenant="acme"):
        token = context.capture()
    done = subprocess.run(
        [sys.executable, "-c", WORKER],
        input=pickle.dumps(token),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=HERE.parents[1],
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {
        "before": None,
        "actor": "alice",
        "extra": {"request_id": "r5"},
        "tenant": "acme",
    }


def test_a_context_is_true_when_anything_is_set_extras_included() -> None:
    from earnorm_aop.runtime.context import Context

    assert not Context()
    assert Context(actor="alice") and Context(request_id="r") and Context(reason="x")
    assert Context(extra={"tenant": "acme"})  # only an extra: still something to carry


def test_restoring_none_is_the_empty_context_not_the_current_one() -> None:
    from earnorm_aop import context

    with context(actor="alice", tenant="acme"):
        with context.restore(None) as inside:
            assert not inside and context.actor is None and context.current().extra == {}
        token = context.adopt(None)
        try:
            assert not context.current()
        finally:
            context.reset(token)
        assert context.actor == "alice"
