"""docs/quickstart-django.md, followed top to bottom in a fresh folder, as a newcomer would.

Every block of the page, in order: each ``bash`` line runs in a shell in the
folder (``django-admin`` and ``python`` are this virtualenv's; ``pip
install`` is what made it, so it is only checked to name an extra that
exists); a fragment whose first line names a file is that file (``: add at
the end`` appends to it); the ``python manage.py shell`` fragment is fed to
the project's shell, and what it prints must be the page's next block.
``runserver`` is started on a free port of the loopback (the page's 8000
may be taken here) and must serve the admin's login page; then what the page
asks the reader to do in the admin (log in as ``ann``, add a post, change
it, open its *History*) is done with Django's test client in the project,
through its middleware, and the history must show both changes by ``ann``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from _doc_blocks import ROOT, Block, blocks

PAGE = "docs/quickstart-django.md"
POLLS = 150  # tries of 0.1 s for runserver to answer: a bound on the work, not a timing check

# What the reader does in the admin (section 5), with the test client.
ADMIN_VISIT = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from earnorm_aop.integrations.django.models import AuditRecord
from blog.models import Post

setup_test_environment()
client = Client()
client.force_login(get_user_model().objects.get(username="ann"))
added = client.post("/admin/blog/post/add/", {"title": "Hello", "body": ""})
post = Post.objects.get(title="Hello")
changed = client.post(f"/admin/blog/post/{post.pk}/change/", {"title": "Hello, world", "body": ""})
history = client.get(f"/admin/blog/post/{post.pk}/history/")
records = AuditRecord.objects.filter(object_id=str(post.pk)).order_by("id")
print(json.dumps({
    "statuses": [added.status_code, changed.status_code, history.status_code],
    "history": history.content.decode(),
    "records": [[r.action, r.actor, bool(r.request_id), r.changes.get("title")] for r in records],
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reader:
    """Follows the page in ``folder``: a shell's environment with this virtualenv first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for name in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "EARNORM_AOP_CONTEXT"):
            self.env.pop(name, None)
        self.printed: str | None = None

    def run(self, command: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            command,
            shell=True,
            cwd=self.folder,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def bash(self, block: Block) -> None:
        for line in block.code.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.startswith("pip install"):
                self.check_extras(line)
            elif line.split()[-1] == "runserver":
                self.runserver(line)
                self.visit_the_admin()
            else:
                self.run(line)

    def check_extras(self, line: str) -> None:
        (spec,) = [w for w in shlex.split(line) if w.startswith("earnorm-aop[")]
        extras = spec.removeprefix("earnorm-aop[").removesuffix("]").split(",")
        declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert set(extras) <= set(declared["optional-dependencies"]), spec

    def runserver(self, line: str) -> None:
        port = _free_port()
        server = subprocess.Popen(
            [*shlex.split(line), f"127.0.0.1:{port}", "--noreload"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            page = None
            for _ in range(POLLS):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as r:
                        page = (r.status, r.read().decode())
                        break
                except (urllib.error.URLError, ConnectionError):
                    assert server.poll() is None, "runserver exited"
                    time.sleep(0.1)
            assert page is not None, f"runserver did not answer after {POLLS} tries"
            assert page[0] == 200 and "Django administration" in page[1]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)

    def visit_the_admin(self) -> None:
        printed = self.run("python manage.py shell", ADMIN_VISIT)
        # Django 5.2+'s shell first says what it imported for you: the JSON is the last line.
        seen: dict[str, Any] = json.loads(printed.strip().splitlines()[-1])
        assert seen["statuses"] == [302, 302, 200], seen["statuses"]
        assert seen["records"] == [
            ["create", "ann", True, [None, "Hello"]],
            ["update", "ann", True, ["Hello", "Hello, world"]],
        ]
        history = seen["history"]
        assert history.count('<td class="audit-actor">ann</td>') == 2, history
        assert "Hello, world" in history

    def fragment(self, block: Block) -> None:
        first = block.code.partition("\n")[0]
        where = first.removeprefix("# ").strip()
        if where == "python manage.py shell":
            self.printed = self.run(where, block.code)
            return
        name, _, how = where.partition(":")
        path = self.folder / name
        if how.strip() == "add at the end":
            path.write_text(path.read_text() + "\n" + block.code)
        else:
            assert not how, where
            path.write_text(block.code)


@pytest.mark.ci_only("the quickstart from startproject, each command a process of its own")
def test_the_quickstart_runs_top_to_bottom(tmp_path: Path) -> None:
    reader = Reader(tmp_path)
    kinds = []
    for block in blocks(PAGE, python_only=False):
        kinds.append(block.info)
        if block.info == "bash":
            reader.bash(block)
        elif block.fragment:
            reader.fragment(block)
        elif block.info == "":  # what the shell printed
            assert reader.printed is not None, block.where
            assert reader.printed.strip().splitlines()[-len(block.code.splitlines()) :] == (
                block.code.strip().splitlines()
            )
            reader.printed = None
        else:
            raise AssertionError(f"{block.where}: a block the reader cannot follow")
    assert kinds.count("bash") == 3 and "" in kinds and reader.printed is None
    assert (tmp_path / "blog" / "migrations" / "0001_initial.py").read_text().count(
        "deleted_at"
    ) == 1
