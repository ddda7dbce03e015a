"""softdelete re-configured on a subclass: the methods it contributes use the subclass's options."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from _calls import calls, ours
from _hypothesis_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import unweave, weave, with_plugins
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.weaving.weaver import effective_aspects


@pytest.fixture
def models() -> Iterator[tuple[type, type]]:
    store = MemoryStore()

    @with_plugins("softdelete")
    class Doc(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    @with_plugins(softdelete={"field": "removed_at"})
    class Memo(Doc):
        pass

    yield Doc, Memo
    unweave(Memo)
    unweave(Doc)


def test_restore_hard_delete_and_with_deleted_follow_the_subclass(
    models: tuple[type, type],
) -> None:
    _, Memo = models
    memo = Memo(title="m")
    memo.save()
    memo.delete()
    assert memo.removed_at is not None
    assert memo.deleted_at is None  # the parent's field is not the subclass's
    assert [m.id for m in Memo.with_deleted()] == [memo.id]
    assert list(Memo.get_queryset()) == []
    memo.restore()
    assert memo.removed_at is None
    assert [m.id for m in Memo.get_queryset()] == [memo.id]
    memo.hard_delete()
    with including_deleted():
        assert list(Memo.get_queryset()) == []


def test_the_parent_keeps_its_own_configuration(models: tuple[type, type]) -> None:
    Doc, _ = models
    doc = Doc(title="d")
    doc.save()
    doc.delete()
    assert doc.deleted_at is not None
    assert [d.id for d in Doc.with_deleted()] == [doc.id]
    doc.restore()
    assert doc.deleted_at is None


def test_a_subclass_unwoven_uses_its_parents_configuration_again(
    models: tuple[type, type],
) -> None:
    """Its own methods (bound to its own options) go with it; the parent's are inherited."""
    _, Memo = models
    assert "restore" in vars(Memo)  # its own: another instance of the plugin than Doc's
    unweave(Memo, "softdelete")
    assert "restore" not in vars(Memo)
    memo = Memo(title="m")
    memo.save()
    memo.deleted_at = "then"
    memo.save()
    memo.restore()
    assert memo.deleted_at is None


def test_a_subclass_of_the_same_configuration_adds_no_method() -> None:
    store = MemoryStore()

    @with_plugins("softdelete")
    class Doc(MemoryModel):
        __store__ = store
        id: int | None = None

    @with_plugins("softdelete")
    class Copy(Doc):
        pass

    assert "restore" not in vars(Copy) and "with_deleted" not in vars(Copy)
    unweave(Copy)
    unweave(Doc)


def _pair() -> tuple[type, type]:
    store = MemoryStore()

    class Doc(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    class Memo(Doc):
        pass

    return Doc, Memo


def test_a_subclass_sharing_its_parents_methods_keeps_them_when_the_parent_is_unwoven() -> None:
    """Found by the property test below: a subclass woven with its parent's options used the
    parent's methods, and lost them (``restore`` gone) when the parent was unwoven."""
    Doc, Memo = _pair()
    weave(Doc, "softdelete")
    weave(Memo, "softdelete")
    try:
        assert "restore" not in vars(Memo)  # the parent's serve it
        unweave(Doc, "softdelete")
        (in_force,) = [a for a in effective_aspects(Memo) if a.name == "softdelete"]
        assert Memo.restore.__earnorm_from__[0] is in_force.plugin
        memo = Memo(title="m")
        memo.save()
        memo.delete()
        memo.restore()
        assert memo.deleted_at is None
    finally:
        unweave(Memo)
        unweave(Doc)


def test_a_subclass_keeps_its_options_when_the_parent_is_woven_again_with_others() -> None:
    """The parent re-configured (another instance of the plugin): the subclass's methods still
    run the subclass's instance, not the parent's new one."""
    Doc, Memo = _pair()
    weave(Doc, "softdelete")
    weave(Memo, "softdelete")
    try:
        weave(Doc, "softdelete", field="removed_at")
        (in_force,) = [a for a in effective_aspects(Memo) if a.name == "softdelete"]
        assert Memo.restore.__earnorm_from__[0] is in_force.plugin
        assert Doc.restore.__earnorm_from__[0] is not in_force.plugin
        memo = Memo(title="m")
        memo.save()
        memo.delete()
        assert memo.deleted_at is not None
        memo.restore()
        assert memo.deleted_at is None
    finally:
        unweave(Memo)
        unweave(Doc)


def test_the_contributed_methods_look_nothing_up_per_call(models: tuple[type, type]) -> None:
    """The plugin instance and the adapter are decided when the plugin is woven (issue 23)."""
    _, Memo = models
    memo = Memo(title="m")
    memo.save()
    memo.delete()
    for call in (memo.restore, Memo.with_deleted, memo.hard_delete):
        counted = ours(calls(call))
        per_call = (":adapter_for", ":effective_aspects", ":contributed_methods", ":model_methods")
        assert not [n for n in counted if n.endswith(per_call)], counted


_FIELDS = ("deleted_at", "removed_at")
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["weave", "unweave"]), st.sampled_from([0, 1]), st.sampled_from(_FIELDS)
    ),
    max_size=8,
)


@settings(max_examples=examples(60))
@given(_OPS)
def test_every_class_runs_the_instance_in_force_on_it(ops: list[tuple[str, int, str]]) -> None:
    """Whatever weaves and unweaves the parent and the subclass make, each class's contributed
    methods run the softdelete instance in force on it (its own, else its parent's): bound when
    woven, never looked up per call (issue 23)."""
    Doc, Memo = classes = _pair()
    own = [False, False]
    try:
        for op, which, field in ops:
            klass = classes[which]
            if op == "weave":
                weave(klass, "softdelete", field=field)
                own[which] = True
            elif own[which]:
                unweave(klass, "softdelete")
                own[which] = False
            for checked in classes:
                in_force = [a for a in effective_aspects(checked) if a.name == "softdelete"]
                if not in_force:
                    continue
                plugin = in_force[0].plugin
                for name in ("restore", "hard_delete"):
                    assert getattr(checked, name).__earnorm_from__[0] is plugin, (checked, name)
                with_deleted = inspect.getattr_static(checked, "with_deleted")
                assert with_deleted.__func__.__earnorm_from__[0] is plugin
    finally:
        unweave(Memo)
        unweave(Doc)
