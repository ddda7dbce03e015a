"""Models of the adapter tests; plugins declared with the ``plugins`` class attribute."""

from __future__ import annotations

from django.db import models
from model_utils.models import SoftDeletableModel, TimeStampedModel

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


# -- django-model-utils parity (test_django_model_utils_parity.py) -------


class ParityShelf(models.Model):
    """No plugins: the parent whose related managers the parity tests read."""

    name = models.CharField(max_length=50)


class UtilsItem(TimeStampedModel, SoftDeletableModel):
    """django-model-utils' own base classes, used as its documentation shows."""

    title = models.CharField(max_length=100)
    shelf = models.ForeignKey(
        ParityShelf, null=True, blank=True, on_delete=models.CASCADE, related_name="utils_items"
    )


class PluginItem(models.Model):
    """The same model with our built-ins (default options, real clock)."""

    title = models.CharField(max_length=100)
    shelf = models.ForeignKey(
        ParityShelf, null=True, blank=True, on_delete=models.CASCADE, related_name="plugin_items"
    )

    plugins = ["timestamp", "softdelete"]  # noqa: RUF012 - read once, when Django prepares the class


# -- lookups through relations (test_django_relations.py) -----------------


class Bookcase(models.Model):
    """No plugins; declared before the soft-deleting model it names (a lazy relation)."""

    name = models.CharField(max_length=50)
    featured = models.ForeignKey(
        "Volume", null=True, blank=True, on_delete=models.SET_NULL, related_name="featured_on"
    )
    volumes = models.ManyToManyField("Volume", blank=True, related_name="shelves")


class Publisher(models.Model):
    name = models.CharField(max_length=100)


class Volume(models.Model):
    title = models.CharField(max_length=100)
    publisher = models.ForeignKey(
        Publisher, null=True, blank=True, on_delete=models.CASCADE, related_name="volumes"
    )
    genres = models.ManyToManyField("Genre", blank=True, related_name="volumes")

    plugins = ["softdelete"]  # noqa: RUF012


class Genre(models.Model):
    """Soft-deleting, and defined after the model whose many-to-many names it."""

    name = models.CharField(max_length=50)

    plugins = ["softdelete"]  # noqa: RUF012


class Review(models.Model):
    text = models.CharField(max_length=100)
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="reviews")

    plugins = ["softdelete"]  # noqa: RUF012


class Bio(models.Model):
    """A soft-deleting one-to-one: to-one joins are never restricted."""

    text = models.CharField(max_length=100)
    publisher = models.OneToOneField(Publisher, on_delete=models.CASCADE, related_name="bio")

    plugins = ["softdelete"]  # noqa: RUF012


class SpecialVolume(Volume):
    """Multi-table child: its ``deleted_at`` is a column of the parent's table."""

    curator = models.ForeignKey(
        Publisher, null=True, blank=True, on_delete=models.CASCADE, related_name="special_volumes"
    )


class Reader(models.Model):
    name = models.CharField(max_length=50)
    loans = models.ManyToManyField(Volume, through="Loan", related_name="readers")


class Loan(models.Model):
    """An explicit through model (no plugins)."""

    reader = models.ForeignKey(Reader, on_delete=models.CASCADE)
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE)


class Pamphlet(models.Model):
    """Another plugin that hides rows (``veil``), to show the mechanism is not softdelete's."""

    title = models.CharField(max_length=100)
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="pamphlets")

    plugins = ("veil",)
    plugin_registry = registry
