"""The test database switch (``EARNORM_AOP_TEST_DB``) and the private PostgreSQL cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import _postgres
import pytest
from _django_setup import database

TESTS = Path(__file__).parent


def test_the_database_defaults_to_sqlite_and_rejects_unknown_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EARNORM_AOP_TEST_DB", raising=False)
    assert database() == "sqlite"
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", " PostgreS ")
    assert database() == "postgres"
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", "mysql")
    with pytest.raises(RuntimeError, match=r"'mysql'.*sqlite, postgres"):
        database()


def test_missing_binaries_skip_with_how_to_install_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_postgres, "binaries", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        _postgres.start()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _postgres.start()


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_private_cluster_serves_the_test_database_and_is_gone_after_exit() -> None:
    if _postgres.binaries() is None:
        _postgres.unavailable("initdb, pg_ctl and postgres were not found")
    pytest.importorskip("psycopg")
    script = (
        "import json, psycopg, _postgres\n"
        "s = _postgres.start()\n"
        "with psycopg.connect(host=s.host, port=s.port, user=s.user, dbname=s.database) as c:\n"
        "    c.execute('CREATE TABLE t (x int)')\n"
        "    c.execute('INSERT INTO t VALUES (1)')\n"
        "    rows = c.execute('SELECT x FROM t').fetchall()\n"
        "print(json.dumps({'port': s.port, 'folder': str(s.folder), 'rows': rows,\n"
        "                  'listening': __import__('test_postgres_setup')._accepts(s.port)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["rows"] == [[1]] and seen["listening"]
    assert seen["port"] and not _accepts(seen["port"])  # stopped at exit
    assert not Path(seen["folder"]).exists()  # and removed


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_postgres_django_tests_skip_with_the_reason_or_fail_under_ci(
    ci: str, tmp_path: Path
) -> None:
    (tmp_path / "no_postgres.py").write_text(
        "import _postgres\n_postgres.binaries = lambda: None\n"
    )
    env = {
        **os.environ,
        "CI": ci,
        "EARNORM_AOP_TEST_DB": "postgres",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TESTS), *sys.path]),
    }
    command = [sys.executable, "-m", "pytest", "-p", "no_postgres", "-p", "no:cacheprovider"]
    command += [
        "-o",
        "addopts=",
        "-rs",
        str(TESTS / "integrations" / "django_orm" / "test_django_load_hooks.py"),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    out = result.stdout
    assert "apt-get install postgresql" in out
    if ci:
        assert result.returncode == 2, out  # a collection error, not a skip
        assert "CI is set, so the PostgreSQL run must not be skipped" in out
    else:
        assert result.returncode == 5, out  # pytest's "no tests ran": the module was skipped
        assert "1 skipped" in out and "passed" not in out


def test_a_cluster_that_cannot_start_says_why_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """initdb failing (here a stand-in that exits 1): the error has its output, the folder goes."""
    import shutil
    import stat
    import tempfile

    from earnorm_aop.testing import _postgres as kit

    pytest.importorskip("psycopg")
    fake = Path(tempfile.mkdtemp(prefix="earnorm-fake-pg-"))  # not tmp_path: postgres must enter
    try:
        fake.chmod(0o755)
        for tool in ("initdb", "pg_ctl", "postgres"):
            script = fake / tool
            script.write_text(f"#!/bin/sh\necho {tool} refuses >&2\nexit 1\n")
            script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | 0o444)
        monkeypatch.setenv("PG_BIN", str(fake))
        assert kit.binaries() == fake
        made: list[Path] = []
        real = tempfile.mkdtemp

        def remembered(*args: Any, **kwargs: Any) -> str:
            made.append(Path(real(*args, **kwargs)))
            return str(made[-1])

        monkeypatch.setattr(kit.tempfile, "mkdtemp", remembered)
        with pytest.raises(
            RuntimeError, match=r"(?s)could not start a private PostgreSQL cluster.*initdb refuses"
        ):
            kit.start()
        assert made and not made[0].exists()  # removed at once, not at exit
    finally:
        shutil.rmtree(fake, ignore_errors=True)


def test_one_shared_cluster_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from earnorm_aop.testing import _postgres as kit

    started: list[object] = []
    monkeypatch.setattr(kit, "_shared", None)
    monkeypatch.setattr(kit, "start", lambda: started.append(object()) or started[-1])
    first = kit.shared()
    assert kit.shared() is first and len(started) == 1
