"""``admin_settings`` served by ``runserver`` for a real browser: a file database, static files.

The database is the file named by ``EARNORM_AOP_ADMIN_DB`` (the server's
threads share it); ``DEBUG`` is on so ``runserver`` serves the admin's CSS.
"""

import os

from admin_settings import *  # noqa: F403
from admin_settings import INSTALLED_APPS

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["EARNORM_AOP_ADMIN_DB"]}
}
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles"]
STATIC_URL = "/static/"
