"""Adding plugins to a SQLAlchemy model whose table has rows, with Alembic's own commands.

The ``notes`` project (``projects/notes``: an ``env.py`` configured as
docs/migrations.md says, and a ``Note`` model whose plugins come from
``NOTES_PLUGINS``) is laid in a temporary folder by ``alembic init``.  Its
table gets rows; then ``Note`` names timestamp (``created_at`` from the
existing ``published``), softdelete and audit (``table`` sink), and
``alembic revision --autogenerate`` must write one revision that applies to
the populated table: the columns, their backfill, the ``deleted_at`` index and
the audit table; ``downgrade`` takes them away with the rows intact; removing
the plugins gives the revision that drops them.  A revision written by hand
with ``op.enable_plugin`` / ``op.disable_plugin`` does the same.  Every command
runs in its own process, on SQLite and on the private PostgreSQL cluster.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _migration_journeys import PUBLISHED, Journey, check_stamped, postgres_database

pytest.importorskip("alembic")

# Each step a command in a process of its own: a minute or more a test, so the
# default run leaves them to CI (tests/_ci_only.py); test_sqlalchemy_alembic_ops.py runs the
# operations in this process by default.
pytestmark = pytest.mark.ci_only("a migration journey, each command a process of its own")

PROJECT = Path(__file__).parent / "projects" / "notes"
PLUGINS = {
    "timestamp": {"backfill_created_from": "published"},
    "softdelete": {},
    "audit": {"sink": "table"},
}
OWN = {"created_at", "updated_at", "deleted_at"}

READ = """
import json, os
import sqlalchemy as sa
engine = sa.create_engine(os.environ["NOTES_DB_URL"])
inspector = sa.inspect(engine)
tables = sorted(inspector.get_table_names())
columns = {c["name"]: c["nullable"] for c in inspector.get_columns("note")}
indexes = sorted(i["name"] for i in inspector.get_indexes("note"))
with engine.connect() as conn:
    result = conn.execute(sa.text("SELECT * FROM note ORDER BY id"))
    rows = [dict(r._mapping) for r in result]
    audit = []
    if "earnorm_aop_audit" in tables:
        found = conn.execute(sa.text("SELECT action FROM earnorm_aop_audit ORDER BY pk"))
        audit = [r[0] for r in found]
engine.dispose()
state = {"tables": tables, "columns": columns, "indexes": indexes, "rows": rows, "audit": audit}
print(json.dumps(state, default=str))
"""

ADD_ROWS = """
import json, os
from datetime import datetime
import sqlalchemy as sa
engine = sa.create_engine(os.environ["NOTES_DB_URL"])
note = sa.table("note", sa.column("title"), sa.column("published", sa.DateTime(timezone=True)))
with engine.begin() as conn:
    for i, published in enumerate(json.loads(%r)):
        when = published and datetime.fromisoformat(published)
        conn.execute(sa.insert(note).values(title=f"note {i}", published=when))
engine.dispose()
print(json.dumps({"ok": True}))
"""

USE_PLUGINS = """
import json, os
import sqlalchemy as sa
from sqlalchemy.orm import Session
from models import Note
engine = sa.create_engine(os.environ["NOTES_DB_URL"])
with Session(engine) as session:
    first, *_, last = session.scalars(sa.select(Note).order_by(Note.id)).all()
    first.title = "renamed"
    session.commit()
    session.delete(last)
    session.commit()
    visible = sorted(session.scalars(sa.select(Note.title)))
    every = len(session.scalars(Note.with_deleted()).all())
    stamped = first.updated_at > first.created_at
