"""The conformance kit: write a plugin's behaviour checks once, run them on every ORM.

A check takes the ``earnorm_backend`` fixture (from the pytest plugin that
comes with earnorm-aop) and drives models only through it::

    def test_stamps_new_rows(earnorm_backend):
        Article = earnorm_backend.model("stamp", fields={"stamped": (bool, False)})
        article = earnorm_backend.create(Article, title="hello")
        assert earnorm_backend.get(Article, article.id).stamped

pytest runs it once per backend: ``memory`` (plain classes), ``pydantic``,
``django``, ``sqlalchemy``, ``sqlalchemy-async`` and ``earnorm``, or those
named with ``--earnorm-backends=memory,django``.  Django and SQLAlchemy use
SQLite, or a private PostgreSQL cluster with ``--earnorm-db=postgres``.  A
backend whose ORM is not installed is skipped with the reason; under
``CI=true`` a backend named explicitly must run.  Outside pytest,
[`open_backend`][earnorm_aop.testing._backends.open_backend] gives one backend for a ``with`` block.

This is the harness earnorm-aop's own built-in plugins are tested with.
"""

from __future__ import annotations

from ._backends import BACKENDS, BackendUnavailable, make_backend, open_backend, parse_backends
from ._base import Backend, Fields, Methods
from ._django import use_django_setup

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "Fields",
    "Methods",
    "make_backend",
    "open_backend",
    "parse_backends",
    "use_django_setup",
]
