"""The slug plugin for earnorm-aop."""

from .plugin import SlugPlugin, slugify

__all__ = ["SlugPlugin", "slugify"]
