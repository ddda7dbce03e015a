"""The ``shelf`` project without earnorm_aop's app: its models' plugins go unwoven."""

from wired_settings import *  # noqa: F403

INSTALLED_APPS = ["shelf"]
