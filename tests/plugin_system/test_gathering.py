"""Writes gathered over one bulk write's events (plugin_system.gathering)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop.plugin_system.gathering import GATHERING, gather, gathering


def listener(writes: list[tuple[str, list[Any]]]) -> Any:
    """A listener writing ``item`` under ``key``: gathered when a gathering is open."""

    def write(key: str, items: list[Any]) -> str:
        writes.append((key, list(items)))
        return f"wrote {key}"

    def hear(key: str, item: Any) -> None:
        open_ = GATHERING.get()
        if open_ is None:
            write(key, [item])
        else:
            gather(open_, key, write, key).append(item)

    return hear


def test_outside_a_gathering_each_item_is_written_at_once() -> None:
    writes: list[tuple[str, list[Any]]] = []
    hear = listener(writes)
    hear("a", 1)
    hear("a", 2)
    assert writes == [("a", [1]), ("a", [2])]


def test_a_gathering_writes_each_key_once_at_its_end_and_gives_what_the_writes_did() -> None:
    writes: list[tuple[str, list[Any]]] = []
    hear = listener(writes)
    with gathering() as written:
        for i in range(3):
            hear("a", i)
            hear("b", -i)
        assert writes == []  # nothing written while the rows' events fire
    assert written == ["wrote a", "wrote b"]
    assert writes == [("a", [0, 1, 2]), ("b", [0, -1, -2])]
    assert GATHERING.get() is None


def test_a_nested_bulk_write_adds_to_the_open_gathering() -> None:
    writes: list[tuple[str, list[Any]]] = []
    hear = listener(writes)

    with gathering():
        hear("a", "before")
        with gathering() as inner:
            hear("a", "inner")
        assert inner == [] and writes == []  # the outer gathering's end writes
        hear("a", "after")
    assert writes == [("a", ["before", "inner", "after"])]


def test_what_was_gathered_is_written_when_a_listener_raises() -> None:
    writes: list[tuple[str, list[Any]]] = []
    hear = listener(writes)

    with pytest.raises(RuntimeError, match="listener failed"), gathering():
        hear("a", 1)
        raise RuntimeError("listener failed")
    assert writes == [("a", [1])]
    assert GATHERING.get() is None


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers()), max_size=30))
def test_every_item_is_written_once_in_order_per_key(items: list[tuple[str, int]]) -> None:
    writes: list[tuple[str, list[Any]]] = []
    hear = listener(writes)

    with gathering():
        for key, item in items:
            hear(key, item)
    keys = list(dict.fromkeys(k for k, _ in items))
    assert [k for k, _ in writes] == keys  # one write per key, first heard first
    for key, written in writes:
        assert written == [i for k, i in items if k == key]
