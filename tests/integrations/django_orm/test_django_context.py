"""``ContextMiddleware``: each request runs in an earnorm_aop context (sync and async).

A real site (``projects/context_settings.py``: auth, sessions, the ``ledger``
app whose ``Entry`` is audited into the table) driven by Django's WSGI
``Client`` and ASGI ``AsyncClient`` in a subprocess,
``projects/context_session.py``, which prints what it saw as JSON.  Sync and
async views, through both handlers, see the logged-in user as the actor, the
request id (given or generated, echoed in the response) and the client
address; the audit rows written by the views carry the actor and never a
masked value (``EARNORM_AOP_MASK`` and the model's ``plugin_mask``).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _subprocess import run_json

HERE = Path(__file__).parent
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@cache
def session() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="earnorm-context-") as folder:
        return _run(str(Path(folder) / "db.sqlite3"))


def _run(database: str) -> dict[str, Any]:
    env = {
        "DJANGO_SETTINGS_MODULE": "context_settings",
        "PYTHONPATH": str(HERE / "projects"),
        "CONTEXT_DB": database,
    }
    script = str(HERE / "projects" / "context_session.py")
    return run_json([sys.executable, script], cwd=HERE / "projects", env=env)


CASES = [f"{handler}_{view}" for handler in ("wsgi", "asgi") for view in ("sync", "async")]


@pytest.mark.parametrize("case", CASES)
def test_a_logged_in_request_runs_as_its_user_with_the_given_request_id(case: str) -> None:
    seen = session()[f"{case}_user"]
    expected_id = "req-1" if case.startswith("wsgi") else "r2"
    assert seen["status"] == 200
    assert seen["context"] == {
        "actor": "alice",
        "reason": None,
        "request_id": expected_id,
        "extra": {"client": "127.0.0.1"},
    }
    assert seen["header"] == expected_id


@pytest.mark.parametrize("case", CASES)
def test_an_anonymous_request_has_no_actor_and_a_generated_request_id(case: str) -> None:
    seen = session()[f"{case}_anonymous"]
    assert seen["status"] == 200
    assert seen["context"]["actor"] is None
    assert HEX_ID.match(seen["context"]["request_id"])
    assert seen["header"] == seen["context"]["request_id"]


def test_the_context_ends_with_the_request() -> None:
    assert session()["after_requests"] == {
        "actor": None,
        "reason": None,
        "request_id": None,
        "extra": {},
    }


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_settings_choose_the_actor_the_headers_and_the_client_address(handler: str) -> None:
    seen = session()[f"custom_{handler}"]
    assert seen["context"] == {
        "actor": "custom:bob",
        "reason": None,
        "request_id": "t-9",
        "extra": {"client": "10.1.2.3"},
    }
    assert seen["header"] is None  # RESPONSE_HEADER: None


def test_an_unknown_setting_is_refused_with_the_known_keys() -> None:
    message = session()["bad_setting"]
    assert "EARNORM_AOP_CONTEXT has unknown keys BOGUS" in message
    assert "ACTOR" in message and "CLIENT_ADDRESS" in message


def test_audit_rows_carry_the_requests_actor_and_no_masked_value() -> None:
    rows = session()["audit"]
    actors = [r["actor"] for r in rows]
    # per view: wsgi anonymous, wsgi user, asgi user, asgi anonymous; then the custom ones
    assert actors == [None, "alice", "alice", None] * 2 + ["custom:bob", "custom:bob"]
    # and the request id and client address the middleware put in the context (docs/django.md)
    ids = [r["request_id"] for r in rows]
    assert [i if i in ("req-1", "r2", "t-9") else bool(HEX_ID.match(i)) for i in ids] == [
        *(True, "req-1", "r2", True) * 2,
        *("t-9", "t-9"),
    ]
    assert [r["client"] for r in rows] == ["127.0.0.1"] * 8 + ["10.1.2.3"] * 2
    for row in rows:
        assert row["changes"]["secret"] == [None, "***"]  # EARNORM_AOP_MASK
        assert row["changes"]["pin"] == [None, "***"]  # the model's plugin_mask
        assert row["changes"]["title"][1] in ("sync", "async")
    assert "hunter2" not in json.dumps(rows) and "0000" not in json.dumps(rows)
