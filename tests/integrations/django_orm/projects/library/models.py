"""A model that gets its plugins after its table has rows (tests/.../test_django_migrations.py).

The test copies this app to a temporary folder (``makemigrations`` writes
there) and says, in ``LIBRARY_PLUGINS``, which plugins the model names now:
none, then timestamp and softdelete, then none again.
"""

import json
import os

from django.db import models

_PLUGINS = json.loads(os.environ.get("LIBRARY_PLUGINS", "{}"))


class Book(models.Model):
    title = models.CharField(max_length=100)
    published = models.DateTimeField(null=True)

    if _PLUGINS:
        plugins = _PLUGINS
