"""The kit configures Django itself where the project has not (a plugin's own test suite).

Run in a new process, where Django is not configured yet: the kit's settings
(its own SQLite file, the integration's app and the kit's), a model with a
plugin, an audited write; and a database name the kit does not know is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("django")

from earnorm_aop.testing._django import database

SCRIPT = textwrap.dedent(
    """
    from earnorm_aop.testing import open_backend

    with open_backend("django") as backend:
        Article = backend.model("audit", audit={"sink": "table"})
        backend.create(Article, title="a")
        rows = backend.audit_rows(Article)
        print(len(rows), rows[0]["action"], rows[0]["changes"]["title"])
    """
)


def test_the_kit_configures_django_in_a_project_without_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "EARNORM_AOP_TEST_DB": "sqlite"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "create", "(None,", "'a')"]


def test_a_database_the_kit_does_not_know_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", "oracle")
    with pytest.raises(RuntimeError, match="'oracle' is not a database the kit knows"):
        database()
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", " ")
    assert database() == "sqlite"
