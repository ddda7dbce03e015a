"""The ``library`` project: SQLite in LIBRARY_DB, or the PostgreSQL database LIBRARY_PG names."""

import json
import os

if os.environ.get("LIBRARY_PG"):
    DATABASES = {"default": json.loads(os.environ["LIBRARY_PG"])}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["LIBRARY_DB"]}
    }
INSTALLED_APPS = ["earnorm_aop.integrations.django", "library"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
