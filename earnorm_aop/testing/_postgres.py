"""A private PostgreSQL server for the Django tests (``EARNORM_AOP_TEST_DB=postgres``).

The tests never use a server they did not start: ``start()`` runs ``initdb`` in
a temporary folder, starts that cluster with ``pg_ctl`` on a free loopback port
(127.0.0.1 only, trust authentication, no fsync: the data is thrown away),
creates the test database and registers a stop-and-remove at interpreter exit.

PostgreSQL refuses to run as root, so when the tests run as root the cluster
belongs to the ``postgres`` system user that Debian's ``postgresql`` package
creates, and the server's commands run as that user (``subprocess``'s
``user=``).  Missing binaries or psycopg skip the PostgreSQL run with a reason
saying what to install; under ``CI`` they fail it instead, since CI must run it.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ._ci import ci

DATABASE = "earnorm_aop_test"
SUPERUSER = "postgres"
_INSTALL = (
    "install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; "
    "macOS: brew install postgresql) and psycopg 3 (pip install 'psycopg[binary]')"
)


@dataclass(frozen=True)
class Server:
    """Connection settings of a running private cluster."""

    host: str
    port: int
    user: str
    database: str
    version: str
    folder: Path
    """The cluster's temporary folder (data, log, socket), removed at exit."""


def unavailable(reason: str) -> NoReturn:
    """Skip the PostgreSQL tests, or fail them when ``CI`` is set (CI must run them)."""
    message = f"EARNORM_AOP_TEST_DB=postgres: {reason}; {_INSTALL}"
    if ci():
        pytest.fail(f"{message}. CI is set, so the PostgreSQL run must not be skipped")
    pytest.skip(message, allow_module_level=True)


def binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first.

    Debian keeps them out of PATH (in /usr/lib/postgresql/N/bin); elsewhere
    they are usually on PATH.  ``PG_BIN`` overrides the search.
    """
    candidates = [os.environ.get("PG_BIN", "")]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> dict[str, Any]:
    """``subprocess`` arguments that run the server's commands as a non-root user."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        unavailable(
            "the tests run as root and PostgreSQL refuses to, but there is no "
            "'postgres' system user to run it as (the postgresql package creates one)"
        )
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(command: list[str], owner: dict[str, Any], folder: Path) -> None:
    result = subprocess.run(
        command,
        cwd=folder,  # a folder the owner can enter
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C", "HOME": str(folder)},
        **owner,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed (exit code {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def start() -> Server:
    """Start a private cluster with the test database; it is stopped and removed at exit."""
    folder_bin = binaries()
    if folder_bin is None:
        unavailable("initdb, pg_ctl and postgres were not found (PATH, /usr/lib/postgresql)")
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg 3 is not installed")
    owner = _owner()
    folder = Path(tempfile.mkdtemp(prefix="earnorm-postgres-"))
    if owner:
        os.chown(folder, owner["user"], owner["group"])
    data, log = folder / "data", folder / "server.log"
    port = _free_port()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped and (data / "postmaster.pid").exists():
            stopped = True
            command = [str(folder_bin / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]
            subprocess.run(command, cwd=folder, capture_output=True, **owner)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    try:
        _run(
            [
                str(folder_bin / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            owner,
            folder,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(folder),
            # a throwaway cluster: durability buys nothing
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
        }
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        pg_ctl = str(folder_bin / "pg_ctl")
        _run([pg_ctl, "start", "-D", str(data), "-l", str(log), "-w", "-o", options], owner, folder)
    except RuntimeError as error:
        server_log = log.read_text(errors="replace") if log.exists() else ""
        stop()
        message = f"could not start a private PostgreSQL cluster: {error}\n{server_log}"
        raise RuntimeError(message) from error
    with psycopg.connect(
        host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    return Server("127.0.0.1", port, SUPERUSER, DATABASE, version, folder)


_shared: Server | None = None


def shared() -> Server:
    """One private cluster for this process, started on first use (the SQLAlchemy tests)."""
    global _shared
    if _shared is None:
        _shared = start()
    return _shared
