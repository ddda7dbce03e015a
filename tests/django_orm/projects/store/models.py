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
