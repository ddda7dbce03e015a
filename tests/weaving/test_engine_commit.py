"""Commit-aware advice (``after_commit`` / ``after_rollback``) on plain classes and the engine hook.

A plain class has no transaction: ``after_commit`` runs at once, with what
``after`` advice would get, and ``after_rollback`` never runs.  The engine
defers through its ``scheduler`` extension point (the adapter layer's once
the package is wired); a scheduler that holds the calls shows that the
values were bound at the write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _calls import calls

from earnorm_aop import PluginRegistry, WeavingError, hook, plugin, trace, unweave, with_plugins
from earnorm_aop.weaving import extensions
from earnorm_aop.weaving.pointcut import Kind, parse_pointcut, split_event


def _registry(seen: list[Any], *, on_error: str = "raise") -> PluginRegistry:
    registry = PluginRegistry()

    @plugin("notify", registry=registry, on_error=on_error)  # type: ignore[arg-type]
    class Notify:
        @hook("after_commit:save")
        def committed(self, instance: Any, result: Any, method: str) -> None:
            seen.append(("commit", instance.title, result, method))

        def after_rollback_save(self, instance: Any, result: Any) -> None:
            seen.append(("rollback", instance.title, result))

    return registry


def test_kinds_parse_as_pointcuts_and_as_convention_names() -> None:
    assert parse_pointcut("after_commit:save").kind is Kind.AFTER_COMMIT
    assert parse_pointcut("after_rollback:save|delete").kind is Kind.AFTER_ROLLBACK
    assert split_event("after_commit_save") == (Kind.AFTER_COMMIT, "save")
    assert split_event("after_rollback_delete") == (Kind.AFTER_ROLLBACK, "delete")
    assert split_event("after_save") == (Kind.AFTER, "save")


def test_without_a_transaction_after_commit_runs_at_once_and_after_rollback_never() -> None:
    seen: list[Any] = []

    @with_plugins("notify", registry=_registry(seen))
    class Note:
        title = "a"

        def save(self) -> int:
            return 7

    note = Note()
    with trace() as t:
        assert note.save() == 7
    assert seen == [("commit", "a", 7, "save")]
    assert [r.kind for r in t] == ["after_rollback", "after_commit"]
    unweave(Note)


@pytest.fixture
def held() -> Iterator[list[tuple[Any, Any, Any]]]:
    """A scheduler that keeps what it is given, as a transaction in progress would."""
    calls: list[tuple[Any, Any, Any]] = []

    def hold(model: type, subject: Any, on_commit: Any, on_rollback: Any) -> None:
        calls.append((subject, on_commit, on_rollback))

    with extensions.installed_as(scheduler=lambda model: hold):
        yield calls


def test_the_advice_receives_the_values_bound_at_the_write(held: list[Any]) -> None:
    seen: list[Any] = []

    @with_plugins("notify", registry=_registry(seen))
    class Note:
        def __init__(self) -> None:
            self.title = "first"

        def save(self, tag: str = "x") -> str:
            return tag

    note = Note()
    note.save("one")
    assert seen == []  # nothing runs before the transaction ends
    (subject, on_rollback_none, rollback), (subject2, on_commit, none) = held
    assert subject is note and subject2 is note
    assert on_rollback_none is None and none is None
    note.title = "changed later"
    on_commit()
    rollback()
    # result bound at the write; instance is the object (its later state shows)
    assert seen == [
        ("commit", "changed later", "one", "save"),
        ("rollback", "changed later", "one"),
    ]
    unweave(Note)


@pytest.mark.parametrize(
    ("policy", "raises"), [("raise", True), ("log", False), ("disable", False)]
)
def test_a_failing_deferred_advice_follows_the_error_policy(
    held: list[Any], policy: str, raises: bool, caplog: pytest.LogCaptureFixture
) -> None:
    registry = PluginRegistry()

    @plugin("boom", registry=registry, on_error=policy)  # type: ignore[arg-type]
    class Boom:
        def after_commit_save(self) -> None:
            raise RuntimeError("mail server down")

    @with_plugins("boom", registry=registry)
    class Note:
        def save(self) -> None:
            return None

    Note().save()  # the write itself never fails
    ((_, on_commit, _),) = held
    if raises:
        with pytest.raises(RuntimeError, match="mail server down"):
            on_commit()
    else:
        on_commit()
        assert "mail server down" in caplog.text
        assert registry.get_plugin("boom").enabled
        assert registry.metrics("boom")["failures"] == 1
    unweave(Note)


def test_async_commit_advice_is_refused_at_weave_time() -> None:
    registry = PluginRegistry()

    @plugin("later", registry=registry)
    class Later:
        async def after_commit_save(self) -> None:
            return None

    class Note:
        async def save(self) -> None:
            return None

    with pytest.raises(WeavingError, match=r"after_commit advice 'after_commit_save'.*plain 'def'"):
        with_plugins("later", registry=registry)(Note)
    unweave(Note)


def test_the_scheduler_in_force_is_the_adapter_layers() -> None:
    from earnorm_aop.adapters.base import scheduler_of

    assert extensions.installed().scheduler is scheduler_of
    assert extensions.Extensions().scheduler is not scheduler_of  # the engine's own: none


def test_a_deferred_call_asks_for_no_scheduler(held: list[Any]) -> None:
    """The model's scheduler is decided when the advice is woven, not per write (issue 23)."""
    asked: list[type] = []
    holding = extensions.installed().scheduler

    def scheduler_of(model: type) -> Any:
        asked.append(model)
        return holding(model)

    seen: list[Any] = []
    with extensions.installed_as(scheduler=scheduler_of):

        @with_plugins("notify", registry=_registry(seen))
        class Note:
            title = "a"

            def save(self) -> int:
                return 7

    assert asked == [Note]  # once, for the chain with commit-aware advice
    note = Note()
    counted = calls(note.save)
    assert not [n for n in counted if n.endswith((":scheduler_of", ":adapter_for"))], counted
    assert len(held) == 2 and asked == [Note]  # the held scheduler, asked at weave time
    unweave(Note)


