"""The kit's ``Backend`` base: what a new backend must provide, and what it gets for free.

A backend that lacks an operation the base cannot do generically says so
(``NotImplementedError``) instead of answering wrong; ``update`` and
``transaction`` skip where the ORM has no such thing; ``closing()`` closes.
"""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop.testing._base import Backend, closing


class Bare(Backend):
    name = "bare"

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("model", ()),
        ("get", (object, 1)),
        ("queryset", (object,)),
        ("query", (object,)),
        ("visible", (object,)),
        ("bulk_create", (object, [])),
        ("rows", (object,)),
        ("raw_delete", (object, 1)),
        ("raw_update", (object, 1)),
        ("queries", ()),
        ("audit_rows", (object,)),
    ],
)
def test_an_operation_the_base_cannot_do_is_not_implemented(operation: str, args: Any) -> None:
    with pytest.raises(NotImplementedError):
        getattr(Bare(), operation)(*args)


def test_update_and_transaction_skip_with_the_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match="bare: a model has no instance-level update"):
        Bare().update(object())
    with pytest.raises(pytest.skip.Exception, match="bare: no transactions"):
        Bare().transaction()


def test_closing_closes_and_the_repr_names_the_backend() -> None:
    backend = Bare()
    assert repr(backend) == "<Bare 'bare'>"
    with closing(backend) as inside:
        assert inside is backend and not backend.closed
    assert backend.closed
    with pytest.raises(RuntimeError), closing(Bare()) as failing:
        raise RuntimeError("the block failed")
    assert failing.closed


def test_records_go_through_the_models_own_methods() -> None:
    calls: list[str] = []

    class Note:
        def __init__(self, **values: Any) -> None:
            self.values = values

        def save(self) -> str:
            calls.append("save")
            return "saved"

        def delete(self) -> str:
            calls.append("delete")
            return "deleted"

    backend = Bare()
    note = backend.create(Note, title="a")
    assert note.values == {"title": "a"} and backend.delete(note) == "deleted"
    assert calls == ["save", "delete"]
