"""Settings of the ``blog`` app for tools that load the project: django-stubs' mypy plugin.

The quickstart configures Django itself (``settings.configure``); a type
checker reads this module (``examples/mypy.ini``).
"""

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["earnorm_aop.integrations.django", "blog"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
