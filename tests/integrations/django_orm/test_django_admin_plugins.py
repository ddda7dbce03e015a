"""The admin of a soft-deleted, audited model: deleted-rows filter, actions, audit history.

A real admin site (``projects/admin_settings.py``; ``store.Note`` is woven
with timestamp, softdelete and audit to a table, and registered with
``PluginAdmin``) driven by Django's test client in a subprocess,
``projects/admin_plugins_session.py``, which prints what it saw as JSON.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from _subprocess import run_json

HERE = Path(__file__).parent
FILTER = ["Not deleted", "Deleted only", "All, deleted included"]


@cache
def session() -> dict[str, Any]:
    env = {"DJANGO_SETTINGS_MODULE": "admin_settings", "PYTHONPATH": str(HERE / "projects")}
    script = str(HERE / "projects" / "admin_plugins_session.py")
    return run_json([sys.executable, script], cwd=HERE / "projects", env=env)


def test_the_list_hides_deleted_rows_by_default() -> None:
    seen = session()["default"]
    assert seen["status"] == 200
    assert seen["titles"] == ["Alpha v2", "Gamma"]
    assert seen["filters"] == [FILTER]
    assert "deleted_marker" not in seen["columns"] and seen["marked"] == 0
    assert "restore_selected" not in seen["actions"]  # nothing to restore in this list
    assert "hard_delete_selected" in seen["actions"]


def test_the_filter_shows_deleted_rows_marked() -> None:
    only, every = session()["deleted_only"], session()["all"]
    assert only["status"] == every["status"] == 200
    assert only["titles"] == ["Beta", "Delta"]
    assert every["titles"] == ["Alpha v2", "Beta", "Delta", "Gamma"]
    assert only["columns"][-1] == every["columns"][-1] == "deleted_marker"
    assert only["marked"] == every["marked"] == 2  # only the deleted rows carry the mark
    assert {"restore_selected", "hard_delete_selected"} <= set(only["actions"])


def test_restore_brings_a_row_back_through_the_plugins() -> None:
    seen = session()
    assert seen["restore"]["status"] == 302
    assert seen["restore"]["deleted_at_after"] is False
    assert seen["restore"]["audit_actions"] == ["create", "soft_delete", "restore"]
    assert seen["deleted_after_restore"]["titles"] == ["Delta"]


def test_delete_permanently_asks_first_then_removes_the_row() -> None:
    seen = session()
    confirm = seen["hard_delete_confirm"]
    assert confirm["status"] == 200 and confirm["lists_gamma"]
    assert confirm["still_there"] is True  # nothing deleted before the confirmation
    done = seen["hard_delete"]
    assert done["status"] == 302 and done["still_there"] is False
    assert done["audit_actions"] == ["create", "soft_delete", "delete"]


def test_history_lists_who_when_and_what_changed_newest_first() -> None:
    seen = session()["history_alpha"]
    assert seen["status"] == 200 and seen["html_has_table"]
    assert [(r["actor"], r["action"]) for r in seen["records"]] == [
        ("bob", "update"),
        ("alice", "create"),
    ]
    assert seen["records"][0]["changes"] == {"title": ["Alpha", "Alpha v2"]}
    assert seen["records"][1]["changes"]["title"] == [None, "Alpha"]
    # the call context of each write: request id, client address, reason
    assert seen["records"][0]["request"] == ["req-42", "10.1.2.3", "typo"]
    assert seen["records"][1]["request"] == [None, None, None]
    assert seen["html_shows_request"]


def test_a_deleted_row_opens_from_the_filtered_list_only() -> None:
    seen = session()
    kept = seen["history_deleted_kept_filter"]
    assert kept["status"] == 200
    assert [r["action"] for r in kept["records"]] == ["soft_delete", "create"]
    assert seen["change_deleted_kept_filter"] == 200
    assert seen["change_deleted_warns"] is True  # the change form says the row is deleted
    assert seen["change_live_warns"] is False
    assert seen["history_deleted_no_filter"]["status"] == 302  # "does not exist", as for any row


def test_actions_follow_permissions() -> None:
    seen = session()
    assert seen["clerk_deleted"]["actions"] == ["restore_selected"]
    assert seen["clerk_hard_delete"] == 302  # refused: the action is not offered
    assert seen["delta_after_clerk"] is True


def test_admins_on_models_without_the_plugin_fail_the_checks() -> None:
    checks = session()["checks"]
    assert checks["note_plugin_admin"] == []
    assert checks["product_softdelete_admin"] == ["earnorm_aop.E101"]
    assert checks["product_audit_admin"] == ["earnorm_aop.E102"]
    assert checks["product_plugin_admin"] == []  # PluginAdmin adds only what applies


def test_the_audit_table_is_browsable_read_only() -> None:
    seen = session()["audit_table"]
    assert seen["status"] == 200
    assert seen["rows"] == 3  # Beta, Delta, then Gamma were soft-deleted
    assert seen["add"] == 403
    assert seen["total"] > seen["rows"]
