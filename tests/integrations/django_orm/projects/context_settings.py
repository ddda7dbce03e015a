"""A site whose requests run in an earnorm_aop context (ContextMiddleware), with auth."""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
# A file: the ASGI handler runs sync code in another thread (another connection).
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CONTEXT_DB"]}}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "earnorm_aop.integrations.django",
    "ledger",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "earnorm_aop.integrations.django.middleware.ContextMiddleware",
]
ROOT_URLCONF = "context_urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EARNORM_AOP_MASK = ["secret"]  # masked on every model
