"""A project whose models declare plugins but lack our app fails Django's system checks.

The real scenario runs in subprocesses on the project in ``projects/``: the app
``shelf`` declares plugins with ``plugins = [...]`` and never imports
earnorm_aop; ``unwired_settings`` leaves ``earnorm_aop.integrations.django``
out of ``INSTALLED_APPS``, ``wired_settings`` has it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.db import models
from django.test.utils import isolate_apps

from earnorm_aop import unweave
from earnorm_aop.integrations._django_startup import check_plugin_declarations
from earnorm_aop.integrations.django.checks import check_declared_plugins, declarations
from earnorm_aop.weaving import weaver

PROJECT = Path(__file__).parent / "projects"
APP = "'earnorm_aop.integrations.django'"


def run(settings: str, code: str | None = None, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -c code`` (or ``python -m earnorm_aop args``) in the project, with ``settings``."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-c", code] if code is not None else [sys.executable, *args]
    return subprocess.run(
        command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


MAKEMIGRATIONS = """
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "makemigrations", "--check", "--dry-run"])
"""

# When a project imports earnorm_aop: before Django (a settings or manage.py
# import), or after django.setup() (an AppConfig.ready, a view module...).
IMPORT_ORDERS = {
    "before_django": "import earnorm_aop\n" + MAKEMIGRATIONS,
    "after_setup": "import django\ndjango.setup()\nimport earnorm_aop\n" + MAKEMIGRATIONS,
}


@pytest.mark.parametrize("order", sorted(IMPORT_ORDERS))
def test_makemigrations_fails_with_a_check_error_naming_the_fix(order: str) -> None:
    done = run("unwired_settings", IMPORT_ORDERS[order])
    assert done.returncode == 1, done.stdout + done.stderr
    err = done.stderr
    assert "SystemCheckError" in err
    for model, plugins in (
        ("shelf.Book", "timestamp, softdelete"),
        ("shelf.Magazine", "timestamp"),
    ):
        assert f"{model}: (earnorm_aop.E001) The model declares plugins ({plugins})" in err
    assert f"HINT: Add {APP} to INSTALLED_APPS" in err
    assert "shelf.Shelf" not in err  # no plugins declared
    assert "Remove field" not in done.stdout  # no migration dropping the plugin fields


def test_the_check_fails_even_when_the_models_happen_to_be_woven() -> None:
    """Imported before the models, the integration weaves them: still an error (import order)."""
    done = run(
        "unwired_settings",
        "import earnorm_aop.integrations.django\n"
        "import django\n"
        "django.setup()\n"
        "from shelf.models import Book\n"
        "from earnorm_aop.weaving import weaver\n"
        "assert weaver.is_woven(Book, 'softdelete')\n" + MAKEMIGRATIONS,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shelf.Book: (earnorm_aop.E001)" in done.stderr
    assert "woven here only because something imported the integration" in done.stderr
    assert f"HINT: Add {APP} to INSTALLED_APPS" in done.stderr


def test_without_the_check_makemigrations_would_drop_the_plugin_fields() -> None:
    """What the check prevents: nothing imports earnorm_aop, the fields look removed."""
    done = run("unwired_settings", MAKEMIGRATIONS)
    assert done.returncode == 1
    assert "Remove field created_at from book" in done.stdout


def test_with_the_app_installed_the_check_passes_and_no_migration_is_needed() -> None:
    done = run("wired_settings", IMPORT_ORDERS["before_django"])
    assert done.returncode == 0, done.stderr
    assert "No changes detected" in done.stdout


def test_cli_check_flags_every_unwoven_model_though_nothing_imported_the_library() -> None:
    done = run("unwired_settings", None, "-m", "earnorm_aop", "check")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["FAIL", "shelf.Book:", "earnorm_aop.E001:"],
        ["FAIL", "shelf.Magazine:", "earnorm_aop.E001:"],
    ]
    assert all("they are not woven" in line and f"Add {APP}" in line for line in lines)


def test_cli_check_json_on_a_django_project() -> None:
    done = run("unwired_settings", None, "-m", "earnorm_aop", "check", "--json")
    assert done.returncode == 1, done.stderr
    results = {r["target"]: r for r in json.loads(done.stdout)}
    assert set(results) == {"shelf.Book", "shelf.Magazine"}
    book = results["shelf.Book"]
    assert (book["ok"], book["error"]) == (False, "earnorm_aop.E001")
    assert APP in book["hint"]

    done = run("wired_settings", None, "-m", "earnorm_aop", "check", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        # "changes": the shared change tracking timestamp requires
        {"target": "shelf.Book", "ok": True, "plugins": ["changes", "softdelete", "timestamp"]},
        {"target": "shelf.Magazine", "ok": True, "plugins": ["changes", "timestamp"]},
    ]


def test_importing_earnorm_aop_imports_no_django() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, earnorm_aop\n"
            "print(sorted(m for m in sys.modules if m.startswith('django')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- in this process (Django configured with the app, tests/_django_setup.py) ------------


def test_the_check_is_registered_and_passes_for_the_test_project() -> None:
    assert check_plugin_declarations in checks.registry.registry.get_checks()
    assert [e for e in checks.run_checks() if e.id.startswith("earnorm_aop.")] == []
    assert {d.label for d in declarations()} >= {"djangoapp.Article", "djangoapp.PluginItem"}
    assert all(not d.unwoven for d in declarations())


@pytest.fixture
def isolated() -> Iterator[tuple[type, Any]]:
    """A model declaring plugins, and its isolated app config; unwoven afterwards."""
    with isolate_apps("djangoapp") as registry:

        class Shelved(models.Model):
            title = models.CharField(max_length=10)

            plugins = ("timestamp", "softdelete")

            class Meta:
                app_label = "djangoapp"

        yield Shelved, registry.get_app_config("djangoapp")
    if Shelved in weaver.woven_classes():
        unweave(Shelved)


def test_a_declared_plugin_unwoven_at_runtime_is_reported(isolated: tuple[type, Any]) -> None:
    model, config = isolated
    assert check_declared_plugins([config]) == []
    unweave(model, "softdelete")
    (error,) = check_declared_plugins([config])
    assert error.id == "earnorm_aop.E002"
    assert error.obj is model
    assert "but softdelete is not woven on it" in error.msg
