"""What the migration journeys share: Django's ``makemigrations``/``migrate`` and Alembic's
``revision --autogenerate``/``upgrade`` on a copied project whose table has rows
(``tests/integrations/django_orm/test_django_migrations.py``,
``tests/integrations/sqlalchemy_orm/test_sqlalchemy_alembic.py``).

Each step is a command in a process of its own, the model naming the plugins an
environment variable gives; the rows are three, one without a published date; the
timestamps a migration gives are checked the same way on both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _subprocess import run_json

PUBLISHED = ["2020-01-02T03:04:05+00:00", None, "2021-06-07T08:09:10+00:00"]
"""The published dates of the three rows the table has before any plugin."""


def parse_time(value: Any) -> datetime | None:
    """A database's datetime (text on SQLite, aware on PostgreSQL) as an aware datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def check_stamped(rows: list[dict[str, Any]]) -> datetime:
    """The migration gave every row one time: ``created_at`` from ``published`` (that time
    where there is none), ``updated_at`` that time, ``deleted_at`` empty; returns the time."""
    (now,) = {parse_time(r["updated_at"]) for r in rows}  # one time for the whole migration
    assert now is not None
    for row in rows:
        assert parse_time(row["created_at"]) == (parse_time(row["published"]) or now)
        assert row["deleted_at"] is None
    return now


def postgres_database(prefix: str) -> tuple[Any, str]:
    """A new database on the private PostgreSQL cluster: (the server, its name)."""
    import _postgres
    import psycopg

    server = _postgres.shared()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server, name


class Journey:
    """A copied project: its tool's commands and code, each in a process of its own.

    ``plugins_variable`` is the environment variable its model reads its plugins from.
    """

    def __init__(self, folder: Path, env: dict[str, str], plugins_variable: str) -> None:
        self.folder = folder
        self.plugins_variable = plugins_variable
        self.env = {**env, plugins_variable: "{}"}

    def run(
        self, module: str, *args: str, plugins: dict[str, Any] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``python -m MODULE ARGS``, the model naming ``plugins`` (``check``: it must pass)."""
        env = {**os.environ, **self.env, self.plugins_variable: json.dumps(plugins or {})}
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.folder,
            env=env,
            stdin=subprocess.DEVNULL,  # nothing to answer a prompt with
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def python(self, code: str, plugins: dict[str, Any] | None = None) -> dict[str, Any]:
        """``code`` run with the model naming ``plugins``: the JSON it prints."""
        env = {**self.env, self.plugins_variable: json.dumps(plugins or {})}
        return run_json([sys.executable, "-c", code], cwd=self.folder, env=env, timeout=180)
