"""Commit-aware advice on Django: ``transaction.on_commit`` and the rollback side.

Real commits (the tests run in autocommit, never inside a test-wide
transaction), on whichever database the suite runs on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from djangoapp.models import Writer

from earnorm_aop import PluginRegistry, plugin, unweave, weave


@pytest.fixture
def seen() -> Iterator[list[Any]]:
    """``Writer`` with a plugin recording its commit-aware advice; unwoven after."""
    calls: list[Any] = []
    registry = PluginRegistry()

    @plugin("notify", registry=registry)
    class Notify:
        def after_commit_save(self, instance: Any) -> None:
            calls.append(("commit", instance.name))

        def after_rollback_save(self, instance: Any) -> None:
            calls.append(("rollback", instance.name))

    weave(Writer, "notify", registry=registry)
    yield calls
    unweave(Writer)


def test_in_autocommit_after_commit_runs_at_once(seen: list[Any]) -> None:
    Writer.objects.create(name="ann")
    assert seen == [("commit", "ann")]


def test_after_commit_waits_for_the_outermost_commit(seen: list[Any]) -> None:
    with transaction.atomic():
        Writer.objects.create(name="ann")
        with transaction.atomic():
            Writer.objects.create(name="bob")
        assert seen == []
    assert seen == [("commit", "ann"), ("commit", "bob")]


def test_a_rolled_back_transaction_runs_after_rollback_only(seen: list[Any]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        Writer.objects.create(name="ann")
        raise RuntimeError("abort")
    assert seen == [("rollback", "ann")]
    assert not Writer.objects.exists()


def test_a_rolled_back_savepoint_runs_its_own_rollback_advice_and_drops_its_commit(
    seen: list[Any],
) -> None:
    with transaction.atomic():
        Writer.objects.create(name="kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            Writer.objects.create(name="undone")
            raise RuntimeError("abort the savepoint")
        assert seen == [("rollback", "undone")]
    assert seen == [("rollback", "undone"), ("commit", "kept")]
    assert list(Writer.objects.values_list("name", flat=True)) == ["kept"]


def test_set_rollback_counts_as_a_rollback(seen: list[Any]) -> None:
    with transaction.atomic():
        Writer.objects.create(name="ann")
        transaction.set_rollback(True)
    assert seen == [("rollback", "ann")]
    # the connection keeps working, and the next transaction starts clean
    with transaction.atomic():
        Writer.objects.create(name="bob")
    assert seen == [("rollback", "ann"), ("commit", "bob")]


def test_a_transaction_on_another_alias_does_not_hold_the_advice(seen: list[Any]) -> None:
    with transaction.atomic(using="other"):
        Writer.objects.create(name="ann")  # written to "default", in autocommit
        assert seen == [("commit", "ann")]
