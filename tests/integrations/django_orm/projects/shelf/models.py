"""Models that name their plugins with the ``plugins`` attribute only: no earnorm_aop import."""

from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=100)

    plugins = ["timestamp", "softdelete"]  # noqa: RUF012 - read once, when Django prepares it


class Stamped(models.Model):
    """Abstract: its plugins apply to each concrete child."""

    plugins = ("timestamp",)

    class Meta:
        abstract = True


class Magazine(Stamped):
    name = models.CharField(max_length=100)


class Shelf(models.Model):
    """No plugins: never reported."""

    label = models.CharField(max_length=20)
