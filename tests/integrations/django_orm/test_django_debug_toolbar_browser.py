"""earnorm_aop's django-debug-toolbar panel in a real headless browser.

``projects/toolbar_server.py`` serves ``toolbar_urls`` (one page that creates,
edits and deletes a soft-deleted, audited ``store.Note``) behind the toolbar
with ``runserver`` on a free loopback port; Playwright drives Debian's chromium
(as the admin's browser test does), opens the toolbar's Plugins panel and reads
it: every woven call that ran plugins, in order, with its advice, its outcome
(the delete vetoed by softdelete) and the queries the plugins ran (audit's
INSERTs, softdelete's UPDATE), none of the model's own.  The screenshot is
kept in ``test-artifacts/debug-toolbar-plugins.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_django_admin_browser import ARTIFACTS, _free_port, page  # noqa: F401

HERE = Path(__file__).parent

pytest.importorskip("debug_toolbar", reason="django-debug-toolbar is in the test extra")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The page behind the toolbar, served on a free loopback port: its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "toolbar_settings",
        "PYTHONPATH": str(HERE / "projects"),
        "EARNORM_AOP_ADMIN_DB": str(tmp_path / "toolbar.sqlite3"),
    }
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "projects" / "toolbar_server.py"), str(port)],
        cwd=HERE / "projects",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.wait(timeout=30)
            raise AssertionError(f"the server did not start: {proc.stderr.read()}")  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # bounded: the server answers within a few tries
            try:
                with urllib.request.urlopen(f"{base}/__debug__/", timeout=5):
                    break
            except urllib.error.HTTPError:
                break  # it answers (404 for the bare prefix is an answer)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            raise AssertionError("the server never answered")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_plugins_panel_shows_each_woven_call_of_the_request(
    server: str,
    page: Any,  # noqa: F811
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{server}/work/")
    assert page.locator("h1").inner_text().startswith("Note ")
    toolbar_link = page.locator("#djdt-PluginsPanel a.PluginsPanel")
    subtitle = " ".join(toolbar_link.inner_text().split())
    assert subtitle == "Plugins 5 woven calls, 4 plugin queries"
    toolbar_link.click()
    table = page.locator("#PluginsPanel #earnorm-plugin-calls")
    table.wait_for()
    rows = table.locator("tbody tr.earnorm-call")
    calls = [
        (
            r.locator(".earnorm-call-name").inner_text(),
            r.locator(".earnorm-call-outcome").inner_text(),
        )
        for r in rows.all()
    ]
    # create (get_queryset for the manager, then the INSERT's save), edit, delete (vetoed: the
    # soft delete saves instead, a nested woven save of its own)
    assert calls == [
        ("Note.get_queryset", "ok"),
        ("Note.save", "ok"),
        ("Note.save", "ok"),
        ("Note.delete", "vetoed"),
        ("Note.save", "ok"),
    ]
    edit = rows.nth(2)
    advice = [" ".join(li.split()) for li in edit.locator(".earnorm-advice li").all_inner_texts()]
    assert [a.split(":")[0].strip() for a in advice] == [
        "around timestamp.stamp_save",
        "after lifecycle.changed",  # fires after_change, which audit listens to
        "after changes.remember_saved",
    ]
    queries = {
        (
            q.locator(".earnorm-query-advice").inner_text(),
            q.locator(".earnorm-query-sql").inner_text(),
        )
        for r in rows.all()
        for q in r.locator(".earnorm-queries li").all()
    }
    by_advice = sorted((a, sql.split()[0]) for a, sql in queries)
    # audit's row, written by its after_change handler inside lifecycle's advice
    assert by_advice.count(("lifecycle.changed", "INSERT")) >= 1
    assert ("softdelete.soft_delete", "UPDATE") in by_advice
    # the model's own INSERT and UPDATEs of store_note are not the plugins'
    assert not any('INSERT INTO "store_note"' in sql for _, sql in queries)
    assert "1 vetoed" in page.locator("#earnorm-plugins-summary").inner_text()
    shot = ARTIFACTS / "debug-toolbar-plugins.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