engine.dispose()
print(json.dumps({"visible": visible, "all": every, "stamped": stamped}))
"""


class Project(Journey):
    def __init__(self, folder: Path, url: str) -> None:
        path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
        super().__init__(folder, {"NOTES_DB_URL": url, "PYTHONPATH": path}, "NOTES_PLUGINS")

    def alembic(self, *args: str, plugins: dict[str, Any] | None = None) -> str:
        done = self.run("alembic", *args, plugins=plugins)
        return done.stdout + done.stderr

    def state(self) -> dict[str, Any]:
        return self.python(READ)

    def revision(self, message: str, plugins: dict[str, Any] | None = None) -> str:
        """``revision --autogenerate``; the text of the revision it wrote."""
        before = set(self.versions())
        self.alembic("revision", "--autogenerate", "-m", message, plugins=plugins)
        (new,) = set(self.versions()) - before
        return new.read_text()

    def versions(self) -> list[Path]:
        return sorted((self.folder / "migrations" / "versions").glob("*.py"))


def _postgres_url() -> str:
    server, name = postgres_database("notes")
    return f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    url = (
        f"sqlite:///{tmp_path / 'notes.sqlite3'}" if request.param == "sqlite" else _postgres_url()
    )
    made = Project(tmp_path, url)
    made.alembic("init", "migrations")
    shutil.copy(PROJECT / "env.py", tmp_path / "migrations" / "env.py")
    shutil.copy(PROJECT / "models.py", tmp_path / "models.py")
    made.revision("notes")
    made.alembic("upgrade", "head")
    assert made.python(ADD_ROWS % json.dumps(PUBLISHED)) == {"ok": True}
    yield made


def _check_backfilled(state: dict[str, Any], titles: list[str]) -> datetime:
    assert set(state["columns"]) >= OWN
    assert all(state["columns"][name] for name in OWN)  # nullable
    assert "ix_note_deleted_at" in state["indexes"]
    rows = state["rows"]
    assert [r["title"] for r in rows] == titles
    return check_stamped(rows)


def test_autogenerate_adds_and_removes_plugins_on_a_populated_table(project: Project) -> None:
    titles = [r["title"] for r in project.state()["rows"]]
    assert titles == ["note 0", "note 1", "note 2"]

    started = datetime.now(UTC)
    text = project.revision("plugins", plugins=PLUGINS)
    assert "op.backfill_column('note', 'created_at', from_column='published')" in text
    assert "op.backfill_column('note', 'updated_at')" in text
    assert "backfill_column('note', 'deleted_at'" not in text
    assert "ix_note_deleted_at" in text
    assert "op.create_table('earnorm_aop_audit'" in text
    assert "sa.DateTime(timezone=True)" in text
    assert "earnorm_aop.integrations.sqlalchemy" not in text  # nothing but sqlalchemy types

    project.alembic("upgrade", "head", plugins=PLUGINS)
    state = project.state()
    now = _check_backfilled(state, titles)
    assert started <= now <= datetime.now(UTC)
    assert "earnorm_aop_audit" in state["tables"]
    assert "No new upgrade operations detected" in project.alembic("check", plugins=PLUGINS)

    # downgrade: the columns, the index and the audit table go; the rows stay
    project.alembic("downgrade", "-1", plugins=PLUGINS)
    state = project.state()
    assert set(state["columns"]) == {"id", "title", "published"}
    assert "earnorm_aop_audit" not in state["tables"]
    assert [r["title"] for r in state["rows"]] == titles
    project.alembic("upgrade", "head", plugins=PLUGINS)
    _check_backfilled(project.state(), titles)

    used = project.python(USE_PLUGINS, plugins=PLUGINS)
    assert used == {"visible": ["note 1", "renamed"], "all": 3, "stamped": True}
    assert project.state()["audit"] == ["update", "soft_delete"]

    # without the plugins: the revision drops them, every row stays; and it reverses
    text = project.revision("no plugins")
    assert "op.drop_table('earnorm_aop_audit')" in text
    project.alembic("upgrade", "head")
    state = project.state()
    assert set(state["columns"]) == {"id", "title", "published"}
    assert [r["title"] for r in state["rows"]] == ["renamed", "note 1", "note 2"]
    project.alembic("downgrade", "-1", plugins=PLUGINS)
    state = project.state()
    assert set(state["columns"]) >= OWN and "ix_note_deleted_at" in state["indexes"]
    assert len(state["rows"]) == 3


HAND_WRITTEN = '''"""timestamp and softdelete by hand"""
from alembic import op

import earnorm_aop.integrations.alembic  # noqa: F401 - registers the operations

revision = "hand"
down_revision = {down!r}


def upgrade():
    op.enable_plugin("note", "timestamp", backfill_created_from="published")
    op.enable_plugin("note", "softdelete")


def downgrade():
    op.disable_plugin("note", "softdelete")
    op.disable_plugin("note", "timestamp", backfill_created_from="published")
'''


def test_enable_and_disable_plugin_operations_in_a_revision_by_hand(project: Project) -> None:
    titles = [r["title"] for r in project.state()["rows"]]
    down = project.versions()[0].name.split("_")[0]
    (project.folder / "migrations" / "versions" / "hand.py").write_text(
        HAND_WRITTEN.format(down=down)
    )
    plugins = {k: v for k, v in PLUGINS.items() if k != "audit"}
    project.alembic("upgrade", "head", plugins=plugins)
    _check_backfilled(project.state(), titles)
    # what the model says and what the operations did are the same schema
    assert "No new upgrade operations detected" in project.alembic("check", plugins=plugins)
    project.alembic("downgrade", "-1", plugins=plugins)
    state = project.state()
    assert set(state["columns"]) == {"id", "title", "published"}
    assert [r["title"] for r in state["rows"]] == titles
