from django.db import models


class Product(models.Model):
    title = models.CharField(max_length=50)
    price = models.IntegerField(default=1)

    plugins = {  # noqa: RUF012 - read once, when Django prepares the class
        "validation": {"fields": {"title": {"min_length": 3}, "price": {"ge": 1}}},
        "timestamp": {},
    }

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    """Soft-deleted and audited: the admin's deleted-rows filter, actions and history."""

    title = models.CharField(max_length=50)
    body = models.TextField(blank=True, default="")

    plugins = {  # noqa: RUF012 - read once, when Django prepares the class
        "timestamp": {},
        "softdelete": {},
        "audit": {"sink": "table", "exclude": ["created_at", "updated_at"]},
    }

    def __str__(self) -> str:
        return self.title
