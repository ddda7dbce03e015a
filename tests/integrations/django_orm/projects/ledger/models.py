from django.db import models


class Entry(models.Model):
    title = models.CharField(max_length=50)
    secret = models.CharField(max_length=50, default="")
    pin = models.CharField(max_length=10, default="")

    plugins = {"audit": {"sink": "table"}}  # noqa: RUF012 - read when Django prepares the class
    plugin_mask = ["pin"]  # noqa: RUF012 - masked on this model only

    def __str__(self) -> str:
        return self.title
