"""The ``store`` app behind django-debug-toolbar with earnorm_aop's plugins panel, for a browser.

Served by ``toolbar_server.py`` with ``runserver``; the database is the file
named by ``EARNORM_AOP_ADMIN_DB``, as for the admin's browser test.
"""

from admin_live_settings import *  # noqa: F403
from admin_live_settings import INSTALLED_APPS, MIDDLEWARE
from debug_toolbar.settings import PANELS_DEFAULTS

INSTALLED_APPS = [*INSTALLED_APPS, "debug_toolbar"]
MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "toolbar_urls"
INTERNAL_IPS = ["127.0.0.1"]
DEBUG_TOOLBAR_PANELS = [
    *PANELS_DEFAULTS,
    "earnorm_aop.integrations.django.debug_toolbar.PluginsPanel",
]
DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": False, "DISABLE_PANELS": set()}
