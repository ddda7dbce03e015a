"""Contributed members are typed for mypy --strict and pyright, and a misspelt one is an error.

The examples' models (``examples/blog/models.py`` on Django, ``Note`` of
``examples/sqlalchemy_quickstart.py``) add the typing mixins of docs/typing.md
to their bases.  A module using them, with ``reveal_type`` and one typo per
ORM, is checked here with both checkers under the examples' own
configuration (``examples/mypy.ini``: django-stubs' plugin;
``examples/pyrightconfig.json``), as ``scripts/test.py`` checks ``examples/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

USES = """\
from __future__ import annotations

from datetime import datetime

from blog.models import Article
from sqlalchemy_quickstart import Note


def django_side(article: Article) -> None:
    reveal_type(Article.with_deleted().filter(title="x"))
    reveal_type(article.created_at)
    reveal_type(article.deleted_at)
    reveal_type(Article.objects.all())
    article.restore()
    article.restor()  # typo: line 15


def sqlalchemy_side(note: Note) -> None:
    reveal_type(Note.with_deleted().filter(Note.deleted_at.is_(None)))
    reveal_type(note.updated_at)
    when: datetime | None = note.deleted_at
    note.hard_delete()
    note.hard_delet()  # typo: line 23
    print(when)
"""


@pytest.fixture(scope="module")
def uses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module above, beside a copy of the examples (the checkers' configuration too)."""
    folder = tmp_path_factory.mktemp("typed") / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "uses.py").write_text(USES)
    return folder


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: errors were found
    return done.stdout + done.stderr


@pytest.mark.ci_only("runs mypy --strict with django-stubs over a sample module (near a minute)")
def test_mypy_strict_types_the_members_and_reports_the_typos(uses: Path) -> None:
    out = _run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "uses.py"], cwd=uses)
    revealed = dict(re.findall(r"uses\.py:(\d+): note: Revealed type is \"(.*)\"", out))
    assert revealed == {
        "10": "django.db.models.query.QuerySet[blog.models.Article, blog.models.Article]",
        "11": "datetime.datetime | None",
        "12": "datetime.datetime | None",
        "13": "django.db.models.query.QuerySet[blog.models.Article, blog.models.Article]",
        "19": "sqlalchemy.sql.selectable.Select[sqlalchemy_quickstart.Note]",
        "20": "datetime.datetime | None",
    }
    errors = re.findall(r"uses\.py:(\d+): error: (.*)", out)
    assert errors == [
        ("15", '"Article" has no attribute "restor"  [attr-defined]'),
        ("23", '"Note" has no attribute "hard_delet"  [attr-defined]'),
    ], out


@pytest.mark.ci_only("runs pyright over a sample module")
def test_pyright_types_the_members_and_reports_the_typos(uses: Path) -> None:
    out = _run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--project",
            "pyrightconfig.json",
            "--pythonpath",
            sys.executable,
            "uses.py",
        ],
        cwd=uses,
    )
    revealed = dict(re.findall(r"uses\.py:(\d+):\d+ - information: Type of .* is \"(.*)\"", out))
    assert revealed == {
        "10": "QuerySet[Article, Article]",
        "11": "datetime | None",
        "12": "datetime | None",
        "13": "QuerySet[Article, Article]",
        "19": "Select[Note]",
        "20": "datetime | None",
    }, out
    errors = re.findall(r"uses\.py:(\d+):\d+ - error: (.*)", out)
    assert errors == [
        ("15", 'Cannot access attribute "restor" for class "Article"'),
        ("23", 'Cannot access attribute "hard_delet" for class "Note"'),
    ], out
