"""Adding plugins to a model whose table has rows, with Django's own commands, on a real project.

The ``library`` app (``projects/library``) is copied to a temporary folder, as
``makemigrations`` writes there.  Its ``Book`` table gets rows first; then the
model names ``timestamp`` (created_at from the existing ``published`` date) and
``softdelete``; ``makemigrations --noinput`` must write one migration that
applies to the populated table (no default asked for), backfills the
timestamps and indexes ``deleted_at``; it is reversed and applied again; then
the plugins are removed and the migration that drops the columns is applied
and reversed.  Each step runs in its own process, as a user's commands do,
on SQLite and on the private PostgreSQL cluster (``tests/_postgres.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _migration_journeys import PUBLISHED, Journey, check_stamped, postgres_database

# Each step a command in a process of its own: a minute or more a test, so the
# default run leaves them to CI (tests/_ci_only.py); test_django_backfills.py runs the
# operations in this process by default.
pytestmark = pytest.mark.ci_only("a migration journey, each command a process of its own")

PROJECTS = Path(__file__).parent / "projects"
TIMESTAMP_AND_SOFTDELETE = {
    "timestamp": {"backfill_created_from": "published"},
    "softdelete": {},
}

READ_TABLE = """
import json, django
django.setup()
from django.db import connection
introspection = connection.introspection
with connection.cursor() as cursor:
    described = introspection.get_table_description(cursor, "library_book")
    columns = [c.name for c in described]
    nullable = {c.name: c.null_ok for c in described}
    constraints = introspection.get_constraints(cursor, "library_book").values()
    cursor.execute("SELECT " + ", ".join(columns) + " FROM library_book ORDER BY id")
    rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
indexed = sorted(
    {col for c in constraints if c["index"] and not c["primary_key"] for col in c["columns"]}
)
table = {"columns": columns, "indexed": indexed, "nullable": nullable, "rows": rows}
print(json.dumps(table, default=str))
"""

ADD_ROWS = """
import json, django
from datetime import datetime
django.setup()
from library.models import Book
for i, published in enumerate(json.loads(%r)):
    when = published and datetime.fromisoformat(published)
    Book.objects.create(title=f"book {i}", published=when)
