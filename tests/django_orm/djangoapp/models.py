"""Models of the adapter tests; plugins declared with the ``plugins`` class attribute."""

from __future__ import annotations

from django.db import models

from .plugins import registry


class Author(models.Model):
    name = models.CharField(max_length=100)

    plugins = ("journal",)
    plugin_registry = registry

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)

    plugins = ("hidden",)
    plugin_registry = registry


class Article(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(
        Author, null=True, blank=True, on_delete=models.CASCADE, related_name="articles"
    )
    tags = models.ManyToManyField(Tag, related_name="articles")

    plugins = ("journal", "hidden", "guard")
    plugin_registry = registry


class SpecialArticle(Article):
    """Multi-table child: inherits Article's plugins, gets its own manager class."""

    extra = models.CharField(max_length=20, default="")


class ArticleProxy(Article):
    class Meta:
        proxy = True


class Note(models.Model):
    """No plugins: must never see any advice."""

    text = models.CharField(max_length=100)


class Stamped(models.Model):
    title = models.CharField(max_length=100)

    plugins = {"stamp": {}}  # noqa: RUF012 - the dict form, read once
    plugin_registry = registry


class HiddenBase(models.Model):
    """Abstract: its plugins apply to each concrete model derived from it."""

    plugins = ("hidden",)
    plugin_registry = registry

    class Meta:
        abstract = True


class Page(HiddenBase):
    title = models.CharField(max_length=100)


class PublishedQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def published(self) -> PublishedQuerySet:
        return self.filter(published=True)


class PublishedManager(models.Manager.from_queryset(PublishedQuerySet)):  # type: ignore[misc]
    use_in_migrations = True


class Post(models.Model):
    """A custom default manager (kept in migrations) with a custom QuerySet."""

    title = models.CharField(max_length=100)
    published = models.BooleanField(default=False)

    objects = PublishedManager()

    plugins = ("journal", "hidden")
    plugin_registry = registry


# -- models of the built-in plugin tests (default registry: found by entry points) --------


class Writer(models.Model):
    name = models.CharField(max_length=100)


class Story(models.Model):
    """Every built-in at once, as the quickstart uses them."""

    title = models.CharField(max_length=100)
    views = models.IntegerField(default=0)
    writer = models.ForeignKey(
        Writer, null=True, blank=True, on_delete=models.CASCADE, related_name="stories"
    )

    plugins = {  # noqa: RUF012 - read once, when Django prepares the class
        "validation": {"fields": {"title": {"min_length": 2}}, "native": True},
        "softdelete": {"clock": "djangoapp.clock.tick"},
        "timestamp": {"clock": "djangoapp.clock.tick"},
        "audit": {"sink": "table"},
        "cache": {"prefix": "tests:"},
    }


class Entry(models.Model):
    """Timestamps only, under django-model-utils' field names."""

    title = models.CharField(max_length=100)

    plugins = {  # noqa: RUF012
        "timestamp": {
            "created_field": "created",
            "updated_field": "modified",
            "clock": "djangoapp.clock.tick",
        }
    }
