"""The ``shelf`` project as documented: earnorm_aop's app installed."""

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["earnorm_aop.integrations.django", "shelf"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
