"""The EarnORM adapter's answers that plugins act on: a record's key, a get's key, an empty save.

- a recordset of several records has no one key (``pk`` is ``None``): a
  plugin never files a write of many under the first one's id;
- ``get(record_id)`` is looked up by key only when the key is an id (text),
  so the cache is never asked for a key EarnORM would not find;
- in the ``update_fields`` mode a write whose values are all as stored writes
  nothing, and the audit records nothing for it, even with ``record_unchanged``.
"""

from __future__ import annotations

from typing import Any

from _earnorm_helpers import run, unique
from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import with_plugins
from earnorm_aop.integrations import adapter_for


def _article(**plugins: Any) -> Any:
    @with_plugins(**plugins)
    class Article(BaseModel):
        _name = unique("article")
        _skip_default_fields = True
        title = fields.StringField(default="")

    return Article


def test_a_recordset_of_several_records_has_no_key(mongo: Any) -> None:
    Article = _article()
    adapter = adapter_for(Article)

    async def scenario() -> None:
        one = await Article.create({"title": "a"})
        await Article.create({"title": "b"})
        both = await Article.search([])
        assert len(both) == 2 and adapter.pk(both) is None
        (only,) = one._ids
        assert adapter.pk(one) == only
        assert adapter.pk(await Article.search([("title", "=", "zzz")])) is None

    run(scenario())


def test_a_get_is_keyed_by_a_text_id_only(mongo: Any) -> None:
    Article = _article()
    adapter = adapter_for(Article)
    assert adapter.lookup_pk(Article, ("65a1b2c3d4e5f60718293a4b",), {}) == (
        "65a1b2c3d4e5f60718293a4b"
    )
    assert adapter.lookup_pk(Article, (), {"record_id": "abc"}) == "abc"
    for odd in (123, None, b"abc", ("a",)):
        assert adapter.lookup_pk(Article, (odd,), {}) is None
    assert adapter.lookup_pk(Article, ("a", "b"), {}) is None  # not get(record_id)


def test_a_write_of_values_as_stored_is_not_audited_in_update_fields_mode(mongo: Any) -> None:
    records: list[Any] = []
    Article = _article(
        changes={"update_fields": True}, audit={"sink": records.append, "record_unchanged": True}
    )

    async def scenario() -> None:
        note = await Article.create({"title": "a"})
        await note.write({"title": "b"})
        assert [r.action for r in records] == ["create", "update"]
        await note.write({"title": "b"})  # as stored: nothing written, nothing recorded
        assert [r.action for r in records] == ["create", "update"]

    run(scenario())