def _flaky() -> tuple[PluginRegistry, type, list[bool]]:
    """``flaky`` (``disable``, ``max_failures=2``) on a ``Note``: its ``after_commit_save``
    fails or succeeds as the next item of the list returned (``False``: it fails)."""
    registry = PluginRegistry()
    outcomes: list[bool] = []

    @plugin("flaky", registry=registry, on_error="disable", max_failures=2)
    class Flaky:
        def after_commit_save(self) -> None:
            if not outcomes.pop(0):
                raise RuntimeError("mail server down")

    @with_plugins("flaky", registry=registry)
    class Note:
        def save(self) -> None:
            return None

    return registry, Note, outcomes


def _write_then_commit(held: list[Any], model: type) -> None:
    """One write, then its transaction's commit (what ``held`` kept of it runs)."""
    model().save()
    calls = [on_commit for _, on_commit, _ in held if on_commit is not None]
    held.clear()
    for on_commit in calls:
        on_commit()


def test_a_deferred_success_resets_the_count_of_consecutive_failures(held: list[Any]) -> None:
    """``disable`` switches a plugin off after ``max_failures`` failures in a row, not in all.

    Three writes in one transaction; at the commit their advice fails, succeeds,
    fails: never two in a row, so the plugin stays on.
    """
    registry, Note, outcomes = _flaky()
    for _ in range(3):
        Note().save()
    outcomes[:] = [False, True, False]
    for _, on_commit, _ in held:
        on_commit()
    metrics = registry.metrics("flaky")
    assert metrics["failures"] == 2 and not metrics["auto_disabled"]
    held.clear()
    for _ in range(2):
        Note().save()
    outcomes[:] = [False, False]  # two in a row
    for _, on_commit, _ in held:
        on_commit()
    assert registry.metrics("flaky")["auto_disabled"]
    unweave(Note)


def test_a_deferred_advice_failing_at_every_commit_disables_its_plugin(held: list[Any]) -> None:
    """Its failures are counted as its own: a write's success between two commits resets nothing.

    Write, commit, write, commit: each write runs the plugin's ``after`` advice
    and the scheduling of ``after_commit_save`` successfully; neither is the
    deferred advice, so its second failure in a row still trips ``max_failures=2``.
    """
    registry = PluginRegistry()
    writes: list[str] = []

    @plugin("mailer", registry=registry, on_error="disable", max_failures=2)
    class Mailer:
        def after_save(self) -> None:
            writes.append("after")

        def after_commit_save(self) -> None:
            raise RuntimeError("mail server down")

    @with_plugins("mailer", registry=registry)
    class Note:
        def save(self) -> None:
            return None

    for expected_failures in (1, 2):
        _write_then_commit(held, Note)
        assert registry.metrics("mailer")["failures"] == expected_failures
    assert writes == ["after", "after"]  # the other advice succeeded at each write
    assert registry.metrics("mailer")["auto_disabled"]
    assert not registry.get_plugin("mailer").enabled
    # Switched on again, it starts afresh: one more failure does not switch it off.
    registry.enable("mailer")
    _write_then_commit(held, Note)
    assert registry.get_plugin("mailer").enabled
    assert registry.metrics("mailer")["consecutive_failures"] == 1
    unweave(Note)


def test_one_deferred_advice_succeeding_does_not_reset_anothers_failures(held: list[Any]) -> None:
    """Two ``after_commit`` advice of one plugin: the failing one's streak is its own."""
    registry = PluginRegistry()
    ran: list[str] = []

    @plugin("hooks", registry=registry, on_error="disable", max_failures=2)
    class Hooks:
        def after_commit_save(self) -> None:
            raise RuntimeError("webhook down")

        @hook("after_commit:save")
        def count(self) -> None:
            ran.append("count")

    @with_plugins("hooks", registry=registry)
    class Note:
        def save(self) -> None:
            return None

    for _ in range(2):
        _write_then_commit(held, Note)
    assert ran == ["count", "count"]  # it succeeded between the other's failures
    assert registry.metrics("hooks")["failures"] == 2
    assert registry.metrics("hooks")["auto_disabled"]
    unweave(Note)


def test_a_deferred_advice_recovering_resets_only_its_own_streak(held: list[Any]) -> None:
    """Fail, succeed, fail at three commits: never ``max_failures=2`` in a row, the plugin stays."""
    registry, Note, outcomes = _flaky()
    outcomes[:] = [False, True, False]
    for _ in range(3):
        _write_then_commit(held, Note)
    assert registry.metrics("flaky")["failures"] == 2
    assert not registry.metrics("flaky")["auto_disabled"]
    unweave(Note)
