"""The quickstart's model: plugins named in a class attribute, read when Django prepares it."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from earnorm_aop.integrations.django.typing import SoftDeletable, Timestamped


# The mixins only tell type checkers what the plugins add (docs/typing.md).
class Article(SoftDeletable, Timestamped, models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)

    plugins: ClassVar[dict[str, dict[str, Any]]] = {
        "validation": {"fields": {"title": {"required": True, "min_length": 3}}},
        "timestamp": {},  # created_at / updated_at
        "softdelete": {},  # deleted_at, restore(), hard_delete(), with_deleted()
        "audit": {"sink": "table", "exclude": ["updated_at"]},
        "cache": {"ttl": 60},  # get(pk=...) served from memory after the first read
    }

    def __str__(self) -> str:
        return self.title
