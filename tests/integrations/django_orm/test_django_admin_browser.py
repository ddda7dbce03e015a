"""The admin pages of a soft-deleted, audited model in a real headless browser.

``projects/admin_live_server.py`` serves the admin of ``store.Note`` with
Django's ``runserver`` on a free loopback port (a file database of its own);
Playwright drives Debian's chromium (``/usr/bin/chromium``, installed by
``.ci/run``: Playwright's own browser download is not used): log in, filter
the deleted rows, restore one, delete one permanently (through its
confirmation page), open a row's audit history.  Screenshots of
the pages are kept in ``test-artifacts/`` at the top of the repository.

Without chromium or Playwright the test skips, saying which is missing;
under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from earnorm_aop.testing._ci import ci

HERE = Path(__file__).parent
ARTIFACTS = HERE.parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("EARNORM_AOP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing(why: str) -> None:
    if ci():
        pytest.fail(f"{why} (CI=true: .ci/run installs it; the browser test must run)")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """The admin served on a free loopback port: (base URL, note title -> primary key)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "admin_live_settings",
        "PYTHONPATH": str(HERE / "projects"),
        "EARNORM_AOP_ADMIN_DB": str(tmp_path / "admin.sqlite3"),
    }
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "projects" / "admin_live_server.py"), str(port)],
        cwd=HERE / "projects",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=30)
            raise AssertionError(f"the admin server did not start: {proc.stderr.read()}")  # type: ignore[union-attr]
        pks = json.loads(line)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # bounded: the server answers within a few tries
            try:
                with urllib.request.urlopen(f"{base}/admin/login/", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            raise AssertionError("the admin server never answered on /admin/login/")
        yield base, pks
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 800})
        finally:
            browser.close()


def test_filter_restore_and_history_in_a_browser(
    server: tuple[str, dict[str, int]], page: Any
) -> None:
    base, pks = server
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{base}/admin/login/?next=/admin/store/note/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/store/note/")
    rows = page.locator("#result_list tbody tr")
    assert sorted(rows.locator("th, td.field-title").all_inner_texts()) == ["Alpha v2", "Gamma"]

    # The filter shows the deleted rows, each marked.
    page.get_by_role("link", name="Deleted only").click()
    page.wait_for_url("**/admin/store/note/?deleted=yes")
    assert sorted(rows.locator("th, td.field-title").all_inner_texts()) == ["Beta", "Delta"]
    assert page.locator(".earnorm-deleted").count() == 2
    page.screenshot(path=str(ARTIFACTS / "admin-deleted-rows.png"), full_page=True)

    # Restore Beta with the action.
    rows.filter(has_text="Beta").locator("input.action-select").check()
    page.select_option("select[name=action]", "restore_selected")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "Restored 1 of 1 selected row(s)." in page.locator(".messagelist").inner_text()
    assert rows.locator("th, td.field-title").all_inner_texts() == ["Delta"]
    page.screenshot(path=str(ARTIFACTS / "admin-after-restore.png"), full_page=True)

    # Delete Delta permanently: a confirmation page first.
    rows.filter(has_text="Delta").locator("input.action-select").check()
    page.select_option("select[name=action]", "hard_delete_selected")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert page.locator("#hard-delete-objects li").all_inner_texts() == ["Delta"]
    page.screenshot(path=str(ARTIFACTS / "admin-hard-delete-confirmation.png"), full_page=True)
    page.click("input[type=submit][value='Yes, delete permanently']")
    page.wait_for_load_state()
    assert "Permanently deleted 1 row(s)." in page.locator(".messagelist").inner_text()
    assert rows.count() == 0

    # Alpha's change form links to its audit history.
    page.get_by_role("link", name="Not deleted").click()
    page.get_by_role("link", name="Alpha v2").click()
    page.wait_for_url(f"**/admin/store/note/{pks['Alpha']}/change/**")
    page.get_by_role("link", name="History").click()
    page.wait_for_url(f"**/admin/store/note/{pks['Alpha']}/history/**")
    records = page.locator("#audit-records tbody tr")
    assert records.count() == 2
    newest = records.nth(0)
    assert newest.locator(".audit-actor").inner_text() == "bob"
    assert newest.locator(".audit-action").inner_text() == "update"
    assert "title: Alpha → Alpha v2" in " ".join(newest.inner_text().split())
    assert records.nth(1).locator(".audit-actor").inner_text() == "alice"
    shot = ARTIFACTS / "admin-audit-history.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
