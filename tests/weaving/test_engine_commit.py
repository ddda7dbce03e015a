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

    with extensions.installed_as(scheduler=hold):
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
    from earnorm_aop.adapters.base import schedule

    assert extensions.installed().scheduler is schedule
    assert extensions.Extensions().scheduler is not schedule  # the engine's own: no transaction


def test_a_deferred_success_resets_the_count_of_consecutive_failures(held: list[Any]) -> None:
    """``disable`` switches a plugin off after ``max_failures`` failures in a row, not in all.

    Three writes in one transaction; at the commit their advice fails, succeeds,
    fails: never two in a row, so the plugin stays on.
    """
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
