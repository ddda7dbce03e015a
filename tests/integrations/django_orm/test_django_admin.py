"""The admin shows the validation plugin's rules as form errors (200), never a 500.

A real admin site (``projects/admin_settings.py``: admin, auth, sessions and
the ``store`` app, migrated) driven by Django's test client in a subprocess,
``projects/admin_session.py``, which prints what it saw as JSON.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from _subprocess import run_json

HERE = Path(__file__).parent
RULE = "must have at least 3 characters/items"


@cache
def session() -> dict[str, Any]:
    env = {"DJANGO_SETTINGS_MODULE": "admin_settings", "PYTHONPATH": str(HERE / "projects")}
    script = str(HERE / "projects" / "admin_session.py")
    return run_json([sys.executable, script], cwd=HERE / "projects", env=env)


def test_the_add_view_shows_the_rules_as_form_errors() -> None:
    seen = session()
    assert seen["add"]["status"] == 200
    invalid = seen["add_invalid"]
    assert invalid["status"] == 200  # the form again, not a 500
    assert invalid["errors"] == {
        "title": [RULE],
        "price": ["must be greater than or equal to 1"],
    }
    assert RULE in invalid["html"] and "errorlist" in invalid["html"]
    assert seen["rows_after_invalid_add"] == 0
    assert seen["add_valid"]["status"] == 302  # saved, redirected to the list


def test_the_change_view_shows_the_rules_as_form_errors() -> None:
    seen = session()
    assert seen["change"]["status"] == 200
    invalid = seen["change_invalid"]
    assert invalid["status"] == 200
    assert invalid["errors"] == {"title": [RULE]}
    assert RULE in invalid["html"]
    assert seen["title_after_invalid_change"] == "Lamp"


def test_the_plugin_fields_are_not_editable_in_the_admin() -> None:
    seen = session()
    assert seen["add"]["fields"] == ["price", "title"]
    assert seen["change"]["fields"] == ["price", "title"]
