"""Quickstart on EarnORM: the built-in plugins on an async MongoDB model.

Needs Python 3.12+ and ``pip install 'earnorm-aop[earnorm]'`` (EarnORM 0.1.4
and mongomock-motor); run it with ``.venv312/bin/python
examples/earnorm_quickstart.py`` after ``python3 scripts/test.py`` made that
virtualenv.  No MongoDB server is needed: ``use_mongomock()`` puts EarnORM on
an in-memory database.  It declares an ``Article`` with validation, timestamp,
softdelete, audit and cache, and prints what each did.
"""

# EarnORM (Python 3.12+) is not in the virtualenv the examples are type-checked in.
# pyright: reportMissingImports=false

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginModel, explain, registry
from earnorm_aop.integrations.earnorm import use_mongomock
from earnorm_aop.plugins.audit import AuditRecord, actor
from earnorm_aop.plugins.validation import ValidationFailed

TRAIL: list[AuditRecord] = []
logging.getLogger("earnorm").setLevel(logging.ERROR)  # EarnORM logs every call at INFO


class Article(PluginModel, BaseModel):
    _name = "article"
    title = fields.StringField()
    views = fields.IntegerField()

    class Meta:
        plugins: ClassVar[dict[str, dict[str, Any]]] = {
            "validation": {"fields": {"title": {"required": True, "max_length": 80}}},
            "timestamp": {},
            "softdelete": {},
            "audit": {"sink": TRAIL.append, "exclude": ["updated_at"]},
            "cache": {"ttl": 60},
        }


async def main() -> None:
    db = use_mongomock("quickstart")
    collection = db[Article._name]

    article = await Article.create({"title": "Hello", "views": 0})
    print(
        f"created {article.id}: created_at == updated_at: "
        f"{await article.created_at == await article.updated_at}"
    )

    with actor("alice"):
        await article.write({"views": 1})
    doc = await collection.find_one({})
    print(f"write kept created_at and moved updated_at: {doc['created_at'] < doc['updated_at']}")

    try:
        await Article.create({"title": ""})
    except ValidationFailed as exc:
        print(
            f"validation refused a create: {exc.errors}; "
            f"documents: {await collection.count_documents({})}"
        )

    first = await Article.get(article.id)  # the logical get: a record with its values
    await collection.update_one({}, {"$set": {"views": 99}})  # behind EarnORM's back
    second = await Article.get(article.id)
    print(f"second get served from the cache: {await second.views == await first.views}")

    await article.unlink()
    visible = await Article.search([])
    print(
        f"unlink() kept the document: visible={len(visible)}, "
        f"in collection={await collection.count_documents({})}"
    )
    await article.restore()
    print(f"restore() brought it back: {len(await Article.search([]))} visible")

    registry.disable("softdelete")
    try:
        await article.unlink()
    finally:
        registry.enable("softdelete")
    print(
        f"with softdelete switched off, unlink() deleted it: "
        f"{await collection.count_documents({}) == 0}"
    )

    print("audit trail:")
    for record in TRAIL:
        changes: dict[str, Any] = {k: v for k, v in record.changes.items() if k != "id"}
        print(f"  {record.action} by {record.actor or '-'}: {sorted(changes)}")
    print(explain(Article))


if __name__ == "__main__":
    asyncio.run(main())
