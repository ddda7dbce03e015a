"""Two processes creating the same titles at once on PostgreSQL never share a slug.

A private PostgreSQL cluster (earnorm-aop's kit starts it, and removes it at
exit; without PostgreSQL the test is skipped, or fails under ``CI=true``)
holds one table whose inserts take 50 ms (a trigger); two Python processes
wait for the same signal, then each creates the same titles.  Each title must end with two
different slugs: the plugin's advisory lock makes the second process wait for
the first one's commit and see its slug.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TITLES = [f"Breaking News {i}" for i in range(8)]

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import django
    from django.conf import settings

    host, port, user, name, action, signal = sys.argv[1:7]
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "HOST": host,
                               "PORT": port, "USER": user, "NAME": name}},
        INSTALLED_APPS=["earnorm_aop.integrations.django", "earnorm_aop.testing"],
        USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.db import connection, models
    from earnorm_aop import with_plugins

    @with_plugins("slug")
    class Story(models.Model):
        title = models.CharField(max_length=100)

        class Meta:
            app_label = "earnorm_aop_testing"

    if action == "create":
        with connection.schema_editor() as editor:
            editor.create_model(Story)
        with connection.cursor() as cursor:
            # Each insert takes 50 ms, so the two processes' saves overlap: without the
            # plugin's lock both would find a title's slug free and both would take it.
            cursor.execute(
                "CREATE FUNCTION slow_insert() RETURNS trigger AS $$ "
                "BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER slow BEFORE INSERT ON earnorm_aop_testing_story "
                "FOR EACH ROW EXECUTE FUNCTION slow_insert()"
            )
        sys.exit(0)
    Path(signal + "." + sys.argv[7]).write_text("ready")  # set up: say so, then wait
    while not Path(signal).exists():  # both processes start together
        time.sleep(0.001)
    for title in TITLES:
        Story.objects.create(title=title)
    """
).replace("TITLES", repr(TITLES))


def test_two_processes_creating_one_title_at_once_get_different_slugs(tmp_path: Path) -> None:
    pytest.importorskip("django")
    pytest.importorskip("psycopg")
    from earnorm_aop.testing import _postgres

    server = _postgres.shared()
    script = tmp_path / "stories.py"
    script.write_text(SCRIPT)
    signal = tmp_path / "go"
    args = [server.host, str(server.port), server.user, server.database]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    created = subprocess.run(
        [sys.executable, str(script), *args, "create", str(signal), "-"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), *args, "insert", str(signal), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(2)
    ]
    ready = [tmp_path / f"go.{n}" for n in range(2)]
    while not all(p.exists() for p in ready):  # bounded by the writers' own timeouts
        if any(w.poll() is not None for w in writers):
            break
        time.sleep(0.01)
    signal.write_text("go")
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err

    import psycopg

    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=server.database
    ) as conn:
        rows = conn.execute("SELECT title, slug FROM earnorm_aop_testing_story").fetchall()
    assert len(rows) == 2 * len(TITLES)
    slugs = [slug for _, slug in rows]
    assert len(set(slugs)) == len(slugs), sorted(slugs)
    for i, title in enumerate(TITLES):
        base = f"breaking-news-{i}"
        assert sorted(s for t, s in rows if t == title) == [base, f"{base}-2"]