print(json.dumps({"count": Book.objects.count()}))
"""

USE_PLUGINS = """
import json, django
django.setup()
from library.models import Book
first = Book.objects.order_by("id").first()
first.title = "renamed"
first.save()
last = Book.objects.order_by("id").last()
last.delete()
print(json.dumps({
    "visible": sorted(Book.objects.values_list("title", flat=True)),
    "all": Book.with_deleted().count(),
    "stamped": first.updated_at > first.created_at,
}))
"""


class Project(Journey):
    """The copied ``library`` project and the database its settings point to."""

    def __init__(self, folder: Path, database: dict[str, str]) -> None:
        env = {"DJANGO_SETTINGS_MODULE": "library_settings", "PYTHONPATH": str(folder), **database}
        super().__init__(folder, env, "LIBRARY_PLUGINS")

    def django(self, *args: str, plugins: dict[str, Any] | None = None) -> str:
        """``python -m django ARGS``, the model naming ``plugins``; its output (it must pass)."""
        return self.run("django", *args, plugins=plugins).stdout

    def table(self) -> dict[str, Any]:
        return self.python(READ_TABLE)

    def migrations(self) -> list[str]:
        return sorted(p.name for p in (self.folder / "library" / "migrations").glob("0*.py"))


def _sqlite(folder: Path) -> dict[str, str]:
    return {"LIBRARY_DB": str(folder / "library.sqlite3")}


def _postgres() -> dict[str, str]:
    server, name = postgres_database("library")
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": server.user,
        "HOST": server.host,
        "PORT": str(server.port),
    }
    return {"LIBRARY_PG": json.dumps(settings)}


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    shutil.copytree(PROJECTS / "library", tmp_path / "library")
    shutil.copy(PROJECTS / "library_settings.py", tmp_path / "library_settings.py")
    (tmp_path / "library" / "migrations").mkdir()
    (tmp_path / "library" / "migrations" / "__init__.py").write_text("")
    database = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    yield Project(tmp_path, database)


def _populated(project: Project) -> list[dict[str, Any]]:
    """The table as it was before any plugin: three books, one without a published date."""
    project.django("makemigrations", "library", "--noinput")
    project.django("migrate", "--noinput")
    assert project.python(ADD_ROWS % json.dumps(PUBLISHED)) == {"count": 3}
    before = project.table()
    assert before["columns"] == ["id", "title", "published"]
    rows: list[dict[str, Any]] = before["rows"]
    return rows


def _check_backfilled(table: dict[str, Any], before: list[dict[str, Any]]) -> datetime:
    """The rows are the same and have their timestamps; returns the time the migration gave."""
    assert table["columns"][:3] == ["id", "title", "published"]
    assert set(table["columns"][3:]) == {"created_at", "updated_at", "deleted_at"}
    assert "deleted_at" in table["indexed"]
    assert all(table["nullable"][name] for name in ("created_at", "updated_at", "deleted_at"))
    rows = table["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [(r["id"], r["title"]) for r in before]
    return check_stamped(rows)


def test_adding_and_removing_plugins_on_a_populated_table(project: Project) -> None:
    before = _populated(project)

    started = datetime.now(UTC)
    out = project.django("makemigrations", "library", "--noinput", plugins=TIMESTAMP_AND_SOFTDELETE)
    assert "Backfill created_at on book with the value of published" in out
    assert "Backfill updated_at on book with now" in out
    assert "Add field deleted_at to book" in out
    assert "Backfill deleted_at" not in out  # a soft-deleted mark starts empty
    added = project.migrations()[-1]
    assert project.migrations() == ["0001_initial.py", added]
    source = (project.folder / "library" / "migrations" / added).read_text()
    assert "earnorm_aop.integrations.django.operations.BackfillField(" in source

    project.django("migrate", "--noinput", plugins=TIMESTAMP_AND_SOFTDELETE)
    now = _check_backfilled(project.table(), before)
    assert started <= now <= datetime.now(UTC)
    out = project.django("makemigrations", "--check", "--dry-run", plugins=TIMESTAMP_AND_SOFTDELETE)
    assert "No changes detected" in out

    # reversed: the columns go, the rows stay; applied again: backfilled again
    project.django("migrate", "library", "0001", plugins=TIMESTAMP_AND_SOFTDELETE)
    reverted = project.table()
    assert reverted["columns"] == ["id", "title", "published"]
    assert reverted["rows"] == before
    project.django("migrate", "--noinput", plugins=TIMESTAMP_AND_SOFTDELETE)
    _check_backfilled(project.table(), before)

    # the plugins work on the migrated rows
    used = project.python(USE_PLUGINS, plugins=TIMESTAMP_AND_SOFTDELETE)
    assert used == {"visible": ["book 1", "renamed"], "all": 3, "stamped": True}

    # removing the plugins drops their columns; every row (the soft-deleted one too) stays
    out = project.django("makemigrations", "library", "--noinput")
    for name in ("created_at", "updated_at", "deleted_at"):
        assert f"Remove field {name} from book" in out
    project.django("migrate", "--noinput")
    dropped = project.table()
    assert dropped["columns"] == ["id", "title", "published"]
    assert [r["title"] for r in dropped["rows"]] == ["renamed", "book 1", "book 2"]
    # and that migration reverses too: the columns come back, nullable
    second = project.migrations()[1].removesuffix(".py")
    project.django("migrate", "library", second, plugins=TIMESTAMP_AND_SOFTDELETE)
    restored = project.table()
    assert set(restored["columns"]) >= {"created_at", "updated_at", "deleted_at"}
    assert len(restored["rows"]) == 3


def test_a_backfill_from_a_field_the_model_lacks_is_refused_naming_the_fields(
    project: Project,
) -> None:
    _populated(project)
    plugins = {"timestamp": {"backfill_created_from": "issued"}}
    done = project.run(
        "django", "makemigrations", "library", "--noinput", plugins=plugins, check=False
    )
    assert done.returncode == 1
    assert "library.Book.created_at" in done.stderr
    assert "from the field 'issued', which library.Book does not have" in done.stderr
    assert "id, title, published" in done.stderr
    assert project.migrations() == ["0001_initial.py"]  # nothing written


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_makemigrations_update_merges_the_backfills_into_the_latest_migration(
    project: Project,
) -> None:
    """``--update`` (Django's): timestamp's fields and their backfills join the unapplied 0002.

    0001 is applied and the table has rows; 0002 (softdelete's field) is not
    applied yet when timestamp is added with ``--update``.
    """
    before = _populated(project)
    project.django("makemigrations", "library", "--noinput", plugins={"softdelete": {}})
    first, second = project.migrations()
    out = project.django(
        "makemigrations", "library", "--update", "--noinput", plugins=TIMESTAMP_AND_SOFTDELETE
    )
    assert f"Deleted library/migrations/{second}" in out
    assert "Backfill created_at on book with the value of published" in out
    assert "Backfill updated_at on book with now" in out
    assert project.migrations()[0] == first and len(project.migrations()) == 2
    merged = project.migrations()[1]
    assert merged != second
    source = (project.folder / "library" / "migrations" / merged).read_text()
    assert source.count("operations.BackfillField(") == 2
    project.django("migrate", "--noinput", plugins=TIMESTAMP_AND_SOFTDELETE)
    _check_backfilled(project.table(), before)
